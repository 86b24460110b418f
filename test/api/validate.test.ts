import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../app/api/api-error.ts';
import { apiEventNames } from '../../app/api/event-names.ts';
import { requestSchemas, validateRequest } from '../../app/api/validate.ts';

const request = {
  prompt: 'a lighthouse at dusk',
  negativePrompt: '',
  recipe: { spec: { method: 'output-average', members: [{ modelId: 'a' }, { modelId: 'b' }], weights: [1, 2] } },
  sampler: 'ddim',
  steps: 20,
  guidance: 7.5,
  seed: 42,
  width: 128,
  height: 128,
  batchCount: 1,
};

function rejects(method: string, value: unknown, code: string, pattern: RegExp): void {
  assert.throws(
    () => validateRequest(method, value),
    (error: unknown) => error instanceof ApiError && error.code === code && pattern.test(error.message),
  );
}

test('a well-formed generation request passes unchanged', () => {
  assert.deepEqual(validateRequest('generation.enqueue', request), request);
  assert.deepEqual(validateRequest('generation.enqueue', { ...request, seed: null, recipe: { recipeId: 'r1' } }).seed, null);
});

test('bad requests get a typed bad-request error naming the field', () => {
  rejects('generation.enqueue', { ...request, steps: 0 }, 'bad-request', /request\.steps: expected an integer in \[1, 500\], got 0/);
  rejects('generation.enqueue', { ...request, width: 100 }, 'bad-request', /request\.width: width must be a multiple of 8/);
  rejects('generation.enqueue', { ...request, sampler: 'heun' }, 'bad-request', /request\.sampler: expected one of 'ddim'/);
  rejects('generation.enqueue', { ...request, extra: 1 }, 'bad-request', /unknown field 'extra'/);
  rejects('generation.enqueue', { ...request, prompt: undefined }, 'bad-request', /request\.prompt: required/);
  rejects('generation.enqueue', { ...request, recipe: { recipeId: 'r', spec: request.recipe.spec } }, 'bad-request', /exactly one of recipeId, spec/);
  rejects('generation.enqueue', 'generate!', 'bad-request', /request: expected an object, got "generate!"/);
  rejects('generation.enqueue', { ...request, seed: 1.5 }, 'bad-request', /request\.seed: expected an integer/);
  rejects('models.get', { id: 'a\u0000b' }, 'bad-request', /control characters/);
});

test("the ensemble's own rules apply to recipe specs", () => {
  const spec = (method: string, members: number) => ({ method, members: Array.from({ length: members }, (_, i) => ({ modelId: `m${i}` })) });
  rejects('recipes.save', { name: 'x', spec: spec('single', 2) }, 'bad-request', /request\.spec: The single method takes exactly 1 model/);
  rejects('recipes.save', { name: 'x', spec: spec('afa', 7) }, 'bad-request', /request\.spec\.members: expected an array of 1–6 items/);
  rejects('recipes.save', { name: 'x', spec: { ...spec('merge', 2), members: [{ modelId: 'a' }, { modelId: 'a' }] } }, 'bad-request', /appears twice/);
  assert.equal(validateRequest('recipes.save', { name: ' Pair ', spec: spec('afa', 3) }).name, 'Pair');
});

test('methods without a request accept nothing or an empty object', () => {
  assert.equal(validateRequest('models.list', undefined), undefined);
  assert.equal(validateRequest('models.list', {}), undefined);
  rejects('models.list', { id: 'x' }, 'bad-request', /expected no request/);
});

test('an unknown method is a typed error, not a crash', () => {
  rejects('models.format', {}, 'unknown-method', /No API method 'models.format'/);
  rejects('__proto__', {}, 'unknown-method', /No API method/);
  rejects('toString', {}, 'unknown-method', /No API method/);
});

test('every method name is service.method and no event name collides with a method', () => {
  const methods = Object.keys(requestSchemas);
  for (const name of [...methods, ...apiEventNames]) assert.match(name, /^[a-z]+\.[a-zA-Z]+$/);
  for (const name of apiEventNames) assert.ok(!methods.includes(name));
  assert.ok(apiEventNames.every((name) => name.split('.')[1]!.startsWith('onDid')));
});

test("names of Object.prototype's members are unknown fields like any other", () => {
  for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    // JSON.parse makes '__proto__' an own key, as a request from the wire has it.
    const withKey = JSON.parse(`{"id": "m1", ${JSON.stringify(key)}: {"polluted": true}}`) as unknown;
    rejects('models.get', withKey, 'bad-request', new RegExp(`unknown field '${key}'`));
    rejects('generation.enqueue', { ...request, recipe: JSON.parse(`{"recipeId": "r", ${JSON.stringify(key)}: 1}`) as unknown }, 'bad-request', new RegExp(`unknown field '${key}'`));
  }
});
