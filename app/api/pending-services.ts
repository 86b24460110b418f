// Services whose engine module has not landed yet. Every method fails with a clear 'unavailable' error
// (never fake data), and the events exist but stay silent, so the UI can show what is missing.
// Each class is replaced by its real service as the module behind it lands.
import { unavailable } from './api-error.ts';
import type { CompareApi, CompareSet, GenerationApi, GenerationFinished, GenerationProgress, JobFailed, JobStarted, QueuedJob } from './contract.ts';
import { Emitter } from './emitter.ts';

const engine = 'Image generation (app/pipeline + app/ensemble)';

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

