// The API repeats a few engine lists so that validating a request loads no engine code; keep them equal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendNames, ensembleMethods, samplerNames } from '../../app/api/validate.ts';
import { METHODS } from '../../app/ensemble/recipe.ts';
import { SAMPLERS } from '../../app/pipeline/generation-request.ts';
import { BACKENDS } from '../../app/runtime/onnx-runtime.ts';

test('the API offers exactly the engine’s methods, samplers and backends', () => {
  assert.deepEqual([...ensembleMethods], [...METHODS]);
  assert.deepEqual([...samplerNames], [...SAMPLERS]);
  assert.deepEqual([...backendNames], [...BACKENDS]);
});
