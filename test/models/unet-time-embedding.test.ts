import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';
import { Graph } from '../../app/onnx/graph.ts';
import { saveModel } from '../../app/onnx/serialize.ts';
import { ModelSession } from '../../app/runtime/onnx-runtime.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { timestepFrequencies, unetTimeProjection } from '../../app/models/unet-time-embedding.ts';
import { fmaFloat32, torchExpFloat32 } from '../../app/models/torch-expf.ts';
import { unetTimestep } from '../../app/models/unet-timestep.ts';
import { goldenDir, goldenJson } from './golden-paths.ts';
import { maxAbsDifference } from './tensor-compare.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

test('fmaFloat32 rounds a·b + c once, where rounding through a double would round twice', () => {
  // x·x = 1 + 2^-11 + 2^-24 exactly: halfway between two float32s (ulp 2^-23 at 1).
  const x = Math.fround(1 + 2 ** -12);
  const [down, up] = [1 + 2 ** -11, 1 + 2 ** -11 + 2 ** -23];
  assert.equal(fmaFloat32(x, x, 0), down); // a tie goes to the even neighbour
  // ±2^-80 vanishes when added in double precision, but decides the direction of the single rounding.
  assert.equal(fmaFloat32(x, x, 2 ** -80), up);
  assert.equal(fmaFloat32(x, x, -(2 ** -80)), down);
  assert.equal(Math.fround(x * x + 2 ** -80), down); // what naive double arithmetic would give
});

test('torch-style exp is SLEEF\'s, not the correctly rounded value, where they differ', () => {
  const frequencies = timestepFrequencies(32, 0);
  // exponent of index 7 for C0 = 32: SLEEF gives 0.017782796 where fl32(exp) is 0.017782794.
  assert.equal(frequencies[7], torchExpFloat32(Math.fround(Math.fround(Math.fround(-Math.log(10000)) * 7) / 16)));
  assert.notEqual(frequencies[7], Math.fround(Math.exp(Math.fround(Math.fround(Math.fround(-Math.log(10000)) * 7) / 16))));
  assert.equal(torchExpFloat32(0), 1);
  assert.equal(torchExpFloat32(-200), 0);
});

test('the sinusoidal projection matches diffusers within 1e-7 (one ulp of the largest value)', async () => {
  const config = parseUnetConfig(goldenJson('models/afa/unet/config.json'));
  const g = new Graph('time_proj');
  const timestep = g.input('timestep', 'float32', ['batch']);
  g.output(unetTimeProjection(g, config, timestep), 'time_proj');
  const dir = mkdtempSync(join(tmpdir(), 'time-proj-'));
  try {
    const session = await ModelSession.create(saveModel(g, { dir, modelFile: 'time.onnx' }).modelPath);
    const inputs = SafetensorsFile.open(join(goldenDir, 'cases', 'unet', 'inputs.safetensors'));
    const result = await session.run({ timestep: unetTimestep(inputs.read('timestep_t500'), 2) });
    const expected = SafetensorsFile.open(join(goldenDir, 'cases', 'unet', 'blocks_expert1.safetensors')).read('time_proj');
    assert.ok(maxAbsDifference(result.time_proj, expected) <= 1e-7, `time_proj error ${maxAbsDifference(result.time_proj, expected)}`);
    await session.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
