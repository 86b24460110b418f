// Comparison sets: a generation's exact settings (prompt, seed, sampler, size) re-run with each member of
// its recipe alone, next to the ensemble's image, so one sees what the ensemble changed. Sets live in
// memory for the session; their images are ordinary history entries.
import { randomBytes } from 'node:crypto';
import type { Library } from '../library/library.ts';
import { ApiError } from './api-error.ts';
import type { CompareApi, CompareItem, CompareSet, GenerationRecord, JobStatus } from './contract.ts';
import { Emitter } from '../common/emitter.ts';
import { generationRecord } from './generation-records.ts';
import type { GenerationService } from './generation-service.ts';

export class CompareService implements CompareApi {
  readonly #library: Library;
  readonly #generation: GenerationService;
  readonly #changed = new Emitter<CompareSet>();
  readonly onDidChange = this.#changed.event;
  readonly #sets = new Map<string, CompareSet>();
  readonly #setOfJob = new Map<string, string>();

  constructor(library: Library, generation: GenerationService) {
    this.#library = library;
    this.#generation = generation;
    generation.onDidStart(({ jobId }) => this.#update(jobId, { status: 'running' }));
    generation.onDidFinish(({ jobId, generations }) => this.#update(jobId, { status: 'done', generationId: generations[0]?.id ?? null }));
    generation.onDidFail(({ jobId, cancelled }) => this.#update(jobId, { status: cancelled ? 'cancelled' : 'failed' }));
  }

  async enqueue(request: { generationId: string }): Promise<CompareSet> {
    const row = this.#library.generations.get(request.generationId);
    if (!row || row.trashedAt !== null || row.status !== 'done') throw new ApiError('not-found', `There is no generation ${request.generationId} in the history.`);
    const record = generationRecord(row);
    const spec = record.request.recipe.spec;
    if (spec.method === 'single') throw new ApiError('unsupported', 'This image was made with one model; there is nothing to compare it with.', 'Compare works on ensemble generations.');
    const id = `cmp-${randomBytes(6).toString('hex')}`;
    const items: CompareItem[] = [{ label: record.recipeName, role: 'ensemble', jobId: null, generationId: record.id, status: 'done' }];
    for (const member of spec.members) {
      const label = record.modelNames[member.modelId] ?? member.name ?? member.modelId.slice(0, 10);
      // Opening Compare again (or comparing a sibling) reuses the member's image of these settings.
      const existing = this.#memberImage(record.request, member.modelId);
      if (existing) {
        items.push({ label, role: 'member', modelId: member.modelId, jobId: null, generationId: existing, status: 'done' });
        continue;
      }
      try {
        const jobId = await this.#generation.enqueueWith(
          { ...record.request, recipe: { spec: { method: 'single', members: [{ modelId: member.modelId }] } }, batchCount: 1 },
          id,
        );
        this.#setOfJob.set(jobId, id);
        items.push({ label, role: 'member', modelId: member.modelId, jobId, generationId: null, status: 'queued' });
      } catch {
        // A member that cannot run any more (deleted since) is shown as failed; the others still compare.
        items.push({ label, role: 'member', modelId: member.modelId, jobId: null, generationId: null, status: 'failed' });
      }
    }
    // A job may have started before its id was known here.
    const running = new Set((await this.#generation.queue()).filter((job) => job.status === 'running').map((job) => job.id));
    const set: CompareSet = { id, sourceGenerationId: record.id, items: items.map((item) => (item.jobId && running.has(item.jobId) ? { ...item, status: 'running' } : item)) };
    this.#sets.set(id, set);
    this.#changed.fire(set);
    return set;
  }

  /** A finished, not trashed history image of `modelId` alone with exactly the settings of `request`; its id. */
  #memberImage(request: GenerationRecord['request'], modelId: string): string | undefined {
    for (let cursor: string | undefined, page = 0; page < 20; page++) {
      const found = this.#library.generations.list({ modelId, method: 'single', status: 'done', limit: 200, ...(cursor ? { cursor } : {}) });
      const match = found.items.find((row) => {
        const other = generationRecord(row).request;
        return (
          other.recipe.spec.members.length === 1 &&
          other.recipe.spec.members[0]!.modelId === modelId &&
          other.prompt === request.prompt &&
          other.negativePrompt === request.negativePrompt &&
          other.seed === request.seed &&
          other.steps === request.steps &&
          other.guidance === request.guidance &&
          other.sampler === request.sampler &&
          other.width === request.width &&
          other.height === request.height &&
          (other.eta ?? null) === (request.eta ?? null)
        );
      });
      if (match) return match.id;
      if (!found.nextCursor) return undefined;
      cursor = found.nextCursor;
    }
    return undefined;
  }

  async get(request: { id: string }): Promise<CompareSet> {
    const set = this.#sets.get(request.id);
    if (!set) throw new ApiError('not-found', 'That comparison is not available any more (comparisons last until the studio restarts).');
    return set;
  }

  #update(jobId: string, change: { status: JobStatus; generationId?: string | null }): void {
    const setId = this.#setOfJob.get(jobId);
    const set = setId ? this.#sets.get(setId) : undefined;
    if (!set) return;
    if (change.status !== 'running') this.#setOfJob.delete(jobId);
    const updated: CompareSet = { ...set, items: set.items.map((item) => (item.jobId === jobId ? { ...item, ...change } : item)) };
    this.#sets.set(set.id, updated);
    this.#changed.fire(updated);
  }
}
