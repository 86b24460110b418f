// History over the library: search with filters and cursor paging, favourites and tags, delete to the
// trash with undo, export, and the contribution maps recorded with AFA generations.
import { join } from 'node:path';
import type { Library } from '../library/library.ts';
import type { GenerationQuery } from '../library/generations-table.ts';
import { ApiError } from './api-error.ts';
import type { ContributionMap, ExportResult, GenerationRecord, HistoryApi, HistoryPage, HistoryQuery } from './contract.ts';
import { Emitter } from './emitter.ts';
import { generationRecord, generationSummary } from './generation-records.ts';

type Change = { reason: 'add' | 'delete' | 'restore' | 'update'; ids: readonly string[] };

export class HistoryService implements HistoryApi {
  readonly #library: Library;
  readonly #changed = new Emitter<Change>();
  readonly onDidChange = this.#changed.event;

  constructor(library: Library) {
    this.#library = library;
  }

  /** For the generation service: new images were recorded. */
  notifyAdded(ids: readonly string[]): void {
    this.#changed.fire({ reason: 'add', ids });
  }

  async search(request: HistoryQuery): Promise<HistoryPage> {
    const words = [request.text, request.tag].filter((part): part is string => Boolean(part?.trim())).join(' ');
    const filters: GenerationQuery = {
      status: 'done',
      ...(words ? { search: words } : {}),
      ...(request.favouritesOnly ? { favourite: true } : {}),
      ...(request.method ? { method: request.method } : {}),
      ...(request.modelId ? { modelId: request.modelId } : {}),
    };
    const page = this.#library.generations.list({ ...filters, limit: request.limit ?? 100, ...(request.cursor ? { cursor: request.cursor } : {}) });
    return { items: page.items.map(generationSummary), nextCursor: page.nextCursor, total: this.#library.generations.count(filters) };
  }

  async get(request: { id: string }): Promise<GenerationRecord> {
    return generationRecord(this.#row(request.id));
  }

  async setFavourite(request: { id: string; favourite: boolean }): Promise<GenerationRecord> {
    this.#row(request.id);
    this.#library.generations.setFavourite(request.id, request.favourite);
    this.#changed.fire({ reason: 'update', ids: [request.id] });
    return this.get(request);
  }

  async tag(request: { id: string; tags: string[] }): Promise<GenerationRecord> {
    this.#row(request.id);
    this.#library.generations.setTags(request.id, request.tags);
    this.#changed.fire({ reason: 'update', ids: [request.id] });
    return this.get(request);
  }

  async delete(request: { ids: string[] }): Promise<{ undoToken: string }> {
    for (const id of request.ids) this.#row(id);
    const batch = this.#library.trash(request.ids);
    this.#changed.fire({ reason: 'delete', ids: request.ids });
    return { undoToken: batch.batch };
  }

  async undo(request: { undoToken: string }): Promise<void> {
    const restored = this.#library.undoTrash(request.undoToken);
    if (restored === 0) throw new ApiError('not-found', 'Nothing to undo: those images were already restored or deleted for good.');
    this.#changed.fire({ reason: 'restore', ids: [] });
  }

  async export(request: { ids: string[]; directory?: string }): Promise<ExportResult> {
    const directory = request.directory ?? join(this.#library.home, 'exports', new Date().toISOString().replace(/[:.]/g, '-'));
    const report = this.#library.exportSelection(request.ids, directory);
    if (report.images.length === 0) throw new ApiError('not-found', 'None of the selected images could be exported.', report.skipped[0]?.reason);
    return { files: report.images, directory: report.directory };
  }

  async contributions(request: { id: string }): Promise<ContributionMap | null> {
    const encoded = this.#row(request.id).settings.extra?.contributions;
    if (typeof encoded !== 'string') return null;
    return { ...(JSON.parse(encoded) as Omit<ContributionMap, 'generationId'>), generationId: request.id };
  }

  #row(id: string) {
    const row = this.#library.generations.get(id);
    if (!row || row.trashedAt !== null) throw new ApiError('not-found', `There is no generation ${id} in the history.`);
    return row;
  }
}
