import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../app/common/errors.ts';
import { createScheduler, schedulerFromConfig } from '../../app/schedulers/registry.ts';
import { resolveNoiseScheduleConfig, resolveSchedulerConfig, SCHEDULER_NAMES } from '../../app/schedulers/scheduler-config.ts';
import type { SchedulerOverrides } from '../../app/schedulers/scheduler-config.ts';

const SD15 = { numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear', trainedBetas: null, predictionType: 'epsilon' };

test('defaults are diffusers 0.20.2 class defaults overlaid with SD1.5’s scheduler_config.json', () => {
  assert.deepEqual(resolveSchedulerConfig('ddim'), {
    sampler: 'ddim',
    ...SD15,
    timestepSpacing: 'leading',
    stepsOffset: 1,
    setAlphaToOne: false,
    clipSample: false,
    clipSampleRange: 1,
    rescaleBetasZeroSnr: false,
    eta: 0,
  });
  assert.deepEqual(resolveSchedulerConfig('euler'), { sampler: 'euler', ...SD15, timestepSpacing: 'linspace', stepsOffset: 1, useKarrasSigmas: false });
  assert.deepEqual(resolveSchedulerConfig('dpmpp-2m-karras'), {
    sampler: 'dpmpp-2m-karras',
    ...SD15,
    timestepSpacing: 'linspace',
    stepsOffset: 1,
    solverOrder: 2,
    algorithmType: 'dpmsolver++',
    solverType: 'midpoint',
    lowerOrderFinal: true,
    lambdaMinClipped: null,
  });
  assert.deepEqual(resolveSchedulerConfig('pndm'), { sampler: 'pndm', ...SD15, timestepSpacing: 'leading', stepsOffset: 1, setAlphaToOne: false });
});

test('configs are frozen plain JSON: a stored config recreates the same sampler', () => {
  for (const name of SCHEDULER_NAMES) {
    const scheduler = createScheduler(name, { predictionType: 'v_prediction' });
    assert.ok(Object.isFrozen(scheduler.config), name);
    const stored = JSON.parse(JSON.stringify(scheduler.config));
    assert.deepEqual(stored, scheduler.config, name);
    const again = schedulerFromConfig(stored);
    assert.deepEqual(again.config, scheduler.config, name);
    scheduler.setTimesteps(9);
    again.setTimesteps(9);
    assert.deepEqual(again.timesteps, scheduler.timesteps, name);
  }
});

test('fields a sampler does not have are dropped; its own override the defaults', () => {
  const config = resolveSchedulerConfig('euler', { eta: 0.5, solverOrder: 1, useKarrasSigmas: true, stepsOffset: 0 });
  assert.equal('eta' in config, false);
  assert.equal('solverOrder' in config, false);
  assert.equal(config.sampler === 'euler' && config.useKarrasSigmas, true);
  assert.equal(config.stepsOffset, 0);
});

test('invalid values are refused with a UserError naming the field', () => {
  const cases: [string, SchedulerOverrides, RegExp][] = [
    ['ddim', { eta: -1 }, /eta/],
    ['ddim', { betaSchedule: 'cosine' as never }, /betaSchedule/],
    ['euler', { numTrainTimesteps: 0 }, /numTrainTimesteps/],
    ['euler', { betaStart: 1.5 }, /betaStart/],
    ['lms', { trainedBetas: [0.1, 0.2] }, /trainedBetas/],
    ['pndm', { timestepSpacing: 'uniform' as never }, /timestepSpacing/],
    ['dpmpp-2m', { solverType: 'bh2' as never }, /solverType/],
    ['dpmpp-2m', { predictionType: 'noise' as never }, /predictionType/],
  ];
  for (const [name, overrides, field] of cases) {
    assert.throws(
      () => resolveSchedulerConfig(name as never, overrides),
      (error: unknown) => error instanceof UserError && error.code === 'invalid-argument' && field.test(error.message),
      `${name} ${JSON.stringify(overrides)}`,
    );
  }
  assert.throws(() => resolveSchedulerConfig('heun' as never), (error: unknown) => error instanceof UserError && /Unknown sampler 'heun'/.test(error.message));
});

test('diffusers features the studio does not implement are refused as unsupported', () => {
  const cases: [string, SchedulerOverrides][] = [
    ['ddim', { thresholding: true }],
    ['dpmpp-2m', { solverOrder: 3 as never }],
    ['dpmpp-2m', { varianceType: 'learned_range' }],
    ['pndm', { skipPrkSteps: false }],
    ['pndm', { predictionType: 'sample' }],
    ['euler', { interpolationType: 'log_linear' }],
  ];
  for (const [name, overrides] of cases) {
    assert.throws(
      () => resolveSchedulerConfig(name as never, overrides),
      (error: unknown) => error instanceof UserError && error.code === 'unsupported',
      `${name} ${JSON.stringify(overrides)}`,
    );
  }
});

test('trained betas and other beta schedules are accepted', () => {
  const betas = Array.from({ length: 1000 }, (_, i) => 0.0001 + (0.02 - 0.0001) * (i / 999));
  const scheduler = createScheduler('ddim', { trainedBetas: betas });
  assert.deepEqual(scheduler.config.trainedBetas, betas);
  assert.ok(Object.isFrozen(scheduler.config.trainedBetas));
  for (const betaSchedule of ['linear', 'squaredcos_cap_v2'] as const) {
    const other = createScheduler('euler', { betaSchedule });
    other.setTimesteps(10);
    assert.ok(other.initNoiseSigma > 1, betaSchedule);
  }
});

test('the training noise schedule resolves from SD1.5 defaults too', () => {
  assert.deepEqual(resolveNoiseScheduleConfig(), SD15);
  assert.equal(resolveNoiseScheduleConfig({ predictionType: 'v_prediction' }).predictionType, 'v_prediction');
  assert.throws(() => resolveNoiseScheduleConfig({ betaEnd: 0 }), UserError);
});
