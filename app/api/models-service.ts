// Models: the catalog (library models table) and imports into the model store (app/checkpoints).
// Imports run one after another as jobs with progress events; a web-mode upload is removed once its
// import ends, whatever the outcome.
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { planImport, readConfigDirectory, runImportPlan } from '../checkpoints/import-request.ts';
import { readModelManifest, removeStoredModel } from '../checkpoints/model-store.ts';
import type { Library } from '../library/library.ts';
import type { ModelRow } from '../library/models-table.ts';
import { ApiError, toErrorData } from './api-error.ts';
import type { ApiErrorData, ImportFinished, ImportModelRequest, JobFailed, JobProgress, JobStarted, ModelInfo, ModelsApi } from './contract.ts';
import { Emitter } from '../common/emitter.ts';
import { recipeOf } from './recipes-service.ts';
import { removeUpload, uploadedFile } from './uploads.ts';

/** The catalog row as the UI shows it; `precision` is the stored one, as `afa models` shows it. */
export function modelInfo(row: ModelRow, home: string, demo = false): ModelInfo {
  const manifest = readModelManifest(home, row.id);
  const stored = manifest?.precision ?? (row.precision === 'fp16' ? 'fp16' : 'fp32');
  return {
    id: row.id,
    name: row.name,
    sourceName: basename(row.sourcePath),
    sha256: row.sha256,
    sizeBytes: row.sizeBytes,
    architecture: row.architecture,
    precision: stored,
    sourcePrecision: manifest?.sourcePrecision ?? row.precision,
    importedAt: new Date(row.addedAt).toISOString(),
    ...(demo ? { demo } : {}),
  };
}

/** `error` with every mention of the uploaded copy's path replaced by the file's own name. */
function withFileName(error: ApiErrorData, uploadedPath: string, fileName: string): ApiErrorData {
  const replace = (text: string) => text.split(uploadedPath).join(fileName);
  return { ...error, message: replace(error.message), ...(error.hint ? { hint: replace(error.hint) } : {}) };
}

export interface ModelsServiceConfig {
  readonly home: string;
  readonly library: Library;
  /** Refuses deleting a model that queued jobs still need; answers the reason, or undefined. */
  readonly inUse?: (modelId: string) => string | undefined;
}

export class ModelsService implements ModelsApi {
  readonly #config: ModelsServiceConfig;
  readonly #progress = new Emitter<JobProgress>();
  readonly #finished = new Emitter<ImportFinished>();
  readonly #failed = new Emitter<JobFailed>();
  readonly #changed = new Emitter<{ reason: 'import' | 'delete' }>();
  readonly onDidImportProgress = this.#progress.event;
  readonly onDidImportFinish = this.#finished.event;
  readonly onDidImportFail = this.#failed.event;
  readonly onDidChange = this.#changed.event;
  readonly #jobs = new Map<string, AbortController>();
  /** Imports run one at a time: each is disk- and CPU-bound already. */
  #chain: Promise<void> = Promise.resolve();

  constructor(config: ModelsServiceConfig) {
    this.#config = config;
  }

  async list(): Promise<ModelInfo[]> {
    const demo = this.#config.library.demoItems.installed('model');
    return this.#config.library.models.list().map((row) => modelInfo(row, this.#config.home, demo.has(row.id)));
  }

  async get(request: { id: string }): Promise<ModelInfo> {
    const row = this.#config.library.models.get(request.id);
    if (!row) throw new ApiError('not-found', `There is no model ${request.id}.`);
    return modelInfo(row, this.#config.home, this.#config.library.demoItems.installed('model').has(row.id));
  }

  /** Another service added models (the demo install): the list changed. */
  announce(reason: 'import' | 'delete'): void {
    this.#changed.fire({ reason });
  }

  async import(request: ImportModelRequest): Promise<JobStarted> {
    const source = request.source.kind === 'path' ? request.source.path : uploadedFile(this.#config.home, request.source.uploadId);
    const name = request.name ?? (request.source.kind === 'upload' ? request.source.fileName.replace(/\.[^.]+$/, '') : undefined);
    // A wrong config folder is an immediate error rather than a failed job; what the source holds is the
    // job's to find out (a missing or bad file fails it as an event, like any import failure).
    if (request.configDirectory) readConfigDirectory(request.configDirectory);
    const jobId = `import-${randomBytes(6).toString('hex')}`;
    const controller = new AbortController();
    this.#jobs.set(jobId, controller);
    this.#chain = this.#chain.then(async () => {
      try {
        // The same import rules as `afa import` (configs and tokenizer from the config folder, every
        // expert of an AFA folder).
        const plan = planImport(source, { ...(name ? { name } : {}), ...(request.configDirectory ? { configDirectory: request.configDirectory } : {}) });
        const imported = await runImportPlan(plan, { home: this.#config.home, catalog: this.#config.library.models }, {
          signal: controller.signal,
          onProgress: (progress) => this.#progress.fire({ jobId, ...progress }),
        });
        const models = imported.map((result) => modelInfo(result.row!, this.#config.home));
        const aggregators = plan.aggregatorsFolder
          ? { path: plan.aggregatorsFolder, name: basename(plan.aggregatorsFolder), memberModelIds: models.map((model) => model.id) }
          : undefined;
        this.#finished.fire({ jobId, model: models[0]!, models, ...(aggregators ? { aggregators } : {}) });
        this.#changed.fire({ reason: 'import' });
      } catch (error) {
        const data = toErrorData(error);
        // The client hears the user's words; the log keeps the whole error, paths included.
        if (data.code === 'engine' || data.code === 'internal') console.error(`[engine] import ${jobId} failed:`, error);
        // An upload lives under the studio's temporary folder: name it as the person chose it.
        const named = request.source.kind === 'upload' ? withFileName(data, source, request.source.fileName) : data;
        this.#failed.fire({ jobId, error: named, cancelled: data.code === 'cancelled' });
      } finally {
        this.#jobs.delete(jobId);
        if (request.source.kind === 'upload') removeUpload(this.#config.home, request.source.uploadId);
      }
    });
    return { jobId };
  }

  async cancelImport(request: { jobId: string }): Promise<void> {
    const controller = this.#jobs.get(request.jobId);
    if (!controller) throw new ApiError('not-found', 'That import is not running any more.');
    controller.abort();
  }

  async delete(request: { id: string }): Promise<void> {
    const { library, home } = this.#config;
    const row = library.models.get(request.id);
    if (!row) throw new ApiError('not-found', `There is no model ${request.id}.`);
    const recipes = library.recipes.list().filter((recipe) => recipeOf(recipe).members.some((member) => member.modelId === request.id));
    if (recipes.length > 0) {
      throw new ApiError('conflict', `${row.name} is used by the recipe${recipes.length > 1 ? 's' : ''} ${recipes.map((r) => `“${r.name}”`).join(', ')}.`, 'Delete or change those recipes first.');
    }
    const busy = this.#config.inUse?.(request.id);
    if (busy) throw new ApiError('conflict', busy);
    removeStoredModel(home, request.id);
    library.models.remove(request.id);
    // A demo model the person deleted is never set up again.
    library.demoItems.markRemoved('model', request.id);
    this.#changed.fire({ reason: 'delete' });
  }

  /** Cancels running imports (shutdown). */
  cancelAll(): void {
    for (const controller of this.#jobs.values()) controller.abort();
  }

  /** Resolves when the imports started so far have ended. */
  whenIdle(): Promise<void> {
    return this.#chain;
  }
}
