// A whole AFA training run around the training step (app/training/training-session.ts): the dataset
// cached through the frozen encoders (latent-cache.ts), the held-out validation split, the step loop
// with gradient accumulation, AdamW and the learning-rate schedule, checkpoints, validation against the
// members, and the result as an aggregator set in the studio's format.
//
// Step s (0-based) of a run draws everything from streams keyed by (seed, s) (training-random.ts):
//   images     epoch e = ⌊s / stepsPerEpoch⌋, a seeded permutation of the training split per epoch
//   latents    x0 = (mean + std·ε_vae)·scaling               (the official latent_dist.sample()·0.18215)
//   timesteps  t ~ U{0, …, T−1}                              (T = the model's DDPM num_train_timesteps)
//   noise      ε ~ N(0, I);  x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε        (DdpmNoiser.addNoise)
//   captions   dropped with probability p → the empty caption's embeddings
//   loss       mean((AFA(x_t, t, c) − ε)²)
// so a run resumed from the checkpoint at step s computes exactly what an uninterrupted run computes.
// At every validation the run also draws sample images from fixed prompts and seeds with its current
// aggregator weights (validation-samples.ts); they depend on nothing else, so they too are the same in
// a resumed run.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CancelledError, isCancelled, UserError } from '../common/errors.ts';
import { atOnce, type Progress, type WorkUnit } from '../common/progress.ts';
import { writeFileAtomic } from '../common/atomic-write.ts';
import type { AggregatorSet, ExpertIdentity, StudioAggregatorManifest } from '../ensemble/aggregator-set.ts';
import { STUDIO_AGGREGATOR_MANIFEST, STUDIO_AGGREGATOR_WEIGHTS } from '../ensemble/aggregator-set.ts';
import type { Expert } from '../ensemble/lock-step-graph.ts';
import type { LatentDecoder } from '../pipeline/denoiser.ts';
import type { TrainingTurn } from '../pipeline/engine-turns.ts';
import { writeSafetensors } from '../tensor/safetensors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { SessionOptions } from '../runtime/onnx-runtime.ts';
import { DdpmNoiser } from '../schedulers/ddpm-noiser.ts';
import type { NoiseScheduleConfig } from '../schedulers/scheduler-config.ts';
import { AdamW } from '../optimizer/adamw.ts';
import { clipGlobalNorm, GradientAccumulator } from '../optimizer/gradients.ts';
import { learningRateAt } from '../optimizer/learning-rate.ts';
import { checkDataset, splitValidation, type ImageDataset } from '../datasets/image-dataset.ts';
import { AGGREGATOR_PARAMETER, officialParameterName, planAfaTrainingStep } from './afa-training-graph.ts';
import type { RecomputeChoice, TrainingStepPlan } from './training-graph.ts';
import { TrainingSession, type TrainingBatch } from './training-session.ts';
import { RANDOM_PURPOSES, TrainingRandom } from './training-random.ts';
import { cacheDataset, captionKey, type CachedDataset, type CachedExample } from './latent-cache.ts';
import type { TrainingEncoders } from './training-encoders.ts';
import { latestCheckpoint, writeCheckpoint, type CheckpointState, type TrainMetric, type ValidationMetric } from './training-checkpoint.ts';
import { referenceLosses, type ReferenceLosses } from './training-validation.ts';
import { resolveTrainingSettings, type TrainingSettings } from './training-settings.ts';
import { planSamples, ValidationSampler, type PromptEmbeddings, type SamplePlan, type StepSamples } from './validation-samples.ts';

/** What a run reports while it works (besides the generic Progress of caching). */
export type TrainingEvent =
  | { readonly kind: 'prepare'; readonly progress: Progress }
  | {
      readonly kind: 'step';
      readonly step: number;
      readonly totalSteps: number;
      readonly epoch: number;
      readonly loss: number;
      readonly smoothedLoss: number;
      readonly lr: number;
      readonly secondsPerStep: number;
      readonly etaSeconds: number;
      /** Images per training-graph call (the step's batch runs as batchSize / microBatch calls). */
      readonly microBatch: number;
    }
  | {
      readonly kind: 'validation';
      readonly step: number;
      readonly loss: number;
      readonly reference: ReferenceLosses | null;
      /** The sample images of this validation (none when the run samples nothing). */
      readonly samples: StepSamples | null;
    }
  | { readonly kind: 'checkpoint'; readonly step: number; readonly dir: string };

export interface AfaTrainingJobOptions {
  /** Where the run keeps run.json, its checkpoints, scratch graphs and its result. */
  readonly runDir: string;
  /** The latent + embedding cache (shared between runs). */
  readonly cacheDir: string;
  readonly experts: readonly Expert[];
  readonly expertIdentities: readonly ExpertIdentity[];
  /** The aggregators to start from (their architecture is the result's; weights are replaced on resume). */
  readonly aggregators: AggregatorSet;
  readonly encoders: TrainingEncoders;
  readonly noiseSchedule: NoiseScheduleConfig;
  readonly dataset: ImageDataset;
  readonly settings?: Partial<TrainingSettings>;
  readonly recompute?: RecomputeChoice;
  readonly session?: SessionOptions;
  /** Skip the members' and the uniform average's validation losses (they cost K + 1 forward graphs). */
  readonly skipReference?: boolean;
  /**
   * The VAE decoder of the sample images drawn at each validation (the first member's, as the studio's
   * AFA recipes decode); without it the run draws no samples.
   */
  readonly sampleDecoder?: LatentDecoder;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: TrainingEvent) => void;
  /**
   * A compiled training step to reuse (its graph built by buildAfaTrainingGraph for these experts and
   * aggregators at this micro-batch and resolution); the caller owns it. Compiling takes most of a short
   * run's time on small models. Its parameters are reset to the starting aggregators (or the checkpoint).
   */
  readonly trainingSession?: TrainingSession;
  /**
   * Memory the step's activations may take, bytes, when the run chooses its micro-batch (settings without
   * `microBatch`); default: free memory now less the frozen weights, the parameters' state and 1 GiB.
   */
  readonly memoryBudgetBytes?: number;
  /**
   * Runs each unit of the run's work (one optimizer step; a validation's losses; its sample images; while
   * it prepares: one image or caption through the encoders, one member's validation, the sampler's
   * models, the compile, with `preparing` saying which) when it is the run's turn on the engine (the
   * studio's EngineTurns: generations go first, the run yields at these boundaries). Rejects with a
   * CancelledError when the run is paused while it waits. Default: at once.
   */
  readonly turn?: TrainingTurnRunner;
  /** Test hook passed to writeCheckpoint. */
  readonly beforeCheckpointCommit?: (temporaryDir: string) => void;
}

/** Where the run is when it asks for a turn (EngineTurns adds which run): its step, or what it prepares. */
export type TrainingTurnPosition = Omit<TrainingTurn, 'runId' | 'name'>;

export type TrainingTurnRunner = <T>(at: TrainingTurnPosition, work: () => Promise<T>) => Promise<T>;

/** The unit of a run's preparation step `what` (step and total 0): in the run's turns, else at once. */
export function preparationUnit(turn: TrainingTurnRunner | undefined, what: string): WorkUnit {
  return turn ? (work) => turn({ step: 0, totalSteps: 0, preparing: what }, work) : atOnce;
}

export interface AfaTrainingResult {
  readonly steps: number;
  readonly aggregatorsDir: string;
  readonly train: readonly TrainMetric[];
  readonly validation: readonly ValidationMetric[];
  readonly reference: ReferenceLosses | null;
  readonly parameters: ReadonlyMap<string, Float32Array>;
  readonly cache: { readonly encodedImages: number; readonly encodedCaptions: number; readonly skipped: readonly { name: string; reason: string }[]; readonly upscaled: readonly string[] };
  readonly validationImages: number;
  readonly trainingImages: number;
  /** Images per training-graph call (chosen from free memory unless the settings gave one). */
  readonly microBatch: number;
  /**
   * Wall time of this call in seconds: `steps` inside the training step (forward + backward + AdamW),
   * `loop` the whole step loop (also batch assembly, random draws, checkpoints; validation excluded,
   * reported as `validation`, of which `samples` drawing and saving the sample images; `checkpoints` the
   * part of the loop spent writing them), `prepare` caching the dataset and compiling.
   */
  readonly timing: { readonly prepare: number; readonly steps: number; readonly loop: number; readonly checkpoints: number; readonly validation: number; readonly samples: number; readonly stepsRun: number; readonly imagesPerStep: number };
}

/** The loss became NaN or infinite: the run stops; the last good checkpoint stays. */
export class TrainingDivergedError extends UserError {
  constructor(
    readonly step: number,
    readonly lr: number,
    readonly loss: number,
  ) {
    super('invalid-argument', `The loss became ${loss} at step ${step} (learning rate ${lr}); training stopped and the last good checkpoint was kept.`, 'Lower the learning rate or enable gradient clipping, then resume.');
  }
}

const SMOOTHING = 0.9;
const RUN_FILE = 'run.json';
export const RESULT_DIR = 'aggregators';

interface RunFile {
  readonly format: 'afa-studio-training-run';
  readonly settings: TrainingSettings;
  readonly experts: readonly ExpertIdentity[];
  readonly dataset: string;
  readonly reference?: ReferenceLosses | null;
  /** What the run samples at each validation (fixed when it starts; absent in runs of older versions). */
  readonly samples?: SamplePlan | null;
  /** The micro-batch chosen when the run started (absent when the settings fix it, and in older runs). */
  readonly microBatch?: number;
}

export function readRunFile(runDir: string): RunFile | undefined {
  const path = join(runDir, RUN_FILE);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as RunFile) : undefined;
}

function writeRunFile(runDir: string, run: RunFile): void {
  writeFileAtomic(join(runDir, RUN_FILE), Buffer.from(JSON.stringify(run, null, 2)));
}

export function totalStepsOf(settings: TrainingSettings, trainingImages: number): { total: number; stepsPerEpoch: number } {
  const stepsPerEpoch = Math.max(1, Math.floor(trainingImages / settings.batchSize));
  return { total: settings.steps ?? settings.epochs * stepsPerEpoch, stepsPerEpoch };
}

/** Assembles one micro-batch: rows `rows` of the examples with the given draws. */
function assembleBatch(
  examples: readonly CachedExample[],
  captions: ReadonlyMap<string, Float32Array>,
  captionShape: readonly number[],
  noiser: DdpmNoiser,
  scaling: number,
  rows: readonly { example: number; dropped: boolean; timestep: number; vaeEpsilon: Float32Array; noise: Float32Array }[],
): TrainingBatch {
  const B = rows.length;
  const latentShape = examples[0]!.latentShape;
  const L = latentShape.reduce((a, b) => a * b, 1);
  const x0 = new Float32Array(B * L);
  const noise = new Float32Array(B * L);
  const f = Math.fround;
  const s = f(scaling);
  rows.forEach((row, b) => {
    const { mean, std } = examples[row.example]!;
    for (let i = 0; i < L; i++) x0[b * L + i] = f(f(mean[i]! + f(std[i]! * row.vaeEpsilon[i]!)) * s);
    noise.set(row.noise, b * L);
  });
  const shape = [B, ...latentShape];
  const timesteps = rows.map((row) => row.timestep);
  const sample = noiser.addNoise({ dtype: 'float32', shape, data: x0 }, { dtype: 'float32', shape, data: noise }, timesteps);
  const target = noiser.trainingTarget({ dtype: 'float32', shape, data: x0 }, { dtype: 'float32', shape, data: noise }, timesteps);
  // context [K, B, T, D]: expert k's embedding of row b's caption at [k, b].
  const [K, T, D] = captionShape as [number, number, number];
  const perExpert = T * D;
  const context = new Float32Array(K * B * perExpert);
  const empty = captions.get(captionKey(''))!;
  rows.forEach((row, b) => {
    const embedding = row.dropped ? empty : captions.get(examples[row.example]!.captionKey)!;
    for (let k = 0; k < K; k++) context.set(embedding.subarray(k * perExpert, (k + 1) * perExpert), (k * B + b) * perExpert);
  });
  return {
    sample,
    timestep: { dtype: 'float32', shape: [B], data: Float32Array.from(timesteps) },
    context: { dtype: 'float32', shape: [K, B, T, D], data: context },
    target: target as Tensor<'float32'>,
  };
}

/** The validation micro-batches: every validation image at every fixed timestep, fixed noise; padded by wrapping. */
function validationBatches(cached: CachedDataset, examples: readonly CachedExample[], settings: TrainingSettings, microBatch: number, random: TrainingRandom, noiser: DdpmNoiser, scaling: number): TrainingBatch[] {
  if (examples.length === 0) return [];
  const L = examples[0]!.latentShape.reduce((a, b) => a * b, 1);
  const pairs: { example: number; timestep: number }[] = [];
  examples.forEach((_, example) => settings.validationTimesteps.forEach((timestep) => pairs.push({ example, timestep })));
  const count = Math.ceil(pairs.length / microBatch) * microBatch;
  const noise = random.normal(RANDOM_PURPOSES.validation, 1, pairs.length * L);
  const vae = random.normal(RANDOM_PURPOSES.validation, 2, pairs.length * L);
  const batches: TrainingBatch[] = [];
  for (let start = 0; start < count; start += microBatch) {
    const rows = Array.from({ length: microBatch }, (_, j) => {
      const index = (start + j) % pairs.length;
      const pair = pairs[index]!;
      return { example: pair.example, dropped: false, timestep: pair.timestep, vaeEpsilon: vae.subarray(index * L, (index + 1) * L), noise: noise.subarray(index * L, (index + 1) * L) };
    });
    batches.push(assembleBatch(examples, cached.captions, cached.captionShape, noiser, scaling, rows));
  }
  return batches;
}

export async function runAfaTrainingJob(options: AfaTrainingJobOptions): Promise<AfaTrainingResult> {
  const { runDir, signal } = options;
  const began = performance.now();
  mkdirSync(runDir, { recursive: true });
  const existing = readRunFile(runDir);
  // Runs of older versions lack the newer settings (sample images): they get the defaults.
  const settings = resolveTrainingSettings(existing?.settings ?? options.settings);
  if (existing && existing.experts.map((e) => e.sha256).join() !== options.expertIdentities.map((e) => e.sha256).join()) {
    throw new UserError('mismatch', `The run in ${runDir} was trained on other members than the ones given.`, 'Resume it with the same models in the same order.');
  }
  const emit = options.onEvent ?? (() => {});
  checkDataset(options.dataset);
  const random = new TrainingRandom(settings.seed);

  // Preparation works in turns too: a generation enqueued meanwhile goes between its units.
  const preparing = (what: string): WorkUnit => preparationUnit(options.turn, what);

  // The dataset through the encoders (cached on disk), then the seeded split.
  const cropRandom = new TrainingRandom(settings.seed);
  const cached = await cacheDataset(options.dataset.items, options.encoders, {
    dir: options.cacheDir,
    resolution: settings.resolution,
    crop: settings.crop,
    cropPosition: (index) => {
      const [x, y] = cropRandom.uniform(RANDOM_PURPOSES.crop, index, 2) as [number, number];
      return [x, y];
    },
    small: settings.smallImages,
    maxFailedShare: settings.maxFailedShare,
    signal,
    onProgress: (progress) => emit({ kind: 'prepare', progress }),
    unit: preparing('Encoding the dataset'),
  });
  const { train, validation } = splitValidation(cached.examples, settings.validationShare, (n) => random.permutation(RANDOM_PURPOSES.validation, 0, n));
  if (train.length === 0) throw new UserError('invalid-argument', 'No image is left for training after the validation split.', 'Add images or lower the validation share.');
  const { total, stepsPerEpoch } = totalStepsOf(settings, train.length);
  const noiser = new DdpmNoiser(options.noiseSchedule);
  const T = noiser.alphasCumprod.length;
  const scaling = options.encoders.scalingFactor;
  const latentShape = train[0]!.latentShape;

  // The micro-batch: the settings', the one this run chose when it started (a resume splits its batches
  // the same way, so it stays bit-identical), the given session's, or chosen now from free memory.
  let session = options.trainingSession;
  let microBatch = settings.microBatch ?? existing?.microBatch ?? session?.batch;
  if (session && microBatch !== session.batch) {
    throw new UserError('mismatch', `The training session runs ${session.batch} images per call, the run ${microBatch}.`, 'Compile the session at the run\'s micro-batch.');
  }
  let plan: TrainingStepPlan | undefined;
  if (!session) {
    plan = planAfaTrainingStep(
      options.experts,
      options.aggregators,
      { batchSize: settings.batchSize, microBatch, height: latentShape[1]!, width: latentShape[2]!, tokens: cached.captionShape[1]! },
      { recompute: options.recompute ?? 'auto', memoryBudgetBytes: options.memoryBudgetBytes },
    );
    microBatch = plan.microBatch;
  }
  const micro = microBatch!;

  const validationSet = validationBatches(cached, validation, settings, micro, random, noiser, scaling);

  let reference = existing?.reference ?? null;
  // The sample prompts and seeds are fixed once per run: a resume samples what the start sampled.
  const samplePlan = existing?.samples !== undefined ? existing.samples : planSamples(settings, validation.map((e) => e.item.caption), train.map((e) => e.item.caption));
  const chosen = settings.microBatch === undefined ? { microBatch: micro } : {};
  let runFile: RunFile = { format: 'afa-studio-training-run', settings, experts: options.expertIdentities, dataset: options.dataset.root, reference, samples: samplePlan, ...chosen };
  if (!existing || existing.samples === undefined || existing.microBatch !== runFile.microBatch) writeRunFile(runDir, runFile);
  if (reference === null && validationSet.length > 0 && !options.skipReference) {
    reference = await referenceLosses(options.experts, validationSet, join(runDir, 'scratch', 'reference'), { session: options.session, signal, onProgress: (progress) => emit({ kind: 'prepare', progress }), unit: preparing('Validating the members alone') });
    runFile = { ...runFile, reference };
    writeRunFile(runDir, runFile);
  }
  const sampler = samplePlan && options.sampleDecoder && validationSet.length > 0 ? await preparing('Preparing the sample images')(() => createSampler(options, samplePlan, options.sampleDecoder!, cached)) : undefined;

  const scratch = join(runDir, 'scratch', 'graph');
  if (session) {
    resetParameters(session, options.aggregators);
  } else {
    emit({ kind: 'prepare', progress: { phase: 'compile', done: 0, total: 1, message: 'Compiling the training graph' } });
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { recursive: true });
    session = await preparing('Compiling the training graph')(() => TrainingSession.create(plan!.graph, { dir: scratch, session: options.session, signal }));
  }
  const owned = session !== options.trainingSession;
  try {
    const optimizer = new AdamW({ lr: settings.lr, weightDecay: settings.weightDecay });
    let state: CheckpointState = { step: 0, smoothedLoss: null, train: [], validation: [] };
    const checkpoint = latestCheckpoint(runDir);
    if (checkpoint) {
      for (const [name, values] of checkpoint.parameters) {
        const target = session.parameters.get(name);
        if (!target || target.length !== values.length) throw new UserError('mismatch', `The checkpoint ${checkpoint.dir} does not fit these aggregators ('${name}').`);
        target.set(values);
      }
      optimizer.load(checkpoint.optimizer);
      state = checkpoint.state;
    }
    const schedule = { kind: settings.schedule, baseLr: settings.lr, warmupSteps: settings.warmupSteps, totalSteps: total };
    const L = latentShape.reduce((a, b) => a * b, 1);
    const microBatches = settings.batchSize / micro;
    const accumulator = new GradientAccumulator();
    let checkpointSeconds = 0;
    const save = (): void => {
      const started = performance.now();
      const dir = writeCheckpoint(runDir, state, session.parameters, session.shapes, optimizer.state(), settings.keepCheckpoints, options.beforeCheckpointCommit);
      checkpointSeconds += (performance.now() - started) / 1000;
      emit({ kind: 'checkpoint', step: state.step, dir });
    };
    // Time spent waiting for the run's turn (generations ran meanwhile): not the run's own time.
    let waitedSeconds = 0;
    const inTurn = <T>(work: () => Promise<T>): Promise<T> => {
      if (!options.turn) return work();
      const asked = performance.now();
      return options.turn({ step: state.step, totalSteps: total }, () => {
        waitedSeconds += (performance.now() - asked) / 1000;
        return work();
      });
    };
    const paused = (): CancelledError => {
      save();
      return new CancelledError(`Training paused at step ${state.step}; resume continues from there.`);
    };
    let sampleSeconds = 0;
    // Validation is recorded only when its samples are done too: a pause while sampling drops both, and
    // the resumed run validates that step first (below), so no validation ends up without its samples.
    const validate = async (): Promise<void> => {
      // No validation split (a one-image dataset, or a share of 0): no validation, and no samples either.
      if (validationSet.length === 0) return;
      const loss = await inTurn(async () => {
        let sum = 0;
        for (const batch of validationSet) sum += (await session.computeGradients(batch)).loss;
        return sum / validationSet.length;
      });
      let samples: StepSamples | null = null;
      if (sampler) {
        samples = await inTurn(async () => {
          const started = performance.now();
          const drawn = await sampler.sample(state.step, session.parameters, session.shapes, signal);
          sampleSeconds += (performance.now() - started) / 1000;
          return drawn;
        });
      }
      state = { ...state, validation: [...state.validation, { step: state.step, loss }] };
      emit({ kind: 'validation', step: state.step, loss, reference, samples });
    };
    let validationSeconds = 0;
    const timedValidate = async (): Promise<void> => {
      const start = performance.now();
      const waitedBefore = waitedSeconds;
      try {
        await validate();
      } catch (error) {
        // Paused while drawing samples (or waiting for a turn): keep the steps trained since the last checkpoint.
        if (isCancelled(error)) throw paused();
        throw error;
      } finally {
        validationSeconds += (performance.now() - start) / 1000 - (waitedSeconds - waitedBefore);
      }
    };
    let stepSeconds = 0;
    /** Step s: the batch's draws, its micro-batches' gradients averaged, clipping, AdamW; state moves to s + 1. */
    const step = async (s: number): Promise<void> => {
      const epoch = Math.floor(s / stepsPerEpoch);
      const order = random.permutation(RANDOM_PURPOSES.dataOrder, epoch, train.length);
      const position = (s % stepsPerEpoch) * settings.batchSize;
      const B = settings.batchSize;
      const vaeEpsilon = random.normal(RANDOM_PURPOSES.latentSample, s, B * L);
      const noise = random.normal(RANDOM_PURPOSES.targetNoise, s, B * L);
      const timesteps = random.integers(RANDOM_PURPOSES.timesteps, s, B, T);
      const dropped = random.uniform(RANDOM_PURPOSES.captionDropout, s, B).map((u) => u < settings.captionDropout);
      const lr = learningRateAt(schedule, s);
      accumulator.reset();
      let single: Map<string, Float32Array> | undefined;
      let loss = 0;
      for (let m = 0; m < microBatches; m++) {
        const rows = Array.from({ length: micro }, (_, j) => {
          const b = m * micro + j;
          return { example: order[(position + b) % train.length]!, dropped: dropped[b]!, timestep: timesteps[b]!, vaeEpsilon: vaeEpsilon.subarray(b * L, (b + 1) * L), noise: noise.subarray(b * L, (b + 1) * L) };
        });
        const batch = assembleBatch(train, cached.captions, cached.captionShape, noiser, scaling, rows);
        const stepStarted = performance.now();
        const result = await session.computeGradients(batch);
        stepSeconds += (performance.now() - stepStarted) / 1000;
        loss += result.loss / microBatches;
        // One micro-batch: its gradients are the step's (the accumulator's mean of one is the same values).
        if (microBatches === 1) single = result.gradients;
        else accumulator.add(result.gradients);
      }
      const gradients = single ?? accumulator.mean();
      const norm = settings.maxGradNorm > 0 ? clipGlobalNorm(gradients, settings.maxGradNorm) : 0;
      if (!Number.isFinite(loss) || !Number.isFinite(norm)) throw new TrainingDivergedError(s + 1, lr, loss);
      const updateStarted = performance.now();
      await optimizer.updateInParallel(session.parameters, gradients, lr);
      stepSeconds += (performance.now() - updateStarted) / 1000;
      const smoothedLoss = state.smoothedLoss === null ? loss : SMOOTHING * state.smoothedLoss + (1 - SMOOTHING) * loss;
      state = { ...state, step: s + 1, smoothedLoss, train: [...state.train, { step: s + 1, loss, smoothedLoss, lr }] };
    };
    const validationDue = (step: number): boolean => step === 0 || step === total || (settings.validationEvery > 0 && step % settings.validationEvery === 0);
    // A fresh run validates its starting point; a resumed one the step it stopped at when that
    // validation was interrupted (a pause while drawing its samples).
    if (state.step < total && validationDue(state.step) && state.validation.at(-1)?.step !== state.step) await timedValidate();
    const prepareSeconds = (performance.now() - began) / 1000 - validationSeconds;
    const loopStarted = performance.now();
    const validationBeforeLoop = validationSeconds;
    const waitedBeforeLoop = waitedSeconds;
    let timed = 0;
    let timedSteps = 0;
    while (state.step < total) {
      if (signal?.aborted) throw paused();
      const s = state.step;
      let started = 0;
      let epoch = 0;
      try {
        // One optimizer step is one turn: a generation waiting for the engine goes first, between steps.
        epoch = await inTurn(async () => {
          started = performance.now();
          await step(s);
          return Math.floor(s / stepsPerEpoch);
        });
      } catch (error) {
        if (isCancelled(error)) throw paused();
        throw error;
      }
      timed += (performance.now() - started) / 1000;
      timedSteps++;
      const secondsPerStep = timed / timedSteps;
      emit({ kind: 'step', step: state.step, totalSteps: total, epoch, loss: state.train.at(-1)!.loss, smoothedLoss: state.smoothedLoss!, lr: state.train.at(-1)!.lr, secondsPerStep, etaSeconds: secondsPerStep * (total - state.step), microBatch: micro });
      if (validationDue(state.step)) await timedValidate();
      if (state.step % settings.checkpointEvery === 0 || state.step === total) save();
    }
    const loopSeconds = (performance.now() - loopStarted) / 1000 - (validationSeconds - validationBeforeLoop) - (waitedSeconds - waitedBeforeLoop);
    const aggregatorsDir = writeAggregatorSet(runDir, options.aggregators, options.expertIdentities, session.parameters, session.shapes);
    return {
      steps: state.step,
      aggregatorsDir,
      train: state.train,
      validation: state.validation,
      reference,
      parameters: session.parameters,
      cache: { encodedImages: cached.encoded.images, encodedCaptions: cached.encoded.captions, skipped: cached.skipped, upscaled: cached.upscaled },
      validationImages: validation.length,
      trainingImages: train.length,
      microBatch: micro,
      timing: { prepare: prepareSeconds, steps: stepSeconds, loop: loopSeconds, checkpoints: checkpointSeconds, validation: validationSeconds, samples: sampleSeconds, stepsRun: timedSteps, imagesPerStep: settings.batchSize },
    };
  } finally {
    await sampler?.release();
    if (owned) {
      await session.release();
      rmSync(scratch, { recursive: true, force: true });
    }
  }
}

/** The sampler of a run's validation images, its prompts encoded by the members' own text encoders. */
async function createSampler(options: AfaTrainingJobOptions, plan: SamplePlan, decoder: LatentDecoder, cached: CachedDataset): Promise<ValidationSampler> {
  const embeddings = new Map<string, Float32Array>();
  for (const prompt of ['', ...plan.prompts]) {
    if (embeddings.has(prompt)) continue;
    embeddings.set(prompt, cached.captions.get(captionKey(prompt)) ?? (await options.encoders.encodeCaption(prompt)));
  }
  const prompts: PromptEmbeddings = {
    shape: cached.captionShape,
    get: (prompt) => {
      const embedding = embeddings.get(prompt);
      if (!embedding) throw new UserError('invalid-argument', `The sample prompt '${prompt}' was not encoded.`);
      return embedding;
    },
  };
  return new ValidationSampler({
    experts: options.experts,
    aggregators: options.aggregators,
    plan,
    prompts,
    decoder,
    noiseSchedule: options.noiseSchedule,
    runDir: options.runDir,
    scratch: join(options.runDir, 'scratch', 'samples'),
    session: options.session,
  });
}

/** Sets a session's parameters to the aggregator set's weights (graph name aggregatorNN.x = aggregator NN's x). */
function resetParameters(session: TrainingSession, aggregators: AggregatorSet): void {
  for (const [name, values] of session.parameters) {
    const match = AGGREGATOR_PARAMETER.exec(name);
    const weights = match ? aggregators.weights[Number(match[1])] : undefined;
    if (!match || !weights || !weights.has(match[2]!)) throw new UserError('mismatch', `The training session's parameter '${name}' is not in the aggregators of ${aggregators.source}.`);
    const tensor = weights.get(match[2]!).read();
    if (tensor.dtype !== 'float32' || tensor.data.length !== values.length) throw new UserError('mismatch', `Aggregator weight '${name}' does not fit the training session.`);
    values.set(tensor.data as Float32Array);
  }
}

/** The trained weights as a studio aggregator set (`aggregators.{i}.<official name>` + manifest) in `<run>/aggregators`. */
export function writeAggregatorSet(
  runDir: string,
  initial: AggregatorSet,
  experts: readonly ExpertIdentity[],
  parameters: ReadonlyMap<string, Float32Array>,
  shapes: ReadonlyMap<string, readonly number[]>,
): string {
  const finalDir = join(runDir, RESULT_DIR);
  const temporary = join(runDir, `.tmp-${RESULT_DIR}`);
  rmSync(temporary, { recursive: true, force: true });
  mkdirSync(temporary);
  writeSafetensors(
    join(temporary, STUDIO_AGGREGATOR_WEIGHTS),
    [...parameters].map(([name, data]) => [officialParameterName(name), { dtype: 'float32' as const, shape: shapes.get(name)!, data }] as const),
  );
  const manifest: StudioAggregatorManifest = { format: 'afa-studio-aggregators', version: 1, configs: initial.configs, experts, createdAt: Date.now(), notes: `Trained by AFA Studio (${runDir}).` };
  writeFileSync(join(temporary, STUDIO_AGGREGATOR_MANIFEST), JSON.stringify(manifest, null, 2));
  rmSync(finalDir, { recursive: true, force: true });
  renameSync(temporary, finalDir);
  return finalDir;
}
