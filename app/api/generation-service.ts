// Generation over app/pipeline's GenerationEngine (queue, batches, previews, cancellation, history rows)
// with app/ensemble's recipe target plugged in. The engine is built from the settings (execution
// provider, threads, previews) and rebuilt, once idle, after they change.
import { studioPaths } from '../common/paths.ts';
import { recipeModelIds, resolveRecipe } from '../ensemble/recipe-target.ts';
import type { Recipe as EnsembleRecipe } from '../ensemble/recipe.ts';
import type { Library } from '../library/library.ts';
import { GenerationEngine, type GenerationProgressEvent, type QueuedGeneration } from '../pipeline/generation-engine.ts';
import type { EngineTurns } from '../pipeline/engine-turns.ts';
import type { GenerationTarget } from '../pipeline/generation-target.ts';
import { createModelRuntime } from '../pipeline/model-runtime.ts';
import { chooseProvider, resolvePrecision } from '../runtime/provider-choice.ts';
import type { Backend } from '../runtime/onnx-runtime.ts';
import { ApiError, toErrorData } from './api-error.ts';
import type {
  GenerationApi, GenerationFinished, GenerationProgress, GenerationRequest, ImageSettingsReading, ImportSource, JobFailed, JobStarted, QueuedJob, RecipeRef, Settings,
} from './contract.ts';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { readImageInfo } from '../images/image-info.ts';
import { readingFor } from './image-settings.ts';
import { removeUpload, uploadedFile } from './uploads.ts';
import { Emitter } from '../common/emitter.ts';
import { generationSummary } from './generation-records.ts';
import type { HistoryService } from './history-service.ts';
import { recipeDocument, recipeOf } from './recipes-service.ts';

export interface GenerationServiceConfig {
  readonly library: Library;
  readonly history: HistoryService;
  readonly settings: () => Settings;
  /** Memory a generation may need, bytes; default memoryBudgetBytes() (80% of the machine's). */
  readonly memoryBudgetBytes?: number;
  /** Where the 'auto' provider choice is remembered (app/runtime/provider-choice.ts). */
  readonly providerChoiceFile: string;
  /** Turns shared with the training runs of the process (app/pipeline/engine-turns.ts). */
  readonly turns?: EngineTurns;
}

interface JobExtras {
  readonly request: GenerationRequest;
  readonly recipe: EnsembleRecipe;
  readonly compareSetId?: string;
}

export class GenerationService implements GenerationApi {
  readonly #config: GenerationServiceConfig;
  readonly #started = new Emitter<JobStarted>();
  readonly #progress = new Emitter<GenerationProgress>();
  readonly #finished = new Emitter<GenerationFinished>();
  readonly #failed = new Emitter<JobFailed>();
  readonly #queueChanged = new Emitter<{ jobs: readonly QueuedJob[] }>();
  readonly onDidStart = this.#started.event;
  readonly onDidProgress = this.#progress.event;
  readonly onDidFinish = this.#finished.event;
  readonly onDidFail = this.#failed.event;
  readonly onDidChangeQueue = this.#queueChanged.event;
  readonly #jobs = new Map<string, JobExtras>();
  #engine: GenerationEngine | undefined;
  #engineSettings = '';
  #unsubscribe: (() => void)[] = [];

  constructor(config: GenerationServiceConfig) {
    this.#config = config;
  }

  async readImageSettings(request: { source: ImportSource }): Promise<ImageSettingsReading> {
    const { source } = request;
    const home = this.#config.library.home;
    try {
      const path = source.kind === 'path' ? source.path : uploadedFile(home, source.uploadId);
      const fileName = source.kind === 'path' ? basename(source.path) : source.fileName;
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(path);
      } catch (error) {
        throw new ApiError('not-found', `${fileName} cannot be read: ${(error as Error).message}.`);
      }
      return readingFor(fileName, readImageInfo(bytes), this.#config.library.models.list());
    } finally {
      if (source.kind === 'upload') removeUpload(home, source.uploadId);
    }
  }

  async enqueue(request: GenerationRequest): Promise<JobStarted> {
    return { jobId: await this.enqueueWith(request) };
  }

  async prepare(request: { recipe: RecipeRef }): Promise<{ ready: boolean }> {
    let target: GenerationTarget;
    try {
      ({ target } = this.#targetOf(request.recipe));
    } catch {
      return { ready: false };
    }
    const engine = await this.#engineForNextJob();
    return { ready: await engine.prepare(target) };
  }

  /** The engine's target for a recipe reference, and the recipe document it runs. */
  #targetOf(ref: RecipeRef): { recipe: EnsembleRecipe; target: GenerationTarget } {
    const { library } = this.#config;
    if ('recipeId' in ref) {
      const row = library.recipes.get(ref.recipeId);
      if (!row) throw new ApiError('not-found', 'That recipe does not exist any more.', 'Pick another recipe.');
      const recipe = recipeDocument(library, row.name, recipeOf(row));
      return { recipe, target: { kind: 'recipe', recipe, recipeId: row.id } };
    }
    const recipe = recipeDocument(library, defaultName(library, ref.spec.members.map((m) => m.modelId)), ref.spec);
    return { recipe, target: { kind: 'recipe', recipe } };
  }

  /** enqueue, remembering the comparison set the job belongs to. */
  async enqueueWith(request: GenerationRequest, compareSetId?: string): Promise<string> {
    const { recipe, target } = this.#targetOf(request.recipe);
    const engine = await this.#engineForNextJob();
    const { jobId } = engine.enqueue({
      target,
      label: `${recipe.name} · ${shorten(request.prompt, 80) || '(no prompt)'}`,
      settings: {
        prompt: request.prompt,
        negativePrompt: request.negativePrompt,
        width: request.width,
        height: request.height,
        steps: request.steps,
        guidance: request.guidance,
        sampler: request.sampler,
        ...(request.eta === undefined ? {} : { eta: request.eta }),
        ...(request.seed === null ? {} : { seed: request.seed }),
        batchCount: request.batchCount,
      },
    });
    this.#jobs.set(jobId, { request, recipe, ...(compareSetId ? { compareSetId } : {}) });
    return jobId;
  }

  async queue(): Promise<QueuedJob[]> {
    return this.#engine ? this.#engine.queue().map((job) => this.#queued(job)) : [];
  }

  async reorder(request: { jobId: string; toIndex: number }): Promise<QueuedJob[]> {
    if (!this.#engine?.reorder(request.jobId, request.toIndex)) throw new ApiError('not-found', 'That job is not waiting in the queue.');
    return this.queue();
  }

  async remove(request: { jobId: string }): Promise<void> {
    if (!this.#engine?.remove(request.jobId)) throw new ApiError('not-found', 'That job is not in the queue any more.');
  }

  async cancel(request: { jobId: string }): Promise<void> {
    if (!this.#engine?.cancel(request.jobId)) throw new ApiError('not-found', 'That job is not in the queue any more.');
  }

  /** Resolves when no generation is queued or running. */
  whenIdle(): Promise<void> {
    return this.#engine?.whenIdle() ?? Promise.resolve();
  }

  /** Why a model cannot be deleted now (a queued or running job uses it), or undefined. */
  inUse(modelId: string): string | undefined {
    const job = this.#engine?.queue().find((queued) => this.#jobs.get(queued.id)?.recipe.members.some((m) => m.modelId === modelId));
    return job ? `The model is used by a queued generation (${job.label}); cancel it first.` : undefined;
  }

  /** The recipe a job runs (for comparisons). */
  jobRecipe(jobId: string): EnsembleRecipe | undefined {
    return this.#jobs.get(jobId)?.recipe;
  }

  async dispose(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    await this.#engine?.dispose();
  }

  /**
   * The engine for a new job: the current one, or a fresh one when the settings changed and it is idle.
   * One caller at a time: making an engine awaits (the provider probe), and two callers at once (the
   * warm-up of `prepare` and an `enqueue`) each made one, the later replacing the earlier; a job queued
   * on the replaced engine then ran unseen: not in `queue()`, and Escape could not cancel it.
   */
  #engineForNextJob(): Promise<GenerationEngine> {
    const next = this.#engineTurn.then(() => this.#currentOrNewEngine());
    this.#engineTurn = next.catch(() => undefined);
    return next;
  }

  #engineTurn: Promise<unknown> = Promise.resolve();

  async #currentOrNewEngine(): Promise<GenerationEngine> {
    const settings = this.#config.settings();
    const key = JSON.stringify([settings.backend, settings.threads, settings.previews, settings.precision]);
    if (this.#engine && (key === this.#engineSettings || this.#engine.queue().length > 0)) return this.#engine;
    const previous = this.#engine;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    await previous?.dispose();
    // 'auto' measures the providers once per machine (a short probe; remembered in providerChoiceFile).
    const choice = settings.backend === 'auto' ? await chooseProvider(this.#config.providerChoiceFile) : undefined;
    const backend = choice?.backend ?? (settings.backend as Backend);
    const engine = new GenerationEngine({
      library: this.#config.library,
      runtime: createModelRuntime({
        sessionOptions: { backend, optimizedModels: studioPaths(this.#config.library.home).optimizedModels, ...(settings.threads > 0 ? { intraOpThreads: settings.threads } : {}) },
        precision: resolvePrecision(settings.precision, choice),
      }),
      previewEvery: settings.previews ? 1 : 0,
      ...(this.#config.turns ? { turns: this.#config.turns } : {}),
      // A job the machine cannot hold is refused at enqueue with the estimate (app/pipeline/memory-estimate.ts).
      ...(this.#config.memoryBudgetBytes ? { memoryBudgetBytes: this.#config.memoryBudgetBytes } : {}),
    });
    engine.registerTarget('recipe', (target, context) => resolveRecipe(target as { recipe: unknown; recipeId?: string }, context), (target) => recipeModelIds(target as { recipe: unknown }));
    this.#unsubscribe = this.#subscribe(engine);
    this.#engine = engine;
    this.#engineSettings = key;
    return engine;
  }

  #subscribe(engine: GenerationEngine): (() => void)[] {
    const recorded = (rows: readonly { id: string }[]) => {
      if (rows.length > 0) this.#config.history.notifyAdded(rows.map((row) => row.id));
    };
    const thinning = new ProgressThinning();
    return [
      engine.onDidStart((event) => this.#started.fire({ jobId: event.jobId })),
      engine.onDidProgress((event) =>
        thinning.keep(event) && this.#progress.fire({
          jobId: event.jobId,
          // Steps of the whole batch, so a 4-image job's bar fills once.
          step: event.imageIndex * event.total + event.step,
          total: event.imageCount * event.total,
          phase: event.phase,
          elapsedMs: event.elapsedMs,
          etaMs: event.etaMs,
          image: { index: event.imageIndex + 1, count: event.imageCount },
          ...(event.models ? { models: event.models } : {}),
          ...(event.training ? { training: event.training } : {}),
          ...(event.preview ? { preview: event.preview } : {}),
        }),
      ),
      engine.onDidFinish((event) => {
        thinning.forget(event.jobId);
        recorded(event.generations);
        this.#jobs.delete(event.jobId);
        this.#finished.fire({ jobId: event.jobId, generations: event.generations.map(generationSummary) });
      }),
      engine.onDidFail((event) => {
        thinning.forget(event.jobId);
        recorded(event.generations);
        this.#jobs.delete(event.jobId);
        const error = toErrorData(event.error);
        // The client hears the user's words; the log keeps the whole error, paths included.
        if (error.code === 'engine' || error.code === 'internal') console.error(`[engine] generation ${event.jobId} failed:`, event.error);
        this.#failed.fire({
          jobId: event.jobId,
          error: event.cancelled ? { ...error, code: 'cancelled' } : error,
          cancelled: event.cancelled,
          ...(event.generations.length > 0 ? { generations: event.generations.map(generationSummary) } : {}),
        });
      }),
      engine.onDidChangeQueue((event) => this.#queueChanged.fire({ jobs: event.jobs.map((job) => this.#queued(job)) })),
    ];
  }

  #queued(job: QueuedGeneration): QueuedJob {
    const extras = this.#jobs.get(job.id);
    const request: GenerationRequest = extras ? { ...extras.request, seed: job.settings.seed } : fallbackRequest(job);
    return {
      id: job.id,
      status: job.status,
      request,
      label: job.label,
      enqueuedAt: job.enqueuedAt,
      ...(job.step === undefined ? {} : { step: job.step }),
      ...(job.totalSteps === undefined ? {} : { totalSteps: job.totalSteps }),
      ...(extras?.compareSetId ? { compareSetId: extras.compareSetId } : {}),
    };
  }
}

function shorten(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

/** A name for an unsaved recipe: its members' names (the method is shown next to it everywhere). */
function defaultName(library: Library, modelIds: readonly string[]): string {
  return modelIds.map((id) => library.models.get(id)?.name ?? id.slice(0, 10)).join(' + ');
}

function fallbackRequest(job: QueuedGeneration): GenerationRequest {
  const s = job.settings;
  const recipe = job.target.kind === 'model' ? { spec: { method: 'single' as const, members: [{ modelId: job.target.modelId }] } } : { spec: { method: 'single' as const, members: [] } };
  return { prompt: s.prompt, negativePrompt: s.negativePrompt, recipe, sampler: s.sampler, steps: s.steps, guidance: s.guidance, eta: s.eta, seed: s.seed, width: s.width, height: s.height, batchCount: s.batchCount };
}

/** The shortest time between two forwarded denoising-step events of one job (ProgressThinning). */
export const PROGRESS_INTERVAL_MS = 40;

/**
 * Thins the denoising-step events of fast jobs (a tiny model, a fast GPU) to one per PROGRESS_INTERVAL_MS
 * per job. Each event crosses to the page and re-renders it, and such jobs make about 100 steps a second
 * (the first-hour browser test's 500-step 64² images on 2 busy cores) — far more than a progress bar can
 * show. Every event that says something new still goes: each phase's first event (loading, encoding, the
 * first step of an image, decoding), the last step of each image, and events with a preview, model
 * loading counts or a training run to wait for. Jobs with steps slower than the interval lose nothing.
 */
export class ProgressThinning {
  readonly #last = new Map<string, { at: number; phase: string; image: number }>();
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  keep(event: GenerationProgressEvent): boolean {
    const at = this.#now();
    const last = this.#last.get(event.jobId);
    const telling = !last || last.phase !== event.phase || last.image !== event.imageIndex || event.phase !== 'denoise' || event.step >= event.total || event.preview !== undefined;
    if (!telling && at - last.at < PROGRESS_INTERVAL_MS) return false;
    this.#last.set(event.jobId, { at, phase: event.phase, image: event.imageIndex });
    return true;
  }

  forget(jobId: string): void {
    this.#last.delete(jobId);
  }
}
