import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';
import { int64, type Tensor } from '../../app/tensor/tensor.ts';
import { compileComponent } from '../../app/models/compile-component.ts';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseClipTextConfig } from '../../app/models/clip-text-config.ts';
import { goldenDir } from './golden-paths.ts';
import { compiledTextEncoder } from './compiled-models.ts';
import { maxAbsDifference } from './tensor-compare.ts';

const folder = join(goldenDir, 'models', 'afa', 'text_encoder');

test('the CLIP text encoder reproduces transformers (last_hidden_state and legacy pooled output)', async () => {
  const compiled = await compiledTextEncoder(folder);
  const inputIds = SafetensorsFile.open(join(goldenDir, 'cases', 'text_encoder', 'inputs.safetensors')).read('input_ids');
  const expected = SafetensorsFile.open(join(goldenDir, 'cases', 'text_encoder', 'outputs.safetensors'));
  const result = await compiled.session('text_encoder').run({ input_ids: inputIds });
  assert.ok(maxAbsDifference(result.last_hidden_state, expected.read('expert1_last_hidden_state')) <= 1e-5);
  assert.ok(maxAbsDifference(result.pooler_output, expected.read('expert1_pooler_output')) <= 1e-5);
});

function row(hidden: Tensor, batch: number, position: number): number[] {
  const [, length, width] = hidden.shape;
  const data = hidden.data as Float32Array;
  return [...data.subarray((batch * length + position) * width, (batch * length + position + 1) * width)];
}

test('with a non-legacy eos_token_id the pooled output is the first position holding that id', async () => {
  const component = openDiffusersComponent(folder, parseClipTextConfig);
  // With eos_token_id 20 rows pool where 20 first appears (2 and 4), not at the highest id (999 at 3 and 5).
  const ids = new Array<number>(2 * 77).fill(999);
  ids.splice(0, 3, 998, 10, 20);
  ids.splice(77, 5, 998, 11, 22, 33, 20);
  const dir = mkdtempSync(join(tmpdir(), 'clip-eos-'));
  try {
    const compiled = await compileComponent({ kind: 'text-encoder', config: { ...component.config, eos_token_id: 20 }, weights: component.weights }, dir);
    const result = await compiled.session('text_encoder').run({ input_ids: int64([2, 77], ids) });
    assert.deepEqual([...result.pooler_output.data.subarray(0, 32)], row(result.last_hidden_state, 0, 2));
    assert.deepEqual([...result.pooler_output.data.subarray(32, 64)], row(result.last_hidden_state, 1, 4));
    await compiled.release();
  } finally {
    component.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
