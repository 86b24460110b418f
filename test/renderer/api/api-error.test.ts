// The API's request checks name field paths; the UI shows the field's label in their place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeError, inUserWords } from '../../../renderer/api/api-error.ts';

test('request field paths become the labels the screens use', () => {
  assert.equal(inUserWords('request.width: expected an integer in [64, 2048], got 4000.'), 'Width: must be an integer in [64, 2048], got 4000.');
  assert.equal(inUserWords('request.recipe.spec.weights[1]: expected a number in [0, 1000], got -1.'), 'Weights: must be a number in [0, 1000], got -1.');
  assert.equal(inUserWords('There is no model x.'), 'There is no model x.');
  assert.equal(describeError({ name: 'ApiError', code: 'bad-request', message: 'request.steps: expected an integer in [1, 500], got 0.' }).message, 'Steps: must be an integer in [1, 500], got 0.');
});
