// Training runs over the API (app/training/studio-training.ts): one run at a time on a job queue in the
// engine process, progress as events, cancel = pause (a checkpoint is written, resume continues).
// A run waits for the queued generations to finish before it starts; while it trains it takes turns with
// the generation queue (app/pipeline/engine-turns.ts): a generation enqueued meanwhile runs after the
// current step, the run pauses until the generation queue is empty ('turn' progress events) and goes on.
import { UserError } from '../common/errors.ts';
import { Emitter } from '../common/emitter.ts';
import { checkDataset } from '../datasets/image-dataset.ts';
import type { TrainingRunRow } from '../library/training-runs-table.ts';
import { JobQueue } from '../pipeline/job-queue.ts';
import type { EngineTurns } from '../pipeline/engine-turns.ts';
import { readRunFile } from '../training/afa-training-job.ts';
import {
  createTrainingRun,
  deleteTrainingRun,
  getTrainingRun,
  listTrainingRuns,
  checkTrainingRunCanResume,
  readDatasetSource,
  runTraining,
  storedDataset,
  trainingRunDir,
  trainingRunSamples,
  withStudioPaths,
  type DatasetSource,
  type StudioStepSamples,
} from '../training/studio-training.ts';
import { ApiError } from './api-error.ts';
import type { DatasetPreview, TrainingApi, TrainingHistorySelection, TrainingProgress, TrainingRunInfo, TrainingSamples, TrainingSettingsInput } from './contract.ts';

export interface TrainingServiceConfig {
  readonly home: string;
  /** Resolves when no generation is queued or running. */
  readonly generationIdle?: () => Promise<void>;
  /** The engine's turns, shared with the generation engine; without them runs do not yield to generations. */
  readonly turns?: EngineTurns;
}

function info(home: string, row: TrainingRunRow): TrainingRunInfo {
  const config = row.config as { models?: string[]; data?: string; dataset?: unknown; settings?: TrainingRunInfo['settings'] };
  const dataset = storedDataset(config);
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    memberModelIds: config.models ?? [],
    dataPath: dataset.kind === 'folder' ? dataset.path : '',
    dataset:
      dataset.kind === 'folder'
        ? dataset
        : { kind: 'history', count: dataset.ids.length, ...(dataset.selection.ids ? { picked: true } : {}), ...(dataset.selection.text ? { text: dataset.selection.text } : {}), ...(dataset.selection.favouritesOnly ? { favouritesOnly: true } : {}) },
    samples: trainingRunSamples(home, row.id).map(samplesInfo),
    settings: config.settings ?? {},
    metrics: row.metrics,
    microBatch: (config.settings?.microBatch as number | undefined) ?? readRunFile(trainingRunDir(home, row.id))?.microBatch ?? null,
    aggregatorId: row.aggregatorId,
    error: row.error,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

function samplesInfo(samples: StudioStepSamples): TrainingSamples {
  return { step: samples.step, images: samples.images.map((image) => ({ prompt: image.prompt, seed: image.seed, image: { path: image.path, width: image.width, height: image.height } })) };
}

/** The request's dataset: a folder path or a history selection (the schema admits exactly one). */
function datasetSource(request: { path?: string; history?: TrainingHistorySelection }): DatasetSource {
  if (request.history) return { kind: 'history', ...request.history };
  if (request.path === undefined) throw new ApiError('bad-request', 'Give either a dataset folder or a history selection.');
  return { kind: 'folder', path: request.path };
}

export class TrainingService implements TrainingApi {
  readonly #config: TrainingServiceConfig;
  readonly #progress = new Emitter<TrainingProgress>();
  readonly #changed = new Emitter<{ runId: string; status: TrainingRunInfo['status'] }>();
  readonly onDidProgress = this.#progress.event;
  readonly onDidChange = this.#changed.event;
  readonly #jobs = new Map<string, string>();
  readonly #queue: JobQueue<{ runId: string }, void>;

  constructor(config: TrainingServiceConfig) {
    this.#config = config;
    this.#queue = new JobQueue<{ runId: string }, void>((payload, signal) => this.#run(payload.runId, signal), {
      onDidFinish: (job) => this.#finished(job.payload.runId),
      onDidFail: (job) => this.#finished(job.payload.runId),
    });
  }

  async list(): Promise<TrainingRunInfo[]> {
    return listTrainingRuns(this.#config.home).map((row) => info(this.#config.home, row));
  }

  async get(request: { id: string }): Promise<TrainingRunInfo> {
    return info(this.#config.home, getTrainingRun(this.#config.home, request.id));
  }

  async previewDataset(request: { path?: string; history?: TrainingHistorySelection; missingCaptions?: 'refuse' | 'use-file-name' }): Promise<DatasetPreview> {
    const dataset = readDatasetSource(this.#config.home, datasetSource(request), request.missingCaptions);
    return {
      root: dataset.root,
      layout: dataset.layout,
      count: dataset.items.length,
      items: dataset.items.slice(0, 60).map((item) => ({ name: item.name, path: item.path, caption: item.caption, captionSource: item.captionSource })),
      problems: dataset.problems.map((problem) => ({ ...problem, files: problem.files.slice(0, 100) })),
    };
  }

  async start(request: { memberModelIds: string[]; dataPath?: string; history?: TrainingHistorySelection; settings?: TrainingSettingsInput; name?: string }): Promise<TrainingRunInfo> {
    const source = datasetSource({ path: request.dataPath, history: request.history });
    checkDataset(readDatasetSource(this.#config.home, source, request.settings?.missingCaptions));
    const row = createTrainingRun(this.#config.home, { models: request.memberModelIds, dataset: source, settings: request.settings, name: request.name });
    this.#enqueue(row.id);
    return info(this.#config.home, row);
  }

  async resume(request: { id: string }): Promise<TrainingRunInfo> {
    const row = getTrainingRun(this.#config.home, request.id);
    if (row.status === 'done') throw new UserError('conflict', `Training run ${row.id} has finished.`);
    if (this.#jobs.has(row.id)) throw new UserError('conflict', `Training run ${row.id} is already queued or running.`);
    checkTrainingRunCanResume(this.#config.home, row.id);
    this.#enqueue(row.id);
    return info(this.#config.home, row);
  }

  async cancel(request: { id: string }): Promise<void> {
    const job = this.#jobs.get(request.id);
    if (!job || !this.#queue.remove(job)) throw new ApiError('not-found', 'That training run is not queued or running.');
  }

  async delete(request: { id: string }): Promise<void> {
    if (this.#jobs.has(request.id)) throw new UserError('conflict', 'Cancel the run before deleting it.');
    deleteTrainingRun(this.#config.home, request.id);
    this.#changed.fire({ runId: request.id, status: 'cancelled' });
  }

  /** Resolves when no run is queued or running. */
  whenIdle(): Promise<void> {
    return this.#queue.whenIdle();
  }

  async dispose(): Promise<void> {
    this.#queue.cancelRunning();
    for (const job of this.#queue.list()) this.#queue.remove(job.id);
    await this.whenIdle();
  }

  #enqueue(runId: string): void {
    this.#jobs.set(runId, this.#queue.enqueue({ runId }));
    this.#changed.fire({ runId, status: 'queued' });
  }

  async #run(runId: string, signal: AbortSignal): Promise<void> {
    await this.#config.generationIdle?.();
    this.#changed.fire({ runId, status: 'running' });
    const turns = this.#config.turns;
    const name = getTrainingRun(this.#config.home, runId).name;
    await runTraining(this.#config.home, runId, {
      signal,
      ...(turns
        ? {
            turn: <T>(at: { readonly step: number; readonly totalSteps: number }, work: () => Promise<T>) =>
              turns.trainingUnit({ runId, name, ...at }, signal, work, {
                onYield: (generations) => this.#progress.fire({ runId, kind: 'turn', yielded: true, ...at, generations }),
                onResume: () => this.#progress.fire({ runId, kind: 'turn', yielded: false, ...at, generations: 0 }),
              }),
          }
        : {}),
      onEvent: (event) => {
        if (event.kind === 'prepare') this.#progress.fire({ runId, kind: 'prepare', phase: event.progress.phase, done: event.progress.done, total: event.progress.total, message: event.progress.message });
        else if (event.kind === 'step') this.#progress.fire({ runId, ...event });
        else if (event.kind === 'validation') {
          this.#progress.fire({
            runId,
            kind: 'validation',
            step: event.step,
            loss: event.loss,
            members: event.reference?.members ?? null,
            uniformAverage: event.reference?.uniformAverage ?? null,
            samples: event.samples ? samplesInfo(withStudioPaths(this.#config.home, event.samples)) : null,
          });
        }
      },
    });
  }

  #finished(runId: string): void {
    this.#jobs.delete(runId);
    let status: TrainingRunInfo['status'] = 'failed';
    try {
      status = getTrainingRun(this.#config.home, runId).status;
    } catch {
      // deleted meanwhile
    }
    this.#changed.fire({ runId, status });
  }
}
