// The configs of every sampler: plain, frozen JSON objects (stored in history), one interface per
// algorithm, field meanings and defaults as diffusers 0.20.2 names them in each class's __init__ (here
// camelCase; diffusers-config.ts reads the snake_case scheduler_config.json). `resolveSchedulerConfig`
// fills a config the way diffusers builds one with `Class.from_config(sd15_scheduler_config)`: class
// defaults, then SD1.5's scheduler_config.json, then the caller's fields — so `resolveSchedulerConfig
// ('euler')` is exactly the EulerDiscreteScheduler every SD1.5 pipeline uses.
import { UserError } from '../common/errors.ts';

export const SCHEDULER_NAMES = ['ddim', 'euler', 'euler-a', 'dpmpp-2m', 'dpmpp-2m-karras', 'pndm', 'lms'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
/** What the U-Net predicts: the noise ε, the clean sample x0, or v = √ᾱ·ε − √(1−ᾱ)·x0. */
export type PredictionType = 'epsilon' | 'sample' | 'v_prediction';
/** How inference timesteps are picked from the training range (diffusers' `timestep_spacing`). */
export type TimestepSpacing = 'leading' | 'linspace' | 'trailing';

/** The forward (training) noise process. It belongs to the model; every sampler and training share it. */
export interface NoiseScheduleConfig {
  /** Training diffusion steps T (timesteps 0 … T−1). */
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  /** 'scaled_linear' (SD): β = linspace(√βstart, √βend, T)²; 'linear': linspace(βstart, βend, T). */
  readonly betaSchedule: BetaSchedule;
  /** Explicit β_t for t = 0 … T−1 (overrides the three fields above when not null). */
  readonly trainedBetas: readonly number[] | null;
  readonly predictionType: PredictionType;
}

export interface SpacingConfig {
  readonly timestepSpacing: TimestepSpacing;
  /** Added to 'leading' timesteps (SD1.5: 1, so 50 steps run 981 … 1). */
  readonly stepsOffset: number;
}

/** DDIMScheduler (Song et al. 2021). */
export interface DdimConfig extends NoiseScheduleConfig, SpacingConfig {
  readonly sampler: 'ddim';
  /** Use ᾱ_prev = 1 after the last step (else ᾱ_0, SD's setting). */
  readonly setAlphaToOne: boolean;
  /** Clamp the predicted x0 to ±clipSampleRange. */
  readonly clipSample: boolean;
  readonly clipSampleRange: number;
  /** Lin et al. 2023: rescale betas to zero terminal SNR (for v-prediction models trained that way). */
  readonly rescaleBetasZeroSnr: boolean;
  /** η: 0 = deterministic DDIM; 1 = DDPM-like variance. (diffusers passes it to step(); here it is config.) */
  readonly eta: number;
}

/** EulerDiscreteScheduler (Karras et al. 2022, Algorithm 2 without churn). */
export interface EulerConfig extends NoiseScheduleConfig, SpacingConfig {
  readonly sampler: 'euler';
  /** Karras et al.'s ρ = 7 σ schedule instead of the training σ at evenly spaced timesteps. */
  readonly useKarrasSigmas: boolean;
}

/** EulerAncestralDiscreteScheduler. */
export interface EulerAncestralConfig extends NoiseScheduleConfig, SpacingConfig {
  readonly sampler: 'euler-a';
}

/** DPMSolverMultistepScheduler (Lu et al. 2022, DPM-Solver++); 'dpmpp-2m-karras' uses Karras sigmas. */
export interface DpmSolverMultistepConfig extends NoiseScheduleConfig, SpacingConfig {
  readonly sampler: 'dpmpp-2m' | 'dpmpp-2m-karras';
  readonly solverOrder: 1 | 2;
  readonly algorithmType: 'dpmsolver++' | 'dpmsolver';
  readonly solverType: 'midpoint' | 'heun';
  /** First-order final steps when fewer than 15 steps run (diffusers' stability trick). */
  readonly lowerOrderFinal: boolean;
  /** Timesteps whose λ = log(α/σ) falls below this are cut off; null = no clipping (diffusers' -inf). */
  readonly lambdaMinClipped: number | null;
}

/** PNDMScheduler with skip_prk_steps (as SD1.5 configures it): the PLMS sampler of Liu et al. 2022. */
export interface PndmConfig extends NoiseScheduleConfig, SpacingConfig {
  readonly sampler: 'pndm';
  readonly setAlphaToOne: boolean;
}

/** LMSDiscreteScheduler: linear multistep (order 4) on the Karras ODE. */
export interface LmsConfig extends NoiseScheduleConfig, SpacingConfig {
  readonly sampler: 'lms';
  readonly useKarrasSigmas: boolean;
}

export type SchedulerConfig =
  | DdimConfig
  | EulerConfig
  | EulerAncestralConfig
  | DpmSolverMultistepConfig
  | PndmConfig
  | LmsConfig;

type Fields<C> = Omit<C, 'sampler'>;

/** The config interface of sampler N (DPM-Solver's serves two names). */
export type ConfigOf<N extends SchedulerName> = SchedulerConfig extends infer C
  ? C extends { readonly sampler: infer S }
    ? N extends S
      ? C
      : never
    : never
  : never;

/**
 * Any subset of the fields of any sampler; fields the chosen sampler does not have are ignored. The
 * fields at the end exist only to refuse diffusers features the studio does not implement.
 */
export type SchedulerOverrides = Partial<
  Fields<DdimConfig> & Fields<EulerConfig> & Fields<DpmSolverMultistepConfig> & Fields<PndmConfig> & Fields<LmsConfig>
> & {
  readonly thresholding?: boolean;
  readonly varianceType?: string | null;
  readonly skipPrkSteps?: boolean;
  readonly interpolationType?: string;
};

/** SD1.5's scheduler/scheduler_config.json (runwayml/stable-diffusion-v1-5), the studio's base. */
export const SD15_SCHEDULE: SchedulerOverrides = Object.freeze({
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
  trainedBetas: null,
  setAlphaToOne: false,
  stepsOffset: 1,
  clipSample: false,
});

const TRAINING_DEFAULTS = {
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  trainedBetas: null,
  predictionType: 'epsilon',
} as const satisfies NoiseScheduleConfig;

/** diffusers 0.20.2 __init__ defaults of each class. */
const CLASS_DEFAULTS: { readonly [N in SchedulerName]: Fields<ConfigOf<N>> } = {
  ddim: {
    ...TRAINING_DEFAULTS,
    timestepSpacing: 'leading',
    stepsOffset: 0,
    setAlphaToOne: true,
    clipSample: true,
    clipSampleRange: 1,
    rescaleBetasZeroSnr: false,
    eta: 0,
  },
  euler: { ...TRAINING_DEFAULTS, timestepSpacing: 'linspace', stepsOffset: 0, useKarrasSigmas: false },
  'euler-a': { ...TRAINING_DEFAULTS, timestepSpacing: 'linspace', stepsOffset: 0 },
  'dpmpp-2m': dpmDefaults(),
  'dpmpp-2m-karras': dpmDefaults(),
  pndm: { ...TRAINING_DEFAULTS, timestepSpacing: 'leading', stepsOffset: 0, setAlphaToOne: false },
  lms: { ...TRAINING_DEFAULTS, timestepSpacing: 'linspace', stepsOffset: 0, useKarrasSigmas: false },
};

function dpmDefaults(): Fields<DpmSolverMultistepConfig> {
  return {
    ...TRAINING_DEFAULTS,
    timestepSpacing: 'linspace',
    stepsOffset: 0,
    solverOrder: 2,
    algorithmType: 'dpmsolver++',
    solverType: 'midpoint',
    lowerOrderFinal: true,
    lambdaMinClipped: null,
  };
}

export function isSchedulerName(name: unknown): name is SchedulerName {
  return typeof name === 'string' && (SCHEDULER_NAMES as readonly string[]).includes(name);
}

/**
 * The full, validated, frozen config of sampler `name`: class defaults ← SD1.5's scheduler_config.json ←
 * `overrides`. Throws UserError for unknown names, invalid values and diffusers features not implemented.
 */
export function resolveSchedulerConfig(name: SchedulerName, overrides: SchedulerOverrides = {}): SchedulerConfig {
  if (!isSchedulerName(name)) {
    throw new UserError('invalid-argument', `Unknown sampler '${String(name)}'.`, `Choose one of: ${SCHEDULER_NAMES.join(', ')}.`);
  }
  refuseUnsupported(name, overrides);
  const defaults: Record<string, unknown> = CLASS_DEFAULTS[name];
  const merged: Record<string, unknown> = { sampler: name };
  for (const field of Object.keys(defaults)) {
    const fromCaller = (overrides as Record<string, unknown>)[field];
    const fromSd15 = (SD15_SCHEDULE as Record<string, unknown>)[field];
    merged[field] = fromCaller !== undefined ? fromCaller : fromSd15 !== undefined ? fromSd15 : defaults[field];
  }
  // diffusers writes "no clipping" as -Infinity, which JSON (and so history) cannot hold.
  if (merged.lambdaMinClipped === Number.NEGATIVE_INFINITY) merged.lambdaMinClipped = null;
  if (Array.isArray(merged.trainedBetas)) merged.trainedBetas = Object.freeze([...(merged.trainedBetas as number[])]);
  const config = merged as unknown as SchedulerConfig;
  validateSchedulerConfig(config);
  return Object.freeze(config);
}

/** The training noise schedule alone (for DdpmNoiser): TRAINING_DEFAULTS ← SD1.5 ← overrides. */
export function resolveNoiseScheduleConfig(overrides: SchedulerOverrides = {}): NoiseScheduleConfig {
  const pick = <K extends keyof NoiseScheduleConfig>(field: K): NoiseScheduleConfig[K] =>
    (overrides[field] ?? SD15_SCHEDULE[field] ?? TRAINING_DEFAULTS[field]) as NoiseScheduleConfig[K];
  const config: NoiseScheduleConfig = {
    numTrainTimesteps: pick('numTrainTimesteps'),
    betaStart: pick('betaStart'),
    betaEnd: pick('betaEnd'),
    betaSchedule: pick('betaSchedule'),
    trainedBetas: overrides.trainedBetas === undefined ? null : overrides.trainedBetas,
    predictionType: pick('predictionType'),
  };
  validateNoiseSchedule(config);
  return Object.freeze({ ...config, trainedBetas: config.trainedBetas && Object.freeze([...config.trainedBetas]) });
}

function refuseUnsupported(name: SchedulerName, overrides: SchedulerOverrides): void {
  if (overrides.thresholding === true) {
    throw unsupported('Dynamic thresholding (thresholding: true) is not implemented.', 'SD1.x models do not use it; remove the field.');
  }
  if (overrides.varianceType !== undefined && overrides.varianceType !== null && (name === 'dpmpp-2m' || name === 'dpmpp-2m-karras')) {
    throw unsupported(`DPM-Solver with variance_type '${overrides.varianceType}' is not implemented.`, 'SD1.x models predict no variance.');
  }
  if (name === 'euler' && overrides.interpolationType !== undefined && overrides.interpolationType !== 'linear') {
    // diffusers 0.20's 'log_linear' yields n + 2 sigmas for n steps; nothing in SD1.x uses it.
    throw unsupported(`Euler with interpolation_type '${overrides.interpolationType}' is not implemented.`, "Use 'linear' (the default).");
  }
  if (name === 'pndm' && overrides.skipPrkSteps === false) {
    throw unsupported('PNDM with Runge–Kutta warm-up steps (skip_prk_steps: false) is not implemented.', "Use 'pndm' as SD1.5 configures it (PLMS).");
  }
}

function unsupported(message: string, hint: string): UserError {
  return new UserError('unsupported', message, hint);
}

function invalid(field: string, value: unknown, expected: string): UserError {
  return new UserError('invalid-argument', `Scheduler config field '${field}' is ${JSON.stringify(value) ?? String(value)}; expected ${expected}.`);
}

function oneOf(field: string, value: unknown, allowed: readonly unknown[]): void {
  if (!allowed.includes(value)) throw invalid(field, value, `one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function validateNoiseSchedule(config: NoiseScheduleConfig): void {
  const { numTrainTimesteps: steps } = config;
  if (!Number.isInteger(steps) || steps < 2 || steps > 100_000) throw invalid('numTrainTimesteps', steps, 'a whole number from 2 to 100000');
  for (const field of ['betaStart', 'betaEnd'] as const) {
    const beta = config[field];
    if (!isFiniteNumber(beta) || beta <= 0 || beta >= 1) throw invalid(field, beta, 'a number between 0 and 1');
  }
  oneOf('betaSchedule', config.betaSchedule, ['linear', 'scaled_linear', 'squaredcos_cap_v2']);
  oneOf('predictionType', config.predictionType, ['epsilon', 'sample', 'v_prediction']);
  const betas = config.trainedBetas;
  if (betas !== null) {
    if (!Array.isArray(betas) || betas.length !== steps) throw invalid('trainedBetas', `${Array.isArray(betas) ? betas.length : typeof betas} values`, `null or ${steps} numbers`);
    const bad = betas.findIndex((beta) => !isFiniteNumber(beta) || beta <= 0 || beta >= 1);
    if (bad >= 0) throw invalid(`trainedBetas[${bad}]`, betas[bad], 'a number between 0 and 1');
  }
}

export function validateSchedulerConfig(config: SchedulerConfig): void {
  if (!isSchedulerName(config.sampler)) throw invalid('sampler', config.sampler, `one of ${SCHEDULER_NAMES.join(', ')}`);
  validateNoiseSchedule(config);
  oneOf('timestepSpacing', config.timestepSpacing, ['leading', 'linspace', 'trailing']);
  if (!Number.isInteger(config.stepsOffset) || config.stepsOffset < 0) throw invalid('stepsOffset', config.stepsOffset, 'a non-negative whole number');
  switch (config.sampler) {
    case 'ddim':
      oneOf('setAlphaToOne', config.setAlphaToOne, [true, false]);
      oneOf('clipSample', config.clipSample, [true, false]);
      oneOf('rescaleBetasZeroSnr', config.rescaleBetasZeroSnr, [true, false]);
      if (!isFiniteNumber(config.clipSampleRange) || config.clipSampleRange <= 0) throw invalid('clipSampleRange', config.clipSampleRange, 'a positive number');
      if (!isFiniteNumber(config.eta) || config.eta < 0) throw invalid('eta', config.eta, 'a number ≥ 0');
      break;
    case 'euler':
      oneOf('useKarrasSigmas', config.useKarrasSigmas, [true, false]);
      break;
    case 'dpmpp-2m':
    case 'dpmpp-2m-karras':
      if ((config.solverOrder as number) === 3) throw unsupported('DPM-Solver of order 3 is not implemented.', 'Use solverOrder 2 (DPM++ 2M).');
      oneOf('solverOrder', config.solverOrder, [1, 2]);
      oneOf('algorithmType', config.algorithmType, ['dpmsolver++', 'dpmsolver']);
      oneOf('solverType', config.solverType, ['midpoint', 'heun']);
      oneOf('lowerOrderFinal', config.lowerOrderFinal, [true, false]);
      if (config.lambdaMinClipped !== null && typeof config.lambdaMinClipped !== 'number') {
        throw invalid('lambdaMinClipped', config.lambdaMinClipped, 'a number or null');
      }
      break;
    case 'pndm':
      oneOf('setAlphaToOne', config.setAlphaToOne, [true, false]);
      if (config.predictionType === 'sample') throw unsupported("PNDM cannot sample a model that predicts x0 ('sample').", 'Pick DDIM, Euler or LMS for this model.');
      break;
    case 'lms':
      oneOf('useKarrasSigmas', config.useKarrasSigmas, [true, false]);
      break;
    case 'euler-a':
      break;
  }
}
