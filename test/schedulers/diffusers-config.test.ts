import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../app/common/errors.ts';
import {
  fromDiffusersConfig,
  noiseScheduleFromDiffusersConfig,
  parseDiffusersJson,
  readDiffusersSchedulerFields,
  samplerOfDiffusersClass,
} from '../../app/schedulers/diffusers-config.ts';
import { resolveSchedulerConfig } from '../../app/schedulers/scheduler-config.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelScheduler = join(repoRoot, '..', 'shared', 'golden', 'models', 'afa', 'scheduler', 'scheduler_config.json');

/** A DPMSolverMultistepScheduler config as diffusers 0.20 saves it (Python's json writes -Infinity). */
const DPM_JSON = `{
  "_class_name": "DPMSolverMultistepScheduler",
  "_diffusers_version": "0.20.2",
  "algorithm_type": "dpmsolver++",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "dynamic_thresholding_ratio": 0.995,
  "lambda_min_clipped": -Infinity,
  "lower_order_final": true,
  "num_train_timesteps": 1000,
  "prediction_type": "epsilon",
  "sample_max_value": 1.0,
  "solver_order": 2,
  "solver_type": "midpoint",
  "steps_offset": 1,
  "thresholding": false,
  "timestep_spacing": "linspace",
  "trained_betas": null,
  "use_karras_sigmas": true,
  "variance_type": null,
  "note": "strings keep -Infinity and NaN as text"
}`;

test('a model folder’s scheduler_config.json becomes the sampler it names, with its noise schedule', () => {
  const json = parseDiffusersJson(readFileSync(modelScheduler, 'utf8'));
  const config = fromDiffusersConfig(json);
  assert.deepEqual(config, resolveSchedulerConfig('ddim'));
  // The same schedule under another sampler, as diffusers' EulerDiscreteScheduler.from_config(...).
  const euler = fromDiffusersConfig(json, 'euler');
  assert.equal(euler.sampler, 'euler');
  assert.equal(euler.timestepSpacing, 'leading');
  assert.deepEqual(noiseScheduleFromDiffusersConfig(json), {
    numTrainTimesteps: 1000,
    betaStart: 0.00085,
    betaEnd: 0.012,
    betaSchedule: 'scaled_linear',
    trainedBetas: null,
    predictionType: 'epsilon',
  });
});

test('Python JSON tokens (-Infinity) are read; use_karras_sigmas picks the Karras variant', () => {
  const json = parseDiffusersJson(DPM_JSON) as Record<string, unknown>;
  assert.equal(json.lambda_min_clipped, Number.NEGATIVE_INFINITY);
  assert.equal(json.note, 'strings keep -Infinity and NaN as text');
  const config = fromDiffusersConfig(json);
  assert.equal(config.sampler, 'dpmpp-2m-karras');
  assert.equal(config.sampler === 'dpmpp-2m-karras' && config.lambdaMinClipped, null);
  assert.equal(fromDiffusersConfig(json, 'dpmpp-2m').sampler, 'dpmpp-2m');
});

test('fields are renamed and type-checked; unknown fields are ignored', () => {
  const { className, overrides } = readDiffusersSchedulerFields({ _class_name: 'EulerDiscreteScheduler', steps_offset: 0, use_karras_sigmas: true, foo: 1 });
  assert.equal(className, 'EulerDiscreteScheduler');
  assert.deepEqual(overrides, { stepsOffset: 0, useKarrasSigmas: true });
  assert.throws(() => readDiffusersSchedulerFields({ steps_offset: '1' }), (error: unknown) => error instanceof UserError && /steps_offset/.test(error.message));
  assert.throws(() => readDiffusersSchedulerFields([1, 2]), UserError);
  assert.throws(() => fromDiffusersConfig({ beta_start: 0.001 }), (error: unknown) => error instanceof UserError && /_class_name/.test(error.message));
});

test('diffusers classes map to samplers; others are unsupported', () => {
  assert.equal(samplerOfDiffusersClass('PNDMScheduler'), 'pndm');
  assert.equal(samplerOfDiffusersClass('LMSDiscreteScheduler'), 'lms');
  assert.equal(samplerOfDiffusersClass('EulerAncestralDiscreteScheduler'), 'euler-a');
  assert.equal(samplerOfDiffusersClass('DPMSolverMultistepScheduler', false), 'dpmpp-2m');
  assert.throws(() => samplerOfDiffusersClass('UniPCMultistepScheduler'), (error: unknown) => error instanceof UserError && error.code === 'unsupported');
  assert.throws(() => fromDiffusersConfig({ _class_name: 'DDIMScheduler', thresholding: true }), (error: unknown) => error instanceof UserError && error.code === 'unsupported');
});
