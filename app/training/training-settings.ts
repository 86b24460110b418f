// A training run's settings, defaulting to the official AFA recipe (the authors' train script): AdamW
// lr 1e-4, weight decay 0.01, batch 8, 10 epochs, caption dropout 0.1, timesteps uniform in 0…999 of the
// model's DDPM schedule, ε-prediction MSE. Stored with the run (run.json, training_runs.config), so a
// resumed run continues with exactly these.
import { AGGREGATOR_NORM_GROUPS, type AggregatorSize } from '../ensemble/aggregator-config.ts';
import { UserError } from '../common/errors.ts';
import type { ScheduleKind } from '../optimizer/learning-rate.ts';
import { SCHEDULE_KINDS } from '../optimizer/learning-rate.ts';
import { checkResolution, type CropMode } from '../datasets/load-training-image.ts';

export interface TrainingSettings {
  readonly resolution: number;
  /** Optimizer steps; when absent, `epochs` passes over the training split. */
  readonly steps?: number;
  readonly epochs: number;
  /** Images per optimizer step. */
  readonly batchSize: number;
  /**
   * Images per training-graph call; batchSize / microBatch calls are accumulated per step. Absent: chosen
   * when the run starts from the activations per sample and the free memory (planTrainingStep), and kept
   * in run.json so a resumed run splits its batches the same way.
   */
  readonly microBatch?: number;
  readonly lr: number;
  readonly weightDecay: number;
  readonly schedule: ScheduleKind;
  readonly warmupSteps: number;
  /** Clip the global gradient norm to this (0: no clipping, as the official script). */
  readonly maxGradNorm: number;
  readonly captionDropout: number;
  readonly seed: number;
  readonly validationShare: number;
  /** Validate every N steps (0: only at the end). */
  readonly validationEvery: number;
  /** The fixed timesteps the validation loss is measured at. */
  readonly validationTimesteps: readonly number[];
  readonly checkpointEvery: number;
  readonly keepCheckpoints: number;
  readonly crop: CropMode;
  readonly smallImages: 'upscale' | 'skip';
  readonly missingCaptions: 'refuse' | 'use-file-name';
  readonly maxFailedShare: number;
  /**
   * Size of new aggregators; default the official SD1.5 one (hidden 128, 8 heads, 2 transformer layers),
   * whose weights stay interchangeable with the official code. Smaller models (the demo family) use less.
   * `spatial: false` trains the ablation without spatial awareness (one weight per expert per point).
   */
  readonly aggregatorSize?: AggregatorSize;
  /**
   * Sample images at every validation (validation-samples.ts), one per prompt, each prompt with its own
   * fixed seed: the `samplePrompts`, or when none are given the first `sampleCount` distinct captions
   * of the validation split (then of the training split). No prompts and sampleCount 0: no samples.
   */
  readonly sampleCount: number;
  readonly samplePrompts: readonly string[];
  /** Sampler steps per sample image (DDIM, η = 0: the same image for the same weights and seed). */
  readonly sampleSteps: number;
  readonly sampleGuidance: number;
  /** Sample i uses seed sampleSeed + i. */
  readonly sampleSeed: number;
}

export const TRAINING_DEFAULTS: TrainingSettings = Object.freeze({
  resolution: 256,
  epochs: 10,
  batchSize: 8,
  lr: 1e-4,
  weightDecay: 0.01,
  schedule: 'constant',
  warmupSteps: 0,
  maxGradNorm: 0,
  captionDropout: 0.1,
  seed: 0,
  validationShare: 0.05,
  validationEvery: 100,
  validationTimesteps: Object.freeze([100, 300, 500, 700, 900]),
  checkpointEvery: 100,
  keepCheckpoints: 3,
  crop: 'center',
  smallImages: 'upscale',
  missingCaptions: 'refuse',
  maxFailedShare: 0.1,
  sampleCount: 2,
  samplePrompts: Object.freeze([]),
  sampleSteps: 20,
  sampleGuidance: 7.5,
  sampleSeed: 0,
});

/** At most this many sample prompts per validation (each costs a whole generation). */
export const MAX_SAMPLE_COUNT = 8;

function positiveInteger(value: number, what: string): void {
  if (!Number.isInteger(value) || value <= 0) throw new UserError('invalid-argument', `${what} must be a positive whole number, got ${value}.`);
}

export function resolveTrainingSettings(overrides: Partial<TrainingSettings> = {}): TrainingSettings {
  const merged = { ...TRAINING_DEFAULTS, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) } as TrainingSettings;
  const settings: TrainingSettings = merged;
  checkResolution(settings.resolution);
  positiveInteger(settings.batchSize, 'The batch size');
  if (settings.microBatch !== undefined) positiveInteger(settings.microBatch, 'The micro-batch');
  positiveInteger(settings.epochs, 'The epoch count');
  if (settings.steps !== undefined) positiveInteger(settings.steps, 'The step count');
  positiveInteger(settings.checkpointEvery, 'The checkpoint interval');
  positiveInteger(settings.keepCheckpoints, 'The number of checkpoints kept');
  if (settings.microBatch !== undefined && settings.batchSize % settings.microBatch !== 0) {
    throw new UserError('invalid-argument', `The batch of ${settings.batchSize} cannot be split into micro-batches of ${settings.microBatch}.`, 'Pick a micro-batch that divides the batch.');
  }
  if (!(settings.lr > 0)) throw new UserError('invalid-argument', `The learning rate must be positive, got ${settings.lr}.`);
  if (!(settings.captionDropout >= 0 && settings.captionDropout <= 1)) throw new UserError('invalid-argument', `Caption dropout is a probability, got ${settings.captionDropout}.`);
  if (!SCHEDULE_KINDS.includes(settings.schedule)) throw new UserError('invalid-argument', `Unknown learning-rate schedule '${settings.schedule}'.`);
  if (!Number.isSafeInteger(settings.seed) || settings.seed < 0) throw new UserError('invalid-argument', `The seed must be a non-negative whole number, got ${settings.seed}.`);
  if (settings.aggregatorSize) {
    const { hiddenSize, numAttentionHeads, numLayers, spatial } = settings.aggregatorSize;
    if (spatial !== undefined && typeof spatial !== 'boolean') throw new UserError('invalid-argument', `The aggregators' 'spatial' setting is true or false, got ${JSON.stringify(spatial)}.`);
    positiveInteger(hiddenSize, 'The aggregator width');
    positiveInteger(numAttentionHeads, 'The number of aggregator attention heads');
    positiveInteger(numLayers, 'The number of aggregator transformer layers');
    if (hiddenSize % AGGREGATOR_NORM_GROUPS !== 0 || hiddenSize % numAttentionHeads !== 0) {
      throw new UserError('invalid-argument', `An aggregator width of ${hiddenSize} does not fit ${AGGREGATOR_NORM_GROUPS} norm groups and ${numAttentionHeads} heads.`, `Use a multiple of ${AGGREGATOR_NORM_GROUPS} that the head count divides.`);
    }
  }
  if (!Number.isInteger(settings.warmupSteps) || settings.warmupSteps < 0) throw new UserError('invalid-argument', `The warm-up steps must be a non-negative whole number, got ${settings.warmupSteps}.`);
  if (!(settings.maxGradNorm >= 0) || !Number.isFinite(settings.maxGradNorm)) throw new UserError('invalid-argument', `The gradient-norm limit must be 0 (no clipping) or positive, got ${settings.maxGradNorm}.`);
  if ((settings.schedule === 'linear' || settings.schedule === 'cosine') && settings.steps !== undefined && settings.steps <= settings.warmupSteps) {
    throw new UserError('invalid-argument', `The '${settings.schedule}' schedule needs more steps (${settings.steps}) than warm-up steps (${settings.warmupSteps}).`, 'Lower --warmup-steps or train for more steps.');
  }
  const prompts = settings.samplePrompts.map((prompt) => prompt.trim()).filter(Boolean);
  if (!Number.isInteger(settings.sampleCount) || settings.sampleCount < 0 || settings.sampleCount > MAX_SAMPLE_COUNT) {
    throw new UserError('invalid-argument', `The number of sample images must be a whole number from 0 to ${MAX_SAMPLE_COUNT}, got ${settings.sampleCount}.`);
  }
  if (prompts.length > MAX_SAMPLE_COUNT) throw new UserError('invalid-argument', `At most ${MAX_SAMPLE_COUNT} sample prompts, got ${prompts.length}.`);
  positiveInteger(settings.sampleSteps, 'The sample steps');
  if (!(settings.sampleGuidance >= 0 && settings.sampleGuidance <= 50)) throw new UserError('invalid-argument', `The sample guidance scale must be from 0 to 50, got ${settings.sampleGuidance}.`);
  if (!Number.isSafeInteger(settings.sampleSeed) || settings.sampleSeed < 0) throw new UserError('invalid-argument', `The sample seed must be a non-negative whole number, got ${settings.sampleSeed}.`);
  if (prompts.length !== settings.samplePrompts.length) return Object.freeze({ ...settings, samplePrompts: Object.freeze(prompts) });
  return Object.freeze(settings);
}
