// The generation engine: a queue of requests, one job on the engine at a time. A job makes
// `batchCount` images one after another (image i: seed + i). Per image it runs the text-to-image loop,
// then saves the PNG (settings embedded) and its thumbnail atomically and commits the history row
// (Library.recordGeneration: files first, then the row).
//
// Cancellation is seen between steps (within one step) and again right before saving, so a cancelled
// image leaves no file and no row; images of the batch finished before the cancel stay, as finished
// generations. A cancelled job records nothing else: history holds images and failures, not intentions.
// A failure of the engine (onnxruntime, a damaged model file) is recorded as a 'failed' row with its
// error and no image; bad input (UserError: an unknown model, a disk that is full) only fails the job.
//
// Events (`onDidX(listener) → unsubscribe`) carry plain data but for `error` (an Error, so the API layer
// can classify it); see the report in app/pipeline/README.md for how app/api forwards them.
import { CancelledError, isCancelled, throwIfCancelled, UserError } from '../common/errors.ts';
import { studioPaths } from '../common/paths.ts';
import type { GenerationCopies, GenerationTimings } from '../images/generation-settings.ts';
import type { GenerationRow } from '../library/generations-table.ts';
import type { Library } from '../library/library.ts';
import type { SchedulerConfig } from '../schedulers/scheduler-config.ts';
import { createSampler } from './create-sampler.ts';
import { imageRecordSettings } from './generation-record.ts';
import { imageSeed, validateGenerationInput, type GenerationInput, type GenerationSettings } from './generation-request.ts';
import { describeTarget, type GenerationTarget, type ResolvedTarget, type TargetKind, type TargetModels, type TargetResolver } from './generation-target.ts';
import { checkGenerationMemory, memoryBudgetBytes } from './memory-estimate.ts';
import { JobQueue, type JobInfo } from './job-queue.ts';
import type { EngineTurns, TrainingTurn } from './engine-turns.ts';
import { Emitter, type Subscribe } from '../common/emitter.ts';
import { createModelRuntime, type ModelRuntime } from './model-runtime.ts';
import { previewDataUrl } from './preview-image.ts';
import { resolveStoredModel } from './stored-model-target.ts';
import { generateImage, type GenerationPhase, type ImageResult, type ImageTransfers } from './text-to-image.ts';

export interface GenerationJobRequest {
  /** Validated here (validateGenerationInput); a missing seed is drawn at random and reported. */
  readonly settings: GenerationInput;
  readonly target: GenerationTarget;
  /** Text for queue lists; default: the target and the start of the prompt. */
  readonly label?: string;
}

interface EngineJob {
  readonly settings: GenerationSettings;
  readonly target: GenerationTarget;
  readonly label: string;
}

export interface QueuedGeneration {
  readonly id: string;
  readonly status: 'queued' | 'running';
  readonly settings: GenerationSettings;
  readonly target: GenerationTarget;
  readonly label: string;
  /** ISO 8601. */
  readonly enqueuedAt: string;
  /** While running: steps done of the current image, and its steps in total. */
  readonly step?: number;
  readonly totalSteps?: number;
}

export interface GenerationProgressEvent {
  readonly jobId: string;
  /**
   * 'waiting' (step 0) while a training run finishes its current step before the job starts (`training`
   * says where the run is); 'load' (step 0) while the job's models load, before its first image (`models`
   * counts them); 'encode' (step 0) before the first step of each image, 'denoise' per step, 'decode'
   * after the last.
   */
  readonly phase: GenerationPhase | 'waiting';
  /** During 'waiting': the training run the job waits for (it pauses after its current unit of work). */
  readonly training?: TrainingTurn;
  /** During 'load': models loaded so far and to load ("Loading 3 models… 2/3"). */
  readonly models?: { readonly done: number; readonly total: number };
  /** Steps of the current image done (0 … total) and in total. */
  readonly step: number;
  readonly total: number;
  /** Since the job started, ms. */
  readonly elapsedMs: number;
  /** Time left for the whole job from the mean step time so far (decodes not counted); null before a step. */
  readonly etaMs: number | null;
  /** PNG data URL of the latent preview, every `previewEvery` steps and at the last step. */
  readonly preview?: string;
  /** Which image of the batch (0-based), of how many, and its seed. */
  readonly imageIndex: number;
  readonly imageCount: number;
  readonly seed: number;
}

export interface GenerationFinishedEvent {
  readonly jobId: string;
  readonly generations: readonly GenerationRow[];
}

export interface GenerationFailedEvent {
  readonly jobId: string;
  readonly error: Error;
  /** True when the job was cancelled or removed (then `error` is a CancelledError). */
  readonly cancelled: boolean;
  /** Images of the batch finished (and kept) before the job stopped. */
  readonly generations: readonly GenerationRow[];
}

export type JobOutcome =
  | { readonly status: 'done'; readonly generations: readonly GenerationRow[] }
  | { readonly status: 'failed'; readonly error: Error; readonly generations: readonly GenerationRow[] }
  | { readonly status: 'cancelled'; readonly generations: readonly GenerationRow[] };

export interface EnqueuedGeneration {
  readonly jobId: string;
  /** The validated settings, seed resolved. */
  readonly settings: GenerationSettings;
  /** Resolves (never rejects) when the job is over, however it ended. */
  readonly settled: Promise<JobOutcome>;
}

export interface GenerationEngineOptions {
  /** History and image store; its home is the studio home whose model store the engine reads. */
  readonly library: Library;
  /** Sessions to share (e.g. with app/ensemble); default: the engine's own, released by dispose(). */
  readonly runtime?: ModelRuntime;
  /** A latent preview every N steps (0 = none, the default). */
  readonly previewEvery?: number;
  /** Where exceptions thrown by event listeners go (default console.error). */
  readonly onListenerError?: (error: unknown) => void;
  /** Memory a job may need, bytes (memory-estimate.ts); default memoryBudgetBytes(), 80% of the machine's. */
  readonly memoryBudgetBytes?: number;
  /** Turns shared with a training run in the same process (engine-turns.ts): jobs wait for its current step. */
  readonly turns?: EngineTurns;
}

interface RunningState {
  step: number;
  totalSteps: number;
}

export class GenerationEngine {
  readonly runtime: ModelRuntime;
  readonly #library: Library;
  readonly #ownsRuntime: boolean;
  readonly #previewEvery: number;
  readonly #queue: JobQueue<EngineJob, GenerationRow[]>;
  readonly #resolvers = new Map<TargetKind, TargetResolver>();
  readonly #targetModels = new Map<TargetKind, TargetModels>();
  readonly #memoryBudgetBytes: number;
  readonly #settle = new Map<string, (outcome: JobOutcome) => void>();
  readonly #rows = new Map<string, GenerationRow[]>();
  readonly #running = new Map<string, RunningState>();
  readonly #turns: EngineTurns | undefined;
  /** Per job: tells the turns it ended (registered at enqueue). */
  readonly #turnEnded = new Map<string, () => void>();
  /** Counts prepare() calls: a preparation stops when a newer one starts. */
  #preparing = 0;

  readonly #started: Emitter<{ readonly jobId: string }>;
  readonly #progress: Emitter<GenerationProgressEvent>;
  readonly #finished: Emitter<GenerationFinishedEvent>;
  readonly #failed: Emitter<GenerationFailedEvent>;
  readonly #queueChanged: Emitter<{ readonly jobs: readonly QueuedGeneration[] }>;

  readonly onDidStart: Subscribe<{ readonly jobId: string }>;
  readonly onDidProgress: Subscribe<GenerationProgressEvent>;
  readonly onDidFinish: Subscribe<GenerationFinishedEvent>;
  readonly onDidFail: Subscribe<GenerationFailedEvent>;
  readonly onDidChangeQueue: Subscribe<{ readonly jobs: readonly QueuedGeneration[] }>;

  constructor(options: GenerationEngineOptions) {
    this.#library = options.library;
    this.#ownsRuntime = options.runtime === undefined;
    this.runtime = options.runtime ?? createModelRuntime({ sessionOptions: { optimizedModels: studioPaths(options.library.home).optimizedModels } });
    const previewEvery = options.previewEvery ?? 0;
    if (!Number.isInteger(previewEvery) || previewEvery < 0) {
      throw new UserError('invalid-argument', `previewEvery must be a whole number ≥ 0, got ${previewEvery}.`);
    }
    this.#previewEvery = previewEvery;
    this.#memoryBudgetBytes = options.memoryBudgetBytes ?? memoryBudgetBytes();
    this.#turns = options.turns;
    const onError = options.onListenerError;
    this.#started = new Emitter(onError);
    this.#progress = new Emitter(onError);
    this.#finished = new Emitter(onError);
    this.#failed = new Emitter(onError);
    this.#queueChanged = new Emitter(onError);
    this.onDidStart = this.#started.event;
    this.onDidProgress = this.#progress.event;
    this.onDidFinish = this.#finished.event;
    this.onDidFail = this.#failed.event;
    this.onDidChangeQueue = this.#queueChanged.event;
    this.#resolvers.set('model', (target, context) => resolveStoredModel((target as { modelId: string }).modelId, context));
    this.#targetModels.set('model', (target) => [(target as { modelId: string }).modelId]);
    this.#queue = new JobQueue<EngineJob, GenerationRow[]>((job, signal, id) => this.#run(job, signal, id), {
      onDidChange: () => this.#queueChanged.fire({ jobs: this.queue() }),
      onDidFinish: (info, rows) => this.#end(info.id, { status: 'done', generations: rows }),
      onDidFail: (info, error) =>
        this.#end(info.id, info.state === 'cancelled' ? { status: 'cancelled', generations: this.#rowsOf(info.id) } : { status: 'failed', error, generations: this.#rowsOf(info.id) }),
    });
  }

  /** The studio home (the library's). */
  get home(): string {
    return this.#library.home;
  }

  /**
   * Plugs in how targets of `kind` run. app/ensemble registers 'recipe'; registering 'model' replaces
   * the built-in single-model resolver (resolveStoredModel). `models` names the stored models a target
   * runs, for the memory check at enqueue; without it targets of this kind are not checked.
   */
  registerTarget(kind: TargetKind, resolver: TargetResolver, models?: TargetModels): void {
    this.#resolvers.set(kind, resolver);
    if (models) this.#targetModels.set(kind, models);
    else this.#targetModels.delete(kind);
  }

  /**
   * Gets `target` ready while the user is still writing the prompt: resolves it (a recipe's graph is
   * compiled) and loads its models, so the job that follows starts at its first step. Only while no job
   * runs or waits (the inference thread is theirs) and only for a target the machine can hold; it stops
   * between models when a job is enqueued or another target is prepared (a session already loading
   * finishes). Never throws: a target that cannot run fails when it is enqueued, in its own words.
   * Resolves when done or given up; true when every model it needs is loaded.
   */
  async prepare(target: GenerationTarget): Promise<boolean> {
    const turn = ++this.#preparing;
    // A training run that holds the engine (or is paused for jobs) keeps it: no models are loaded beside it.
    const stale = () => turn !== this.#preparing || this.#queue.list().length > 0 || this.#turns?.trainingRun !== undefined;
    if (stale()) return false;
    const controller = new AbortController();
    let resolved: ResolvedTarget | undefined;
    try {
      this.#checkMemory(target, validateGenerationInput({ prompt: '' }));
      resolved = await this.#resolve(target, controller.signal);
      if (!resolved.models || stale()) return false;
      const models = resolved.models;
      const watch = setInterval(() => stale() && controller.abort(), 50);
      try {
        await this.runtime.load(models, { signal: controller.signal });
      } finally {
        clearInterval(watch);
      }
      return models.every((path) => this.runtime.isLoaded(path));
    } catch {
      return false;
    } finally {
      await resolved?.release?.();
    }
  }

  /** Validates the request and adds it to the end of the queue. Throws UserError for bad settings. */
  enqueue(request: GenerationJobRequest): EnqueuedGeneration {
    const settings = validateGenerationInput(request.settings);
    if (!this.#resolvers.has(request.target.kind)) {
      throw new UserError('unsupported', `This engine cannot run '${request.target.kind}' targets yet.`, 'Generate with one model (a model target) instead.');
    }
    this.#checkMemory(request.target, settings);
    const label = request.label ?? `${describeTarget(request.target)}: ${settings.prompt.slice(0, 60)}`;
    let settle!: (outcome: JobOutcome) => void;
    const settled = new Promise<JobOutcome>((resolve) => (settle = resolve));
    // The job starts in a later microtask, so its settle function is in place before anything can end it.
    const jobId = this.#queue.enqueue({ settings, target: request.target, label });
    this.#settle.set(jobId, settle);
    if (this.#turns) this.#turnEnded.set(jobId, this.#turns.generationQueued());
    return { jobId, settings, settled };
  }

  /** The running job first, then the waiting ones in order. */
  queue(): QueuedGeneration[] {
    return this.#queue.list().map((info) => this.#describe(info));
  }

  /** Moves a waiting job to `toIndex` among the waiting jobs (0 = next). False for unknown/running ids. */
  reorder(jobId: string, toIndex: number): boolean {
    return this.#queue.move(jobId, toIndex);
  }

  /**
   * Cancels a job: a waiting one leaves the queue at once, the running one stops within one step. Either
   * way it ends as cancelled (onDidFail with cancelled: true). False when the id is unknown.
   */
  cancel(jobId: string): boolean {
    const waiting = this.#queue.list().find((info) => info.id === jobId && info.state === 'queued');
    if (!this.#queue.remove(jobId)) return false;
    if (waiting) this.#end(jobId, { status: 'cancelled', generations: [] });
    return true;
  }

  /** The contract's `remove`: the same as cancel. */
  remove(jobId: string): boolean {
    return this.cancel(jobId);
  }

  /** Resolves when no job is running or waiting. */
  whenIdle(): Promise<void> {
    return this.#queue.whenIdle();
  }

  /** Cancels every job, waits for the running one to stop and releases the engine's own sessions. */
  async dispose(): Promise<void> {
    for (const job of [...this.#queue.list()].reverse()) this.cancel(job.id);
    await this.whenIdle();
    if (this.#ownsRuntime) await this.runtime.sessions.clear();
  }

  /**
   * Refuses a job the machine cannot hold (checkGenerationMemory: the estimate, and the size that fits).
   * CPU only: the GPU providers' device memory is not the machine's and is not measured here. A target
   * whose models cannot be named (an invalid recipe) is left to fail when it runs, in its own words.
   */
  #checkMemory(target: GenerationTarget, settings: GenerationSettings): void {
    if ((this.runtime.sessionOptions.backend ?? 'cpu') !== 'cpu') return;
    let modelIds: readonly string[];
    try {
      modelIds = this.#targetModels.get(target.kind)?.(target) ?? [];
    } catch {
      return;
    }
    if (modelIds.length > 0) checkGenerationMemory(this.home, modelIds, settings, this.#memoryBudgetBytes);
  }

  #describe(info: JobInfo<EngineJob>): QueuedGeneration {
    const running = this.#running.get(info.id);
    return {
      id: info.id,
      status: info.state === 'running' ? 'running' : 'queued',
      settings: info.payload.settings,
      target: info.payload.target,
      label: info.payload.label,
      enqueuedAt: new Date(info.enqueuedAt).toISOString(),
      ...(running ? { step: running.step, totalSteps: running.totalSteps } : {}),
    };
  }

  #rowsOf(jobId: string): readonly GenerationRow[] {
    return this.#rows.get(jobId) ?? [];
  }

  #end(jobId: string, outcome: JobOutcome): void {
    this.#turnEnded.get(jobId)?.();
    this.#turnEnded.delete(jobId);
    this.#running.delete(jobId);
    this.#rows.delete(jobId);
    if (outcome.status === 'done') this.#finished.fire({ jobId, generations: outcome.generations });
    else {
      const error = outcome.status === 'failed' ? outcome.error : new CancelledError();
      this.#failed.fire({ jobId, error, cancelled: outcome.status === 'cancelled', generations: outcome.generations });
    }
    const settle = this.#settle.get(jobId);
    this.#settle.delete(jobId);
    settle?.(outcome);
  }

  async #resolve(target: GenerationTarget, signal: AbortSignal): Promise<ResolvedTarget> {
    const resolver = this.#resolvers.get(target.kind);
    if (!resolver) throw new UserError('unsupported', `This engine cannot run '${target.kind}' targets yet.`);
    return resolver(target, { home: this.home, runtime: this.runtime, signal });
  }

  async #run(job: EngineJob, signal: AbortSignal, jobId: string): Promise<GenerationRow[]> {
    const jobStart = performance.now();
    const rows: GenerationRow[] = [];
    this.#rows.set(jobId, rows);
    this.#started.fire({ jobId });
    throwIfCancelled(signal);
    // A training step in progress ends first (the run then waits for the generation queue to empty).
    await this.#turns?.generationTurn(signal, (training) =>
      this.#progress.fire({
        jobId, phase: 'waiting', step: 0, total: job.settings.steps, elapsedMs: performance.now() - jobStart, etaMs: null,
        imageIndex: 0, imageCount: job.settings.batchCount, seed: imageSeed(job.settings, 0), training,
      }),
    );
    const resolved = await this.#resolve(job.target, signal);
    try {
      const { settings } = job;
      const state: RunningState = { step: 0, totalSteps: settings.steps };
      this.#running.set(jobId, state);
      if (resolved.models && resolved.models.length > 0) {
        const first = createSampler(settings, resolved.schedule);
        const total = first.timesteps.length;
        try {
          await this.runtime.load(resolved.models, {
            signal,
            onProgress: (done, count) =>
              this.#progress.fire({
                jobId, phase: 'load', step: 0, total, elapsedMs: performance.now() - jobStart, etaMs: null,
                imageIndex: 0, imageCount: settings.batchCount, seed: imageSeed(settings, 0), models: { done, total: count },
              }),
          });
        } catch (error) {
          // A model that cannot load fails the first image, as it did when it loaded at the first step.
          if (!isCancelled(error) && !signal.aborted && !(error instanceof UserError)) this.#recordFailure(settings, 0, resolved, first.config, error);
          throw error;
        }
      }
      // Job-wide step statistics for the ETA.
      let earlierStepsMs = 0;
      let earlierSteps = 0;
      for (let index = 0; index < settings.batchCount; index++) {
        throwIfCancelled(signal);
        const imageStart = performance.now();
        const scheduler = createSampler(settings, resolved.schedule);
        const total = scheduler.timesteps.length;
        const stepsAfter = (settings.batchCount - 1 - index) * total;
        state.totalSteps = total;
        const seed = imageSeed(settings, index);
        const emit = (phase: GenerationPhase, step: number, etaMs: number | null, preview?: string) => {
          state.step = step;
          this.#progress.fire({
            jobId, phase, step, total, elapsedMs: performance.now() - jobStart, etaMs,
            ...(preview === undefined ? {} : { preview }), imageIndex: index, imageCount: settings.batchCount, seed,
          });
        };
        const meanStepMs = () => (earlierSteps > 0 ? earlierStepsMs / earlierSteps : null);
        let result: ImageResult;
        try {
          result = await generateImage(
            resolved.denoiser,
            resolved.decoder,
            { prompt: settings.prompt, negativePrompt: settings.negativePrompt, width: settings.width, height: settings.height, guidance: settings.guidance, seed, scheduler },
            {
              signal,
              previewEvery: this.#previewEvery,
              // Copies are counted on GPU providers only: the CPU has none to count.
              ...(this.runtime.backend === 'cpu' ? {} : { transfers: this.runtime.transfers }),
              onPhase: (phase) => {
                const mean = meanStepMs();
                if (phase === 'encode') emit('encode', 0, mean === null ? null : mean * (total + stepsAfter));
                if (phase === 'decode') emit('decode', total, mean === null ? null : mean * stepsAfter);
              },
              onProgress: (progress) => {
                const mean = (earlierStepsMs + progress.elapsedMs) / (earlierSteps + progress.step);
                const preview = progress.preview ? previewDataUrl(progress.preview) : undefined;
                emit('denoise', progress.step, mean * (total - progress.step + stepsAfter), preview);
              },
            },
          );
        } catch (error) {
          if (!isCancelled(error) && !signal.aborted && !(error instanceof UserError)) {
            this.#recordFailure(settings, index, resolved, scheduler.config, error);
          }
          throw error;
        }
        earlierStepsMs += result.timings.stepMs.reduce((sum, ms) => sum + ms, 0);
        earlierSteps += total;
        // The last moment to honour a cancel: after this the image is written.
        throwIfCancelled(signal);
        const timings: GenerationTimings = {
          totalMs: performance.now() - imageStart,
          stepMs: result.timings.stepMs,
          phases: { encodePrompt: result.timings.encodeMs, decode: result.timings.decodeMs },
          ...(result.transfers ? { copies: generationCopies(result.transfers) } : {}),
        };
        rows.push(
          await this.#library.recordGenerationInSlices({
            settings: imageRecordSettings(settings, index, resolved.snapshot, scheduler.config, resolved.imageExtras?.()),
            image: { width: result.rgb.width, height: result.rgb.height, channels: 3, data: result.rgb.rgb },
            timings,
          }, signal),
        );
      }
      return rows;
    } finally {
      this.#running.delete(jobId);
      await resolved.release?.();
    }
  }

  /** A 'failed' history row for image `index`; never hides the original error. */
  #recordFailure(settings: GenerationSettings, index: number, resolved: ResolvedTarget, scheduler: Readonly<SchedulerConfig>, error: unknown): void {
    try {
      this.#library.generations.insert({
        createdAt: Date.now(),
        settings: imageRecordSettings(settings, index, resolved.snapshot, scheduler),
        status: 'failed',
        error: error instanceof Error ? error.message : String(error),
      });
    } catch (recordError) {
      console.error('could not record the failed generation:', recordError);
    }
  }
}

/** The loop's count of copies as the job's stats keep it. */
function generationCopies(transfers: ImageTransfers): GenerationCopies {
  return {
    deviceResident: transfers.deviceResident,
    perStep: transfers.perStep.map((step) => step.hostToDevice + step.deviceToHost),
    previews: transfers.previews,
    hostToDevice: transfers.total.hostToDevice,
    deviceToHost: transfers.total.deviceToHost,
  };
}
