import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';
import { unetTimestep } from '../../app/models/unet-timestep.ts';
import { runUnetLockStep, type UnetLayerSessions } from '../../app/models/unet-lock-step.ts';
import { compileComponent, unetPointModelName } from '../../app/models/compile-component.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { SyntheticWeights } from '../../app/models/synthetic-weights.ts';
import { unetLayout } from '../../app/models/unet-layout.ts';
import type { CompiledComponent } from '../../app/models/compile-component.ts';
import { goldenDir, goldenJson } from './golden-paths.ts';
import { compiledUnet, unetConfigOf } from './compiled-models.ts';
import { allFinite, maxAbsDifference, randomTensor } from './tensor-compare.ts';

const folder = join(goldenDir, 'models', 'afa', 'unet');
const inputs = () => SafetensorsFile.open(join(goldenDir, 'cases', 'unet', 'inputs.safetensors'));

function layerSessions(compiled: CompiledComponent): UnetLayerSessions {
  return {
    timeEmbedding: compiled.session('time_embedding'),
    points: unetLayout(unetConfigOf(folder)).map((point) => compiled.session(unetPointModelName(point.index))),
  };
}

test('the whole U-Net graph reproduces diffusers for a 0-d and a per-row int64 timestep', async () => {
  const compiled = await compiledUnet(folder, 'whole');
  const file = inputs();
  const outputs = SafetensorsFile.open(join(goldenDir, 'cases', 'unet', 'outputs.safetensors'));
  const sample = file.read('sample');
  for (const [timestep, expected] of [['timestep_t999', 'expert1_t999'], ['timestep_tbatch', 'expert1_tbatch']]) {
    const result = await compiled.session('unet').run({
      sample,
      timestep: unetTimestep(file.read(timestep), 2),
      encoder_hidden_states: file.read('encoder_hidden_states'),
    });
    const error = maxAbsDifference(result.noise_pred, outputs.read(expected));
    assert.ok(error <= 2e-5, `${expected}: max |error| ${error} > 2e-5`);
  }
});

test('running the layer graphs one after another equals the whole graph bit for bit (tiny U-Net)', async () => {
  const [whole, layers] = [await compiledUnet(folder, 'whole'), await compiledUnet(folder, 'layers')];
  const file = inputs();
  const sample = file.read('sample') as never;
  const timestep = unetTimestep(file.read('timestep_tbatch'), 2);
  const encoderHiddenStates = file.read('encoder_hidden_states') as never;
  const expected = (await whole.session('unet').run({ sample, timestep, encoder_hidden_states: encoderHiddenStates })).noise_pred;
  const actual = await runUnetLockStep(layerSessions(layers), unetConfigOf(folder), { sample, timestep, encoderHiddenStates });
  assert.equal(maxAbsDifference(actual, expected), 0);
});

test('a non-square 24×16 latent runs through both shapes with matching results', async () => {
  const [whole, layers] = [await compiledUnet(folder, 'whole'), await compiledUnet(folder, 'layers')];
  const sample = randomTensor([2, 4, 24, 16], 3);
  const encoderHiddenStates = randomTensor([2, 77, 32], 5);
  const timestep = unetTimestep(321, 2);
  const expected = (await whole.session('unet').run({ sample, timestep, encoder_hidden_states: encoderHiddenStates })).noise_pred;
  assert.deepEqual(expected.shape, [2, 4, 24, 16]);
  assert.ok(allFinite(expected));
  const features: number[][] = [];
  const actual = await runUnetLockStep(layerSessions(layers), unetConfigOf(folder), { sample, timestep, encoderHiddenStates }, {
    onPoint: (_, feature) => features.push([...feature.shape]),
  });
  assert.equal(maxAbsDifference(actual, expected), 0);
  // The deepest points work on 3×2 features.
  assert.deepEqual(features[12], [2, 64, 3, 2]);
});

test('latents not divisible by 8 (72×104 px → 9×13) run as diffusers does: upsamplers take the skip’s size, both shapes agree', async () => {
  const [whole, layers] = [await compiledUnet(folder, 'whole'), await compiledUnet(folder, 'layers')];
  const sample = randomTensor([1, 4, 9, 13], 7);
  const encoderHiddenStates = randomTensor([1, 77, 32], 8);
  const timestep = unetTimestep(500, 1);
  const expected = (await whole.session('unet').run({ sample, timestep, encoder_hidden_states: encoderHiddenStates })).noise_pred;
  assert.deepEqual(expected.shape, [1, 4, 9, 13]);
  assert.ok(allFinite(expected));
  const features: number[][] = [];
  const actual = await runUnetLockStep(layerSessions(layers), unetConfigOf(folder), { sample, timestep, encoderHiddenStates }, {
    onPoint: (_, feature) => features.push([...feature.shape].slice(2)),
  });
  assert.equal(maxAbsDifference(actual, expected), 0);
  // Down: 9×13 → ceil halves 5×7 → 3×4 → 2×2; the upsamplers go back to exactly those sizes (doubling
  // would give 4×4, which does not concatenate with the 3×4 skip).
  assert.deepEqual(features[12], [2, 2]);
  const upsampled = unetLayout(unetConfigOf(folder)).filter((point) => point.upsample).map((point) => features[point.index]);
  assert.deepEqual(upsampled, [[3, 4], [5, 7], [9, 13]]);
});

test('float timesteps reach the graph as diffusers rounds them (.float())', () => {
  const fromFloat64 = unetTimestep({ dtype: 'float64', shape: [], data: Float64Array.of(946.4210526315789) }, 2);
  assert.deepEqual([...fromFloat64.data], [Math.fround(946.4210526315789), Math.fround(946.4210526315789)]);
  const perRow = unetTimestep({ dtype: 'int64', shape: [2], data: BigInt64Array.of(10n, 999n) }, 2);
  assert.deepEqual([...perRow.data], [10, 999]);
  assert.throws(() => unetTimestep({ dtype: 'int64', shape: [3], data: BigInt64Array.of(1n, 2n, 3n) }, 2), /one value per batch row/);
});

test('another config of the family (3 levels, 1 layer per block, mid-size heads) builds and runs in both shapes', async () => {
  const config = parseUnetConfig({
    ...(goldenJson('models/afa/unet/config.json') as object),
    down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
    up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
    block_out_channels: [16, 32, 32],
    layers_per_block: 1,
    attention_head_dim: [2, 4, 4],
    cross_attention_dim: 24,
  });
  const dir = mkdtempSync(join(tmpdir(), 'unet-three-levels-'));
  try {
    const compiled = await compileComponent({ kind: 'unet', config, weights: new SyntheticWeights(), shapes: ['whole', 'layers'] }, dir);
    assert.equal(compiled.sessions.size, 1 + 1 + unetLayout(config).length);
    const sample = randomTensor([1, 4, 8, 12], 1);
    const encoderHiddenStates = randomTensor([1, 77, 24], 2);
    const timestep = unetTimestep(500, 1);
    const expected = (await compiled.session('unet').run({ sample, timestep, encoder_hidden_states: encoderHiddenStates })).noise_pred;
    const sessions = { timeEmbedding: compiled.session('time_embedding'), points: unetLayout(config).map((p) => compiled.session(unetPointModelName(p.index))) };
    const actual = await runUnetLockStep(sessions, config, { sample, timestep, encoderHiddenStates });
    assert.deepEqual(actual.shape, [1, 4, 8, 12]);
    assert.ok(allFinite(actual));
    assert.equal(maxAbsDifference(actual, expected), 0);
    await compiled.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
