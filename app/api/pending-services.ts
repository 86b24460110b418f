// Services whose engine module has not landed yet. Every method fails with a clear 'unavailable' error
// (never fake data), and the events exist but stay silent, so the UI can show what is missing.
// Each class is replaced by its real service as the module behind it lands.
import { unavailable } from './api-error.ts';
import type {
  AggregatorInfo, AggregatorsApi, CompareApi, CompareSet, ContributionMap, ExportResult, GenerationApi,
  GenerationFinished, GenerationProgress, GenerationRecord, HistoryApi, HistoryPage, ImportFinished, JobFailed,
  JobProgress, JobStarted, ModelInfo, ModelsApi, PromptEntry, PromptsApi, QueuedJob, Recipe, RecipesApi,
} from './contract.ts';
import { Emitter } from './emitter.ts';

const library = 'The library (app/library)';
const engine = 'Image generation (app/pipeline + app/ensemble)';

export class PendingModelsService implements ModelsApi {
  readonly onDidImportProgress = new Emitter<JobProgress>().event;
  readonly onDidImportFinish = new Emitter<ImportFinished>().event;
  readonly onDidImportFail = new Emitter<JobFailed>().event;
  readonly onDidChange = new Emitter<{ reason: 'import' | 'delete' }>().event;
  async list(): Promise<ModelInfo[]> { throw unavailable(library); }
  async get(): Promise<ModelInfo> { throw unavailable(library); }
  async import(): Promise<JobStarted> { throw unavailable('Checkpoint import (app/checkpoints)'); }
  async cancelImport(): Promise<void> { throw unavailable('Checkpoint import (app/checkpoints)'); }
  async delete(): Promise<void> { throw unavailable(library); }
}

export class PendingRecipesService implements RecipesApi {
  readonly onDidChange = new Emitter<{ reason: 'save' | 'delete' }>().event;
  async list(): Promise<Recipe[]> { throw unavailable(library); }
  async get(): Promise<Recipe> { throw unavailable(library); }
  async save(): Promise<Recipe> { throw unavailable(library); }
  async delete(): Promise<void> { throw unavailable(library); }
}

export class PendingAggregatorsService implements AggregatorsApi {
  async list(): Promise<AggregatorInfo[]> { throw unavailable('Aggregator sets (app/ensemble)'); }
}

export class PendingGenerationService implements GenerationApi {
  readonly onDidStart = new Emitter<JobStarted>().event;
  readonly onDidProgress = new Emitter<GenerationProgress>().event;
  readonly onDidFinish = new Emitter<GenerationFinished>().event;
  readonly onDidFail = new Emitter<JobFailed>().event;
  readonly onDidChangeQueue = new Emitter<{ jobs: readonly QueuedJob[] }>().event;
  async enqueue(): Promise<JobStarted> { throw unavailable(engine); }
  async queue(): Promise<QueuedJob[]> { throw unavailable(engine); }
  async reorder(): Promise<QueuedJob[]> { throw unavailable(engine); }
  async remove(): Promise<void> { throw unavailable(engine); }
  async cancel(): Promise<void> { throw unavailable(engine); }
}

export class PendingCompareService implements CompareApi {
  readonly onDidChange = new Emitter<CompareSet>().event;
  async enqueue(): Promise<CompareSet> { throw unavailable(engine); }
  async get(): Promise<CompareSet> { throw unavailable(engine); }
}

export class PendingHistoryService implements HistoryApi {
  readonly onDidChange = new Emitter<{ reason: 'add' | 'delete' | 'restore' | 'update'; ids: readonly string[] }>().event;
  async search(): Promise<HistoryPage> { throw unavailable(library); }
  async get(): Promise<GenerationRecord> { throw unavailable(library); }
  async setFavourite(): Promise<GenerationRecord> { throw unavailable(library); }
  async tag(): Promise<GenerationRecord> { throw unavailable(library); }
  async delete(): Promise<{ undoToken: string }> { throw unavailable(library); }
  async undo(): Promise<void> { throw unavailable(library); }
  async export(): Promise<ExportResult> { throw unavailable(library); }
  async contributions(): Promise<ContributionMap | null> { throw unavailable(library); }
}

export class PendingPromptsService implements PromptsApi {
  async list(): Promise<PromptEntry[]> { throw unavailable(library); }
  async search(): Promise<PromptEntry[]> { throw unavailable(library); }
  async save(): Promise<PromptEntry> { throw unavailable(library); }
  async tag(): Promise<PromptEntry> { throw unavailable(library); }
  async delete(): Promise<void> { throw unavailable(library); }
  async use(): Promise<PromptEntry> { throw unavailable(library); }
}
