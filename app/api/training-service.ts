// Training runs over the API (app/training/studio-training.ts): one run at a time on a job queue in the
// engine process, progress as events, cancel = pause (a checkpoint is written, resume continues).
// A run waits for the queued generations to finish before it starts; generations enqueued while it
// trains are not held back yet (they share the CPU with it).
import { UserError } from '../common/errors.ts';
import { Emitter } from '../common/emitter.ts';
import { checkDataset, scanImageDataset } from '../datasets/image-dataset.ts';
import type { TrainingRunRow } from '../library/training-runs-table.ts';
import { JobQueue } from '../pipeline/job-queue.ts';
import { createTrainingRun, deleteTrainingRun, getTrainingRun, listTrainingRuns, runTraining } from '../training/studio-training.ts';
import { ApiError } from './api-error.ts';
import type { DatasetPreview, TrainingApi, TrainingProgress, TrainingRunInfo, TrainingSettingsInput } from './contract.ts';

export interface TrainingServiceConfig {
  readonly home: string;
  /** Resolves when no generation is queued or running. */
  readonly generationIdle?: () => Promise<void>;
}

function info(row: TrainingRunRow): TrainingRunInfo {
  const config = row.config as { models?: string[]; data?: string; settings?: TrainingRunInfo['settings'] };
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    memberModelIds: config.models ?? [],
    dataPath: config.data ?? '',
    settings: config.settings ?? {},
    metrics: row.metrics,
    aggregatorId: row.aggregatorId,
    error: row.error,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
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
    return listTrainingRuns(this.#config.home).map(info);
  }

  async get(request: { id: string }): Promise<TrainingRunInfo> {
    return info(getTrainingRun(this.#config.home, request.id));
  }

  async previewDataset(request: { path: string; missingCaptions?: 'refuse' | 'use-file-name' }): Promise<DatasetPreview> {
    const dataset = scanImageDataset(request.path, { missingCaptions: request.missingCaptions });
    return {
      root: dataset.root,
      layout: dataset.layout,
      count: dataset.items.length,
      items: dataset.items.slice(0, 60).map((item) => ({ name: item.name, path: item.path, caption: item.caption, captionSource: item.captionSource })),
      problems: dataset.problems.map((problem) => ({ ...problem, files: problem.files.slice(0, 100) })),
    };
  }

  async start(request: { memberModelIds: string[]; dataPath: string; settings?: TrainingSettingsInput; name?: string }): Promise<TrainingRunInfo> {
    checkDataset(scanImageDataset(request.dataPath, { missingCaptions: request.settings?.missingCaptions }));
    const row = createTrainingRun(this.#config.home, { models: request.memberModelIds, data: request.dataPath, settings: request.settings, name: request.name });
    this.#enqueue(row.id);
    return info(row);
  }

  async resume(request: { id: string }): Promise<TrainingRunInfo> {
    const row = getTrainingRun(this.#config.home, request.id);
    if (row.status === 'done') throw new UserError('conflict', `Training run ${row.id} has finished.`);
    if (this.#jobs.has(row.id)) throw new UserError('conflict', `Training run ${row.id} is already queued or running.`);
    this.#enqueue(row.id);
    return info(row);
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
    await runTraining(this.#config.home, runId, {
      signal,
      onEvent: (event) => {
        if (event.kind === 'prepare') this.#progress.fire({ runId, kind: 'prepare', phase: event.progress.phase, done: event.progress.done, total: event.progress.total, message: event.progress.message });
        else if (event.kind === 'step') this.#progress.fire({ runId, ...event });
        else if (event.kind === 'validation') this.#progress.fire({ runId, kind: 'validation', step: event.step, loss: event.loss, members: event.reference?.members ?? null, uniformAverage: event.reference?.uniformAverage ?? null });
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
