// Properties every sampler must have, whatever the algorithm: valid schedules, refusal of bad step
// counts, recovery of x0 from a perfect noise prediction, reproducible state, loud misuse errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError, UserError } from '../../app/common/errors.ts';
import { alphasCumprodOf } from '../../app/schedulers/beta-schedule.ts';
import { randn } from '../../app/schedulers/noise.ts';
import { createScheduler } from '../../app/schedulers/registry.ts';
import type { Scheduler } from '../../app/schedulers/scheduler.ts';
import { resolveNoiseScheduleConfig, SCHEDULER_NAMES, type SchedulerName } from '../../app/schedulers/scheduler-config.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';

const SHAPE = [1, 4, 8, 8];
const SIGMA_SAMPLERS: readonly SchedulerName[] = ['euler', 'euler-a', 'lms'];
const alphasCumprod = alphasCumprodOf(resolveNoiseScheduleConfig());

function sigmasOf(scheduler: Scheduler): readonly number[] {
  return (scheduler as unknown as { sigmas: readonly number[] }).sigmas;
}

function map(tensor: Tensor<'float32'>, other: Tensor<'float32'>, formula: (a: number, b: number) => number): Tensor<'float32'> {
  return { dtype: 'float32', shape: tensor.shape, data: tensor.data.map((value, i) => formula(value, other.data[i]!)) };
}

function maxDifference(a: Tensor<'float32'>, b: Tensor<'float32'>): number {
  let worst = 0;
  for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs(a.data[i]! - b.data[i]!));
  return worst;
}

const EXPECTED_LENGTH: Readonly<Record<SchedulerName, (steps: number) => number>> = {
  ddim: (n) => n,
  euler: (n) => n,
  'euler-a': (n) => n,
  'dpmpp-2m': (n) => n,
  'dpmpp-2m-karras': (n) => n,
  // The PLMS warm-up repeats the second timestep; one step has none to repeat.
  pndm: (n) => (n === 1 ? 1 : n + 1),
  lms: (n) => n,
};

for (const name of SCHEDULER_NAMES) {
  test(`${name}: schedules for 1 … 1000 steps are non-increasing timesteps within 0 … 999`, () => {
    // 'leading' spacing with SD's steps offset 1 cannot run 1000 steps (timestep 1000 does not exist).
    const leading = name === 'ddim' || name === 'pndm';
    for (const steps of [1, 2, 3, 7, 25, 50, 333, 999, ...(leading ? [] : [1000])]) {
      const scheduler = createScheduler(name);
      scheduler.setTimesteps(steps);
      const { timesteps } = scheduler;
      // Karras timesteps are rounded to integers and de-duplicated, so DPM++ Karras may have fewer.
      if (name === 'dpmpp-2m-karras') assert.ok(timesteps.length <= steps && timesteps.length >= Math.min(steps, 10), `${steps}: ${timesteps.length}`);
      else if (name === 'dpmpp-2m' && steps === 1000) assert.equal(timesteps.length, new Set(timesteps).size);
      else assert.equal(timesteps.length, EXPECTED_LENGTH[name](steps), `${steps} steps`);
      timesteps.forEach((t, i) => {
        assert.ok(t >= 0 && t <= 999, `${steps} steps: timestep ${t}`);
        if (i > 0) assert.ok(t <= timesteps[i - 1]!, `${steps} steps: not descending at ${i}`);
      });
    }
  });

  test(`${name}: step counts outside 1 … 1000 or not whole are refused with a UserError`, () => {
    const scheduler = createScheduler(name);
    for (const steps of [0, -5, 1001, 2.5, Number.NaN]) {
      assert.throws(() => scheduler.setTimesteps(steps), (error: unknown) => {
        assert.ok(error instanceof UserError);
        assert.equal(error.code, 'invalid-argument');
        assert.match(error.message, /from 1 to 1000/);
        return true;
      });
    }
    if (name === 'ddim' || name === 'pndm') {
      assert.throws(() => scheduler.setTimesteps(1000), (error: unknown) => error instanceof UserError && /at most 999 steps/.test(error.message));
    }
  });

  test(`${name}: a perfect ε prediction leads to the clean sample`, () => {
    const scheduler = createScheduler(name);
    scheduler.setTimesteps(25);
    const x0 = randn(SHAPE, 1);
    const epsilon = randn(SHAPE, 2);
    const sigmaBased = SIGMA_SAMPLERS.includes(name);
    // σ-samplers work on x = x0 + σ·ε; the others on x = √ᾱ·x0 + √(1−ᾱ)·ε.
    const first = scheduler.timesteps[0]!;
    let x = sigmaBased
      ? map(x0, epsilon, (a, e) => a + sigmasOf(scheduler)[0]! * e)
      : map(x0, epsilon, (a, e) => Math.sqrt(alphasCumprod[first]!) * a + Math.sqrt(1 - alphasCumprod[first]!) * e);
    scheduler.timesteps.forEach((timestep, index) => {
      // The oracle: the ε that makes x0 the exact prediction at this step.
      const oracle = sigmaBased
        ? map(x, x0, (xi, a) => (xi - a) / sigmasOf(scheduler)[index]!)
        : map(x, x0, (xi, a) => (xi - Math.sqrt(alphasCumprod[timestep]!) * a) / Math.sqrt(1 - alphasCumprod[timestep]!));
      const result = scheduler.step(oracle, timestep, x, { seed: 5 });
      if (result.predOriginalSample) assert.ok(maxDifference(result.predOriginalSample, x0) < 1e-4, `x0 at step ${index}`);
      x = result.prevSample;
    });
    // σ-samplers end at σ = 0; the others at ᾱ_0 (SD1.5's set_alpha_to_one = false; DPM-Solver's t = 0).
    const expected = sigmaBased ? x0 : map(x0, epsilon, (a, e) => Math.sqrt(alphasCumprod[0]!) * a + Math.sqrt(1 - alphasCumprod[0]!) * e);
    assert.ok(maxDifference(x, expected) < 1e-4, `final error ${maxDifference(x, expected)}`);
  });

  test(`${name}: setTimesteps resets the sampler, so a second run repeats the first exactly`, () => {
    const scheduler = createScheduler(name);
    const run = (): Float32Array => {
      scheduler.setTimesteps(12);
      let x = randn(SHAPE, 3);
      scheduler.timesteps.forEach((timestep, index) => {
        scheduler.scaleModelInput(x, timestep);
        x = scheduler.step(randn(SHAPE, 100, index), timestep, x, { seed: 9 }).prevSample;
      });
      return x.data;
    };
    assert.deepEqual(run(), run());
  });

  test(`${name}: misuse (no setTimesteps, foreign timestep, shape mismatch) is an EngineError`, () => {
    const scheduler = createScheduler(name);
    const x = randn(SHAPE, 1);
    assert.throws(() => scheduler.step(x, 999, x, { seed: 1 }), EngineError);
    scheduler.setTimesteps(10);
    const t = scheduler.timesteps[0]!;
    assert.throws(() => scheduler.step(randn([1, 4, 8, 7], 1), t, x, { seed: 1 }), EngineError);
    if (!['ddim', 'pndm'].includes(name)) assert.throws(() => scheduler.step(x, 998.5, x, { seed: 1 }), EngineError);
  });
}

test('σ-samplers scale the U-Net input by 1/√(σ² + 1); the others pass it through', () => {
  for (const name of SCHEDULER_NAMES) {
    const scheduler = createScheduler(name);
    scheduler.setTimesteps(10);
    const x = randn(SHAPE, 4);
    const t = scheduler.timesteps[3]!;
    const scaled = scheduler.scaleModelInput(x, t);
    if (SIGMA_SAMPLERS.includes(name)) {
      const sigma = sigmasOf(scheduler)[3]!;
      assert.ok(maxDifference(scaled, map(x, x, (a) => a / Math.sqrt(sigma * sigma + 1))) < 1e-6, name);
    } else {
      assert.equal(scaled, x, name);
    }
  }
});

test('initNoiseSigma: σ_max (≈ 14.61) for σ-samplers with linspace spacing, √(σ² + 1) with leading, else 1', () => {
  for (const name of SCHEDULER_NAMES) {
    const scheduler = createScheduler(name);
    scheduler.setTimesteps(20);
    const expected = SIGMA_SAMPLERS.includes(name) ? 14.614645004272461 : 1;
    assert.equal(scheduler.initNoiseSigma, expected, name);
  }
  const leading = createScheduler('euler', { timestepSpacing: 'leading' });
  leading.setTimesteps(20);
  const sigma = sigmasOf(leading)[0]!;
  assert.equal(leading.timesteps[0], 951);
  assert.ok(Math.abs(leading.initNoiseSigma - Math.sqrt(sigma * sigma + 1)) < 1e-5);
});

test('timestep spacings follow diffusers: leading + offset, linspace, trailing', () => {
  const timesteps = (name: SchedulerName, spacing: 'leading' | 'linspace' | 'trailing', steps: number): readonly number[] => {
    const scheduler = createScheduler(name, { timestepSpacing: spacing });
    scheduler.setTimesteps(steps);
    return scheduler.timesteps;
  };
  assert.deepEqual(timesteps('ddim', 'leading', 4), [751, 501, 251, 1]);
  assert.deepEqual(timesteps('ddim', 'linspace', 4), [999, 666, 333, 0]);
  assert.deepEqual(timesteps('ddim', 'trailing', 4), [999, 749, 499, 249]);
  assert.deepEqual(timesteps('ddim', 'trailing', 3), [999, 666, 332]);
  assert.deepEqual(timesteps('pndm', 'leading', 4), [751, 501, 501, 251, 1]);
  assert.deepEqual(timesteps('pndm', 'trailing', 4), [999, 749, 749, 499, 249]);
  assert.deepEqual(timesteps('euler', 'linspace', 4), [999, 666, 333, 0]);
  assert.deepEqual(timesteps('euler', 'leading', 4), [751, 501, 251, 1]);
  assert.deepEqual(timesteps('dpmpp-2m', 'linspace', 4), [999, 749, 500, 250]);
  assert.deepEqual(timesteps('dpmpp-2m', 'leading', 4), [801, 601, 401, 201]);
  assert.deepEqual(timesteps('dpmpp-2m', 'trailing', 4), [999, 749, 499, 249]);
});
