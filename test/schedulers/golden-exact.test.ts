// Stricter checks than the golden runner's tolerances (test/golden/golden.test.ts runs the scheduler
// kinds too): the float32 emulation of torch reproduces diffusers bit for bit where no transcendental
// function is involved — ᾱ, timesteps (float64 included), σ tables, and the DDIM, Euler, Euler ancestral
// and PNDM chains — and stays within a few float32 ulps for DPM-Solver (log/exp) and LMS (quadrature).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { DdpmNoiser } from '../../app/schedulers/ddpm-noiser.ts';
import { createScheduler } from '../../app/schedulers/registry.ts';
import { resolveNoiseScheduleConfig, type SchedulerName } from '../../app/schedulers/scheduler-config.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const schedulerDir = join(repoRoot, '..', 'shared', 'golden', 'cases', 'schedulers');

const opened: SafetensorsFile[] = [];
after(() => opened.forEach((file) => file.close()));

function goldenFile(name: string): SafetensorsFile {
  const file = SafetensorsFile.open(join(schedulerDir, `${name}.safetensors`));
  opened.push(file);
  return file;
}

function numbers(tensor: Tensor): number[] {
  return Array.from(tensor.data as ArrayLike<number | bigint>, Number);
}

function float32Tensor(file: SafetensorsFile, name: string): Tensor<'float32'> {
  const tensor = file.read(name);
  assert.equal(tensor.dtype, 'float32', name);
  return tensor as Tensor<'float32'>;
}

const FILES: Readonly<Record<SchedulerName, string>> = {
  ddim: 'ddim',
  euler: 'euler',
  'euler-a': 'euler_ancestral',
  'dpmpp-2m': 'dpmpp_2m',
  'dpmpp-2m-karras': 'dpmpp_2m_karras',
  pndm: 'pndm',
  lms: 'lms',
};

test('ᾱ (alphas_cumprod) of the SD1.5 schedule equals diffusers bit for bit', () => {
  const expected = goldenFile('ddpm_add_noise').read('alphas_cumprod').data as Float32Array;
  const ours = new DdpmNoiser(resolveNoiseScheduleConfig()).alphasCumprod;
  assert.deepEqual(Array.from(ours), Array.from(expected));
});

for (const [name, file] of Object.entries(FILES) as [SchedulerName, string][]) {
  test(`${name}: timesteps and σ for 10, 20, 50 steps equal diffusers exactly`, () => {
    const golden = goldenFile(file);
    for (const steps of [10, 20, 50]) {
      const scheduler = createScheduler(name);
      scheduler.setTimesteps(steps);
      assert.deepEqual(scheduler.timesteps, numbers(golden.read(`timesteps_${steps}`)), `timesteps_${steps}`);
      const sigmas = (scheduler as unknown as { sigmas?: readonly number[] }).sigmas;
      if (golden.has(`sigmas_${steps}`) && sigmas !== undefined) {
        const expected = numbers(golden.read(`sigmas_${steps}`));
        if (name === 'dpmpp-2m-karras') {
          // float64 Karras sigmas: V8's pow may differ from glibc's in the last bit.
          sigmas.forEach((sigma, i) => assert.ok(Math.abs(sigma - expected[i]!) <= 1e-13 * expected[i]!, `sigmas_${steps}[${i}]`));
        } else {
          assert.deepEqual(sigmas, expected, `sigmas_${steps}`);
        }
      }
    }
  });
}

/** Runs a golden chain; returns the largest |ours − golden| of prev_sample and pred_original_sample. */
function runChain(name: SchedulerName, steps: number): { prev: number; predicted: number; scaled: number } {
  const golden = goldenFile(FILES[name]);
  const scheduler = createScheduler(name);
  scheduler.setTimesteps(steps);
  const modelOutputs = float32Tensor(golden, `chain${steps}_model_outputs`);
  const noise = golden.has(`chain${steps}_noise`) ? float32Tensor(golden, `chain${steps}_noise`) : undefined;
  const expectedPrev = float32Tensor(golden, `chain${steps}_prev_sample`).data;
  const expectedScaled = float32Tensor(golden, `chain${steps}_scaled_model_input`).data;
  const expectedPredicted = golden.has(`chain${steps}_pred_original_sample`)
    ? float32Tensor(golden, `chain${steps}_pred_original_sample`).data
    : undefined;
  let x = float32Tensor(golden, `chain${steps}_x_init`);
  const size = x.data.length;
  const errors = { prev: 0, predicted: 0, scaled: 0 };
  const maxError = (ours: Float32Array, expected: Float32Array, offset: number): number => {
    let worst = 0;
    for (let i = 0; i < size; i++) worst = Math.max(worst, Math.abs(ours[i]! - expected[offset + i]!));
    return worst;
  };
  scheduler.timesteps.forEach((timestep, index) => {
    const slice = (tensor: Tensor<'float32'>): Tensor<'float32'> => ({
      dtype: 'float32',
      shape: x.shape,
      data: tensor.data.subarray(index * size, (index + 1) * size),
    });
    errors.scaled = Math.max(errors.scaled, maxError(scheduler.scaleModelInput(x, timestep).data, expectedScaled, index * size));
    const result = scheduler.step(slice(modelOutputs), timestep, x, noise ? { noise: slice(noise) } : {});
    errors.prev = Math.max(errors.prev, maxError(result.prevSample.data, expectedPrev, index * size));
    if (expectedPredicted && result.predOriginalSample) {
      errors.predicted = Math.max(errors.predicted, maxError(result.predOriginalSample.data, expectedPredicted, index * size));
    }
    x = result.prevSample;
  });
  return errors;
}

for (const name of ['ddim', 'euler', 'euler-a', 'pndm'] as const) {
  test(`${name}: 10- and 20-step chains reproduce diffusers bit for bit`, () => {
    for (const steps of [10, 20]) assert.deepEqual(runChain(name, steps), { prev: 0, predicted: 0, scaled: 0 }, `chain${steps}`);
  });
}

for (const name of ['dpmpp-2m', 'dpmpp-2m-karras', 'lms'] as const) {
  test(`${name}: 10- and 20-step chains stay within 5e-5 of diffusers (manifest atol ≥ 1e-4)`, (t) => {
    for (const steps of [10, 20]) {
      const errors = runChain(name, steps);
      t.diagnostic(`chain${steps}: max |err| prev ${errors.prev.toExponential(2)}, x0 ${errors.predicted.toExponential(2)}`);
      assert.ok(errors.prev <= 5e-5 && errors.predicted <= 5e-5 && errors.scaled <= 5e-5, JSON.stringify(errors));
    }
  });
}
