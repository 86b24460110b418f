// Training runs in the studio: imported models as members, a dataset (a folder, or a selection of the
// history: app/datasets/history-dataset.ts), the settings; the run is a training_runs row (its settings
// in `config`, its loss curve in `metrics`) and a folder `<home>/training/<run id>/` with its checkpoints
// and validation samples (afa-training-job.ts). A finished run's aggregators are imported like any
// other set (app/ensemble/import-aggregators.ts) and linked to the run.
// A cancelled, crashed or killed run resumes from its last checkpoint with `resume`.
import { existsSync, rmSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { CancelledError, UserError } from '../common/errors.ts';
import { readModelManifest, storedModelFiles, type ModelManifest } from '../checkpoints/model-store.ts';
import { importAggregators } from '../ensemble/import-aggregators.ts';
import { loadAggregatorSet, type ExpertIdentity } from '../ensemble/aggregator-set.ts';
import { checkSameArchitecture, type Expert } from '../ensemble/lock-step-graph.ts';
import type { JsonValue } from '../images/generation-settings.ts';
import { Library } from '../library/library.ts';
import type { TrainingMetric, TrainingRunRow } from '../library/training-runs-table.ts';
import { parseUnetConfig } from '../models/unet-config.ts';
import { parseVaeConfig } from '../models/vae-config.ts';
import { tokenizerForModel } from '../pipeline/stored-model-target.ts';
import type { SessionOptions } from '../runtime/onnx-runtime.ts';
import { resolveNoiseScheduleConfig } from '../schedulers/scheduler-config.ts';
import { SafetensorsFile } from '../tensor/safetensors.ts';
import { scanImageDataset, type ImageDataset } from '../datasets/image-dataset.ts';
import { describeHistorySelection, historyDataset, resolveHistorySelection, type HistorySelection } from '../datasets/history-dataset.ts';
import { createModelRuntime } from '../pipeline/model-runtime.ts';
import { VaeLatentDecoder } from '../pipeline/model-denoiser.ts';
import { preparationUnit, runAfaTrainingJob, type AfaTrainingJobOptions, type AfaTrainingResult, type TrainingEvent } from './afa-training-job.ts';
import { listCheckpoints } from './training-checkpoint.ts';
import { listSamples, type StepSamples } from './validation-samples.ts';
import { newAggregatorSet } from './new-aggregator-set.ts';
import { openStoredEncoders } from './training-encoders.ts';
import { resolveTrainingSettings, type TrainingSettings } from './training-settings.ts';

/** Where a run's images come from. */
export type DatasetSource = { readonly kind: 'folder'; readonly path: string } | ({ readonly kind: 'history' } & HistorySelection);

export interface TrainingRequest {
  /** Model ids (SHA-256), in the order the aggregators take them. */
  readonly models: readonly string[];
  readonly dataset: DatasetSource;
  readonly settings?: Partial<TrainingSettings>;
  /** Start from this aggregator set (a folder); default: new aggregators (official architecture). */
  readonly startFrom?: string;
  readonly name?: string;
}

/**
 * A run's dataset as stored: a folder, or the generation ids a history selection resolved to when the
 * run was created (with the selection that found them, for display).
 */
export type StoredDataset = { readonly kind: 'folder'; readonly path: string } | { readonly kind: 'history'; readonly ids: readonly string[]; readonly selection: HistorySelection };

/** What a run's `config` column holds: enough to resume it. */
interface StoredRunConfig {
  readonly models: readonly string[];
  /** The dataset folder ('' for a history selection; runs of older versions have only this). */
  readonly data: string;
  readonly dataset?: StoredDataset;
  readonly startFrom: string | null;
  readonly settings: TrainingSettings;
}

/** The stored dataset of a run's config (older runs: the folder in `data`). */
export function storedDataset(config: { readonly data?: unknown; readonly dataset?: unknown }): StoredDataset {
  const dataset = config.dataset as StoredDataset | undefined;
  return dataset ?? { kind: 'folder', path: typeof config.data === 'string' ? config.data : '' };
}

export function trainingRunDir(home: string, runId: string): string {
  if (!/^[\w.-]+$/.test(runId)) throw new UserError('invalid-argument', `'${runId}' is not a valid training run id.`);
  return join(home, 'training', runId);
}

export function trainingCacheDir(home: string): string {
  return join(home, 'training', 'cache');
}

function requireMembers(home: string, ids: readonly string[], runId?: string): ModelManifest[] {
  if (ids.length < 2) throw new UserError('invalid-argument', `Training an ensemble needs at least 2 members; got ${ids.length}.`);
  return ids.map((id) => {
    const manifest = readModelManifest(home, id);
    if (!manifest) {
      throw new UserError('not-found', `Model ${id.slice(0, 12)} ${runId ? `used by training run ${runId} ` : ''}is no longer in the studio.`, 'Import it again (the same file gives the same id), then resume.');
    }
    return manifest;
  });
}

/** A history selection's dataset as the run will see it (resolved now), or a folder's. */
export function readDatasetSource(home: string, source: DatasetSource, missingCaptions?: TrainingSettings['missingCaptions']): ImageDataset {
  if (source.kind === 'folder') return scanImageDataset(source.path, { missingCaptions });
  const library = Library.open({ home });
  try {
    return historyDataset(library, resolveHistorySelection(library, source));
  } finally {
    library.close();
  }
}

/** Creates the run's row (status queued); `runTraining` then runs it. */
export function createTrainingRun(home: string, request: TrainingRequest): TrainingRunRow {
  const manifests = requireMembers(home, request.models);
  const settings = resolveTrainingSettings(request.settings);
  const source = request.dataset;
  const library = Library.open({ home });
  try {
    let dataset: StoredDataset;
    let dataName: string;
    if (source.kind === 'folder') {
      if (!existsSync(source.path)) throw new UserError('not-found', `The dataset folder ${source.path} does not exist.`);
      dataset = { kind: 'folder', path: source.path };
      dataName = source.path.split(/[\\/]/).filter(Boolean).at(-1) ?? 'data';
    } else {
      const selection: HistorySelection = source.ids ? { ids: source.ids } : { text: source.text?.trim() || undefined, favouritesOnly: source.favouritesOnly || undefined };
      const ids = resolveHistorySelection(library, selection);
      historyDataset(library, ids);
      dataset = { kind: 'history', ids, selection: JSON.parse(JSON.stringify(selection)) as HistorySelection };
      dataName = describeHistorySelection(selection);
    }
    const config: StoredRunConfig = { models: manifests.map((m) => m.id), data: dataset.kind === 'folder' ? dataset.path : '', dataset, startFrom: request.startFrom ?? null, settings };
    return library.trainingRuns.insert({
      name: request.name ?? `${manifests.map((m) => m.name).join(' + ')} on ${dataName}`,
      recipe: { recipeId: null, name: null, method: 'afa', members: manifests.map((m) => ({ modelId: m.id, shortHash: m.shortHash, name: m.name })), aggregatorId: null },
      config: JSON.parse(JSON.stringify(config)) as { readonly [key: string]: JsonValue },
    });
  } finally {
    library.close();
  }
}

export interface RunTrainingOptions {
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: TrainingEvent) => void;
  readonly session?: SessionOptions;
  /** When each unit of the run's work may run (AfaTrainingJobOptions.turn: the engine's turns with generations). */
  readonly turn?: AfaTrainingJobOptions['turn'];
}

/** Runs (or resumes) run `runId` to its end; the row follows its status, metrics and result. */
export async function runTraining(home: string, runId: string, options: RunTrainingOptions = {}): Promise<{ run: TrainingRunRow; result: AfaTrainingResult }> {
  const library = Library.open({ home });
  try {
    const row = library.trainingRuns.get(runId);
    if (!row) throw new UserError('not-found', `There is no training run ${runId}.`, 'List them with `afa train list`.');
    if (row.status === 'done') throw new UserError('conflict', `Training run ${runId} has finished; its aggregators are ${row.aggregatorId}.`);
    const config = row.config as unknown as StoredRunConfig;
    const manifests = requireMembers(home, config.models, runId);
    const experts: Expert[] = manifests.map((manifest) => ({
      weights: SafetensorsFile.open(storedModelFiles(home, manifest).unetWeights),
      config: parseUnetConfig(manifest.configs.unet, `U-Net config of '${manifest.name}'`),
    }));
    checkSameArchitecture(experts);
    const identities: ExpertIdentity[] = manifests.map((m) => ({ sha256: m.sha256, name: m.name }));
    const aggregators = config.startFrom ? loadAggregatorSet(config.startFrom) : newAggregatorSet(experts, identities, config.settings.seed, config.settings.aggregatorSize);
    const runDir = trainingRunDir(home, runId);
    const dataset = runDataset(library, storedDataset(config), config.settings, runId, listCheckpoints(runDir).length > 0);
    // The samples' VAE decoder: the first member's, as the studio's AFA recipes decode.
    const runtime = createModelRuntime({ sessionOptions: options.session });
    const sampleDecoder = new VaeLatentDecoder(storedModelFiles(home, manifests[0]!).vaeDecoder, runtime);
    const loadEncoders = () => openStoredEncoders(
      manifests.map((manifest) => {
        const files = storedModelFiles(home, manifest);
        return {
          id: manifest.id,
          textEncoderGraph: files.textEncoder,
          vaeEncoderGraph: files.vaeEncoder,
          vaeSha256: manifest.components.vae.sha256,
          scalingFactor: parseVaeConfig(manifest.configs.vae, `VAE config of '${manifest.name}'`).scaling_factor,
          tokenizer: tokenizerForModel(manifest, files.tokenizer),
        };
      }),
      options.session,
    );
    library.trainingRuns.setStatus(runId, 'running');
    let logged = row.metrics.length > 0 ? row.metrics[row.metrics.length - 1]!.step : 0;
    const pending: TrainingMetric[] = [];
    let encoders: Awaited<ReturnType<typeof loadEncoders>> | undefined;
    try {
      encoders = await preparationUnit(options.turn, 'Loading the encoders')(loadEncoders);
      const prediction = manifests[0]!.prediction === 'v_prediction' ? 'v_prediction' : 'epsilon';
      const result = await runAfaTrainingJob({
        runDir,
        cacheDir: trainingCacheDir(home),
        sampleDecoder,
        experts,
        expertIdentities: identities,
        aggregators,
        encoders,
        noiseSchedule: resolveNoiseScheduleConfig({ predictionType: prediction }),
        dataset,
        settings: config.settings,
        session: options.session,
        signal: options.signal,
        ...(options.turn ? { turn: options.turn } : {}),
        onEvent: (event) => {
          if (event.kind === 'step' && event.step > logged) pending.push({ step: event.step, loss: event.loss, smoothedLoss: event.smoothedLoss, lr: event.lr });
          if (event.kind === 'validation' && event.step >= logged) {
            const reference = event.reference ? Object.fromEntries([...event.reference.members.map((loss, k) => [`member${k + 1}ValidationLoss`, loss]), ['uniformValidationLoss', event.reference.uniformAverage]]) : {};
            pending.push({ step: event.step, validationLoss: event.loss, ...reference });
          }
          if (event.kind === 'checkpoint') {
            library.trainingRuns.appendMetrics(runId, pending.splice(0));
            logged = event.step;
          }
          options.onEvent?.(event);
        },
      });
      if (pending.length > 0) library.trainingRuns.appendMetrics(runId, pending.splice(0));
      const imported = importAggregators(result.aggregatorsDir, manifests, { home, notes: `Trained by run ${runId}.` });
      if (!library.aggregators.get(imported.id)) {
        library.aggregators.insert({
          id: imported.id,
          name: `${row.name} (run ${runId})`,
          path: imported.dir,
          expertHashes: manifests.map((m) => m.sha256),
          config: { points: imported.manifest.configs.length, hiddenSize: imported.manifest.configs[0]!.hiddenSize, trainingRun: runId },
        });
      }
      library.trainingRuns.setStatus(runId, 'done', { aggregatorId: imported.id });
      return { run: library.trainingRuns.get(runId)!, result };
    } catch (error) {
      if (error instanceof CancelledError) library.trainingRuns.setStatus(runId, 'cancelled', { error: error.message });
      else library.trainingRuns.setStatus(runId, 'failed', { error: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      await encoders?.release();
      await runtime.sessions.clear();
    }
  } finally {
    library.close();
  }
}

/**
 * Throws what would stop run `runId` from resuming now (a member or history image gone, a dataset folder
 * moved), so a caller can say so before queueing it.
 */
export function checkTrainingRunCanResume(home: string, runId: string): void {
  const library = Library.open({ home });
  try {
    const row = library.trainingRuns.get(runId);
    if (!row) throw new UserError('not-found', `There is no training run ${runId}.`, 'List them with `afa train list`.');
    if (row.status === 'done') throw new UserError('conflict', `Training run ${runId} has finished; its aggregators are ${row.aggregatorId}.`);
    const config = row.config as unknown as StoredRunConfig;
    requireMembers(home, config.models, runId);
    runDataset(library, storedDataset(config), config.settings, runId, listCheckpoints(trainingRunDir(home, runId)).length > 0);
  } finally {
    library.close();
  }
}

/**
 * The dataset a run trains on. A history selection is the ids stored at creation; once the run has a
 * checkpoint, an image gone from them would change the data order of the rest of the run, so resuming
 * refuses until it is back (restored from the trash).
 */
function runDataset(library: Library, stored: StoredDataset, settings: TrainingSettings, runId: string, resuming: boolean): ImageDataset {
  if (stored.kind === 'folder') return scanImageDataset(stored.path, { missingCaptions: settings.missingCaptions });
  const dataset = historyDataset(library, stored.ids);
  const gone = dataset.problems.find((problem) => problem.kind === 'history-missing-image');
  if (gone && resuming) {
    throw new UserError(
      'not-found',
      `Training run ${runId} cannot resume exactly: ${gone.files.length} of its ${stored.ids.length} history images are gone (${gone.files.slice(0, 5).join(', ')}${gone.files.length > 5 ? ', …' : ''}).`,
      'Restore them from the trash (Settings → Trash), then resume; or start a new run on the images there are.',
    );
  }
  return dataset;
}

/** A run's sample images with their paths relative to the studio home ('/'-separated), as the UI loads studio images. */
export type StudioStepSamples = Omit<StepSamples, 'images'> & { readonly images: readonly (StepSamples['images'][number] & { readonly path: string })[] };

export function withStudioPaths(home: string, samples: StepSamples): StudioStepSamples {
  return { ...samples, images: samples.images.map((image) => ({ ...image, path: relative(home, image.file).split(sep).join('/') })) };
}

/** A run's validation samples, oldest first. */
export function trainingRunSamples(home: string, runId: string): StudioStepSamples[] {
  return listSamples(trainingRunDir(home, runId)).map((samples) => withStudioPaths(home, samples));
}

export function listTrainingRuns(home: string): TrainingRunRow[] {
  const library = Library.open({ home });
  try {
    return library.trainingRuns.list();
  } finally {
    library.close();
  }
}

export function getTrainingRun(home: string, runId: string): TrainingRunRow {
  const library = Library.open({ home });
  try {
    const run = library.trainingRuns.get(runId);
    if (!run) throw new UserError('not-found', `There is no training run ${runId}.`, 'List them with `afa train list`.');
    return run;
  } finally {
    library.close();
  }
}

/** Removes a run's row and folder (checkpoints); the aggregators it produced stay in the studio. */
export function deleteTrainingRun(home: string, runId: string): void {
  const library = Library.open({ home });
  try {
    if (!library.trainingRuns.remove(runId)) throw new UserError('not-found', `There is no training run ${runId}.`);
    rmSync(trainingRunDir(home, runId), { recursive: true, force: true });
  } finally {
    library.close();
  }
}
