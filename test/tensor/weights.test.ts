import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryWeights } from '../../app/tensor/weights.ts';
import { float32 } from '../../app/tensor/tensor.ts';
import { UserError } from '../../app/common/errors.ts';

test('MemoryWeights serves its tensors and names a missing one with a not-found UserError', () => {
  const weight = float32([2], [1, 2]);
  const weights = new MemoryWeights({ 'a.weight': weight }, 'test weights');
  assert.deepEqual(weights.names(), ['a.weight']);
  assert.equal(weights.has('a.weight'), true);
  assert.equal(weights.get('a.weight').read(), weight);
  assert.throws(
    () => weights.get('b.weight'),
    (error: unknown) => error instanceof UserError && error.code === 'not-found' && /'b\.weight' is missing from test weights/.test(error.message),
  );
});
