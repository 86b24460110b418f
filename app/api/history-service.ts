// History over the library: search with filters and cursor paging, favourites and tags, delete to the
// trash with undo (and emptying it), export of a selection, import of PNGs, what the reconciliation at
// start-up found, and the contribution maps recorded with AFA generations.
import { basename, join } from 'node:path';
import type { Library } from '../library/library.ts';
import type { GenerationQuery } from '../library/generations-table.ts';
import type { ReconcileReport } from '../library/reconcile.ts';
import { ApiError } from './api-error.ts';
import type {
  ContributionMap,
  ExportRequest,
  ExportResult,
  GenerationRecord,
  HistoryApi,
  HistoryPage,
  HistoryQuery,
  ImagesImported,
  ImportSource,
  ReconcileSummary,
  TrashInfo,
} from './contract.ts';
import { Emitter } from '../common/emitter.ts';
import { generationRecord, generationSummary, requestOfSettings } from './generation-records.ts';
import { settingsOfPng } from '../library/import-images.ts';
import { removeUpload, uploadedFile } from './uploads.ts';

type Change = { reason: 'add' | 'delete' | 'restore' | 'update'; ids: readonly string[] };

export interface HistoryServiceConfig {
  readonly library: Library;
  /** What Library.reconcile() reported when the studio opened; its orphan files are offered for import. */
  readonly reconciled?: ReconcileReport;
}

export class HistoryService implements HistoryApi {
  readonly #library: Library;
  readonly #changed = new Emitter<Change>();
  readonly onDidChange = this.#changed.event;
  /** Orphan images (relative to the home) still on offer: not imported, not dismissed. */
  #orphans: string[];

  constructor(config: HistoryServiceConfig) {
    this.#library = config.library;
    this.#orphans = (config.reconciled?.orphanFiles ?? [])
      .map((path) => config.library.store.relative(path))
      .filter((path): path is string => path !== undefined);
  }

  /** For the generation service: new images were recorded. */
  notifyAdded(ids: readonly string[]): void {
    this.#changed.fire({ reason: 'add', ids });
  }

  async search(request: HistoryQuery): Promise<HistoryPage> {
    const words = [request.text, request.tag].filter((part): part is string => Boolean(part?.trim())).join(' ');
    const filters: GenerationQuery = {
      // 'missing' rows stay visible (as placeholders): reconciliation keeps them so nothing vanishes unseen.
      status: ['done', 'missing'],
      ...(words ? { search: words } : {}),
      ...(request.favouritesOnly ? { favourite: true } : {}),
      ...(request.method ? { method: request.method } : {}),
      ...(request.modelId ? { modelId: request.modelId } : {}),
      ...(request.from ? { from: Date.parse(request.from) } : {}),
      ...(request.to ? { to: Date.parse(request.to) } : {}),
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

  async trashInfo(): Promise<TrashInfo> {
    return { count: this.#library.generations.trashBatches().reduce((sum, batch) => sum + batch.count, 0) };
  }

  async emptyTrash(): Promise<{ removed: number }> {
    return { removed: this.#library.emptyTrash() };
  }

  async export(request: ExportRequest): Promise<ExportResult> {
    const directory = request.directory ?? join(this.#library.home, 'exports', new Date().toISOString().replace(/[:.]/g, '-'));
    const report = this.#library.exportSelection(request.ids, directory, { settings: request.settings ?? 'both' });
    if (report.images.length === 0) {
      throw new ApiError('not-found', 'None of the selected images could be exported.', report.skipped[0] ? `${report.skipped[0].id}: ${report.skipped[0].reason}.` : undefined);
    }
    return { files: report.images, settingsFiles: report.settingsFiles, directory: report.directory, skipped: report.skipped };
  }

  async contributions(request: { id: string }): Promise<ContributionMap | null> {
    const encoded = this.#row(request.id).settings.extra?.contributions;
    if (typeof encoded !== 'string') return null;
    try {
      return { ...(JSON.parse(encoded) as Omit<ContributionMap, 'generationId'>), generationId: request.id };
    } catch {
      throw new ApiError('corrupt-file', `The contribution map of ${request.id} is damaged (not valid JSON).`);
    }
  }

  async importImages(request: { sources: ImportSource[] }): Promise<ImagesImported> {
    const home = this.#library.home;
    const named: { path: string; file: string }[] = [];
    const skipped: { file: string; reason: string }[] = [];
    try {
      for (const source of request.sources) {
        if (source.kind === 'path') named.push({ path: source.path, file: basename(source.path) });
        else {
          try {
            named.push({ path: uploadedFile(home, source.uploadId), file: source.fileName });
          } catch (error) {
            skipped.push({ file: source.fileName, reason: (error as Error).message });
          }
        }
      }
      return this.#import(named, skipped);
    } finally {
      // The library copied what it imported; an upload is of no use afterwards either way.
      for (const source of request.sources) if (source.kind === 'upload') removeUpload(home, source.uploadId);
    }
  }

  async readSettings(request: { source: ImportSource }): Promise<Pick<GenerationRecord, 'request'>> {
    const { source } = request;
    const path = source.kind === 'path' ? source.path : uploadedFile(this.#library.home, source.uploadId);
    try {
      return { request: requestOfSettings(settingsOfPng(this.#library.models, path, source.kind === 'path' ? basename(path) : source.fileName)) };
    } finally {
      if (source.kind === 'upload') removeUpload(this.#library.home, source.uploadId);
    }
  }

  async reconcileReport(): Promise<ReconcileSummary> {
    return { orphanFiles: [...this.#orphans], missingCount: this.#library.generations.count({ status: 'missing' }) };
  }

  async importOrphans(request: { paths: string[] }): Promise<ImagesImported> {
    const offered = new Set(this.#orphans);
    const unknown = request.paths.find((path) => !offered.has(path));
    // Only what reconciliation found: this method must not become a way to read any file on the machine.
    if (unknown !== undefined) throw new ApiError('not-found', `${unknown} is not an image of the studio folder waiting for import.`, 'Reload the history to see what is still on offer.');
    const chosen = new Set(request.paths);
    this.#orphans = this.#orphans.filter((path) => !chosen.has(path));
    return this.#import(request.paths.map((path) => ({ path: this.#library.absolutePath(path), file: path })), []);
  }

  async dismissOrphans(): Promise<void> {
    this.#orphans = [];
  }

  #import(files: readonly { path: string; file: string }[], skipped: { file: string; reason: string }[]): ImagesImported {
    const report = files.length > 0 ? this.#library.importImages(files.map((f) => f.path)) : { imported: [], skipped: [] };
    const nameOf = new Map(files.map((f) => [f.path, f.file]));
    const ids = report.imported.map((row) => row.id);
    if (ids.length > 0) this.#changed.fire({ reason: 'add', ids });
    const named = report.skipped.map((s) => {
      const file = nameOf.get(s.path) ?? basename(s.path);
      // The importer names the file by its path; an upload's path is a temporary folder the user never saw.
      return { file, reason: s.reason.split(s.path).join(file) };
    });
    return { ids, skipped: [...skipped, ...named] };
  }

  #row(id: string) {
    const row = this.#library.generations.get(id);
    if (!row || row.trashedAt !== null) throw new ApiError('not-found', `There is no generation ${id} in the history.`);
    return row;
  }
}
