import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alphasCumprodOf } from '../../app/schedulers/beta-schedule.ts';
import type { DpmSolverMultistepScheduler } from '../../app/schedulers/dpm-solver-multistep-scheduler.ts';
import { randn } from '../../app/schedulers/noise.ts';
import { createScheduler } from '../../app/schedulers/registry.ts';
import { resolveNoiseScheduleConfig, type SchedulerOverrides } from '../../app/schedulers/scheduler-config.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';

const SHAPE = [1, 4, 8, 8];
const alphasCumprod = alphasCumprodOf(resolveNoiseScheduleConfig());

/** Runs the sampler with a model that predicts ε exactly; returns the final sample minus √ᾱ_0·x0 + √(1−ᾱ_0)·ε. */
function perfectModelError(overrides: SchedulerOverrides, steps: number): number {
  const scheduler = createScheduler('dpmpp-2m', overrides);
  scheduler.setTimesteps(steps);
  const x0 = randn(SHAPE, 1);
  const epsilon = randn(SHAPE, 2);
  const at = (t: number): Tensor<'float32'> => ({
    dtype: 'float32',
    shape: SHAPE,
    data: x0.data.map((value, i) => Math.sqrt(alphasCumprod[t]!) * value + Math.sqrt(1 - alphasCumprod[t]!) * epsilon.data[i]!),
  });
  let x = at(scheduler.timesteps[0]!);
  for (const timestep of scheduler.timesteps) x = scheduler.step(epsilon, timestep, x).prevSample;
  const expected = at(0);
  return Math.max(...Array.from(x.data, (value, i) => Math.abs(value - expected.data[i]!)));
}

test('every solver variant (++ or not, midpoint or Heun, order 1 or 2) is exact for a perfect model', () => {
  for (const algorithmType of ['dpmsolver++', 'dpmsolver'] as const) {
    for (const solverType of ['midpoint', 'heun'] as const) {
      for (const solverOrder of [1, 2] as const) {
        for (const steps of [5, 20]) {
          const error = perfectModelError({ algorithmType, solverType, solverOrder }, steps);
          assert.ok(error < 1e-4, `${algorithmType} ${solverType} order ${solverOrder}, ${steps} steps: ${error}`);
        }
      }
    }
  }
});

test('v- and x0-predicting models are converted before solving', () => {
  // x0-prediction: a model that always answers the true x0 is exact too.
  const scheduler = createScheduler('dpmpp-2m', { predictionType: 'sample' });
  scheduler.setTimesteps(8);
  const x0 = randn(SHAPE, 3);
  let x = randn(SHAPE, 4);
  for (const timestep of scheduler.timesteps) x = scheduler.step(x0, timestep, x).prevSample;
  // After the last step (t = 0) x is √ᾱ_0·x0 + σ_0·(noise left), and σ_0 ≈ 0.029.
  const worst = Math.max(...Array.from(x.data, (value, i) => Math.abs(value - x0.data[i]!)));
  assert.ok(worst < 0.15, `${worst}`);
});

test('lambdaMinClipped drops the timesteps whose log-SNR λ is below it', () => {
  // λ runs from 3.53 at t = 0 down to −2.68 at t = 999.
  const clipped = createScheduler('dpmpp-2m', { lambdaMinClipped: -2.5 }) as DpmSolverMultistepScheduler;
  clipped.setTimesteps(10);
  const first = clipped.timesteps[0]!;
  assert.ok(first < 999 && first > 900, `${first}`);
  assert.ok(clipped.lambdaTable[first]! >= -2.5 && clipped.lambdaTable[first + 1]! < -2.5);
  const plain = createScheduler('dpmpp-2m');
  plain.setTimesteps(10);
  assert.equal(plain.timesteps[0], 999);
});

test('1000 steps do not repeat a timestep; Karras schedules are de-duplicated the same way', () => {
  for (const name of ['dpmpp-2m', 'dpmpp-2m-karras'] as const) {
    const scheduler = createScheduler(name);
    scheduler.setTimesteps(1000);
    assert.equal(new Set(scheduler.timesteps).size, scheduler.timesteps.length, name);
  }
});
