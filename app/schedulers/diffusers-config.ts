// Reading diffusers' scheduler_config.json (a model folder's scheduler/, or a golden case's params.config)
// into the studio's configs. Field names are diffusers' snake_case; `_class_name` says which sampler the
// model ships with. diffusers writes its -inf (lambda_min_clipped) as the non-JSON token -Infinity:
// `parseDiffusersJson` reads such text.
import { UserError } from '../common/errors.ts';
import {
  resolveNoiseScheduleConfig,
  resolveSchedulerConfig,
  type NoiseScheduleConfig,
  type SchedulerConfig,
  type SchedulerName,
  type SchedulerOverrides,
} from './scheduler-config.ts';

/** diffusers field → [our field, expected JSON type]. Other fields (dynamic_thresholding_ratio, …) are ignored. */
const FIELDS: Readonly<Record<string, readonly [keyof SchedulerOverrides, 'number' | 'boolean' | 'string' | 'betas' | 'nullable-string' | 'lambda']>> = {
  num_train_timesteps: ['numTrainTimesteps', 'number'],
  beta_start: ['betaStart', 'number'],
  beta_end: ['betaEnd', 'number'],
  beta_schedule: ['betaSchedule', 'string'],
  trained_betas: ['trainedBetas', 'betas'],
  prediction_type: ['predictionType', 'string'],
  timestep_spacing: ['timestepSpacing', 'string'],
  steps_offset: ['stepsOffset', 'number'],
  set_alpha_to_one: ['setAlphaToOne', 'boolean'],
  clip_sample: ['clipSample', 'boolean'],
  clip_sample_range: ['clipSampleRange', 'number'],
  rescale_betas_zero_snr: ['rescaleBetasZeroSnr', 'boolean'],
  use_karras_sigmas: ['useKarrasSigmas', 'boolean'],
  solver_order: ['solverOrder', 'number'],
  algorithm_type: ['algorithmType', 'string'],
  solver_type: ['solverType', 'string'],
  lower_order_final: ['lowerOrderFinal', 'boolean'],
  lambda_min_clipped: ['lambdaMinClipped', 'lambda'],
  thresholding: ['thresholding', 'boolean'],
  variance_type: ['varianceType', 'nullable-string'],
  skip_prk_steps: ['skipPrkSteps', 'boolean'],
  interpolation_type: ['interpolationType', 'string'],
};

/** diffusers scheduler class → the studio's sampler (DPM-Solver splits on use_karras_sigmas). */
const CLASSES: Readonly<Record<string, SchedulerName | ((karras: boolean) => SchedulerName)>> = {
  DDIMScheduler: 'ddim',
  EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler-a',
  DPMSolverMultistepScheduler: (karras) => (karras ? 'dpmpp-2m-karras' : 'dpmpp-2m'),
  PNDMScheduler: 'pndm',
  LMSDiscreteScheduler: 'lms',
};

export interface DiffusersSchedulerFields {
  /** `_class_name`, e.g. 'PNDMScheduler' (null when absent). */
  readonly className: string | null;
  readonly overrides: SchedulerOverrides;
}

/** JSON.parse that also accepts Python's NaN, Infinity and -Infinity tokens (outside strings). */
export function parseDiffusersJson(text: string): unknown {
  const marker = '\u0000python-float:';
  let rewritten = '';
  let copied = 0;
  for (let index = 0; index < text.length; ) {
    const char = text[index];
    if (char === '"') {
      index++;
      while (index < text.length && text[index] !== '"') index += text[index] === '\\' ? 2 : 1;
      index++;
      continue;
    }
    const token = ['-Infinity', 'Infinity', 'NaN'].find((candidate) => text.startsWith(candidate, index));
    if (token !== undefined) {
      rewritten += `${text.slice(copied, index)}"\\u0000python-float:${token}"`;
      index += token.length;
      copied = index;
      continue;
    }
    index++;
  }
  rewritten += text.slice(copied);
  const values: Readonly<Record<string, number>> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY };
  return JSON.parse(rewritten, (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(marker) ? values[value.slice(marker.length)] : value,
  );
}

function badField(field: string, value: unknown, expected: string): UserError {
  return new UserError(
    'corrupt-file',
    `scheduler_config.json: '${field}' is ${JSON.stringify(value) ?? String(value)}, expected ${expected}.`,
    'Fix the field or delete it to use the default.',
  );
}

/** The known fields of a parsed scheduler_config.json, type-checked and renamed to camelCase. */
export function readDiffusersSchedulerFields(json: unknown): DiffusersSchedulerFields {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UserError('corrupt-file', 'scheduler_config.json is not a JSON object.', 'Re-download the model’s scheduler folder.');
  }
  const record = json as Record<string, unknown>;
  const overrides: Record<string, unknown> = {};
  for (const [field, [ours, kind]] of Object.entries(FIELDS)) {
    const value = record[field];
    if (value === undefined) continue;
    if (kind === 'lambda') {
      if (value === null || value === Number.NEGATIVE_INFINITY || value === '-inf' || value === '-Infinity') overrides[ours] = null;
      else if (typeof value === 'number' && !Number.isNaN(value)) overrides[ours] = value;
      else throw badField(field, value, 'a number or -Infinity');
    } else if (kind === 'betas') {
      if (value !== null && !(Array.isArray(value) && value.every((beta) => typeof beta === 'number'))) throw badField(field, value, 'null or a list of numbers');
      overrides[ours] = value;
    } else if (kind === 'nullable-string') {
      if (value !== null && typeof value !== 'string') throw badField(field, value, 'null or a string');
      overrides[ours] = value;
    } else {
      if (typeof value !== kind) throw badField(field, value, `a ${kind}`);
      overrides[ours] = value;
    }
  }
  const className = typeof record._class_name === 'string' ? record._class_name : null;
  return { className, overrides: overrides as SchedulerOverrides };
}

/** The sampler a diffusers scheduler class corresponds to; UserError('unsupported') for others (UniPC, Heun, …). */
export function samplerOfDiffusersClass(className: string, useKarrasSigmas = false): SchedulerName {
  const entry = CLASSES[className];
  if (entry === undefined) {
    throw new UserError(
      'unsupported',
      `The diffusers scheduler '${className}' is not available in the studio.`,
      `Pick one of the studio's samplers instead (classes read: ${Object.keys(CLASSES).join(', ')}).`,
    );
  }
  return typeof entry === 'function' ? entry(useKarrasSigmas) : entry;
}

/**
 * A studio config from a parsed scheduler_config.json: `sampler` if given (the model's noise schedule with
 * another sampler, as diffusers' `OtherScheduler.from_config(...)`), else the file's own `_class_name`.
 */
export function fromDiffusersConfig(json: unknown, sampler?: SchedulerName, extra: SchedulerOverrides = {}): SchedulerConfig {
  const { className, overrides } = readDiffusersSchedulerFields(json);
  let name = sampler;
  if (name === undefined) {
    if (className === null) throw new UserError('corrupt-file', 'scheduler_config.json has no _class_name.', 'Name the sampler to use.');
    name = samplerOfDiffusersClass(className, overrides.useKarrasSigmas === true);
  }
  return resolveSchedulerConfig(name, { ...overrides, ...extra });
}

/** The training noise schedule of a parsed scheduler_config.json (for DdpmNoiser). */
export function noiseScheduleFromDiffusersConfig(json: unknown): NoiseScheduleConfig {
  return resolveNoiseScheduleConfig(readDiffusersSchedulerFields(json).overrides);
}
