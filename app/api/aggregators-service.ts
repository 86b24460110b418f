// Trained aggregator sets: imported into studioPaths(home).aggregators/<id>/ (where app/ensemble's AFA
// target looks for a recipe's aggregatorId) and listed in the library with the experts they fit.
import { rmSync } from 'node:fs';
import { readModelManifest } from '../checkpoints/model-store.ts';
import { importAggregatorsToCatalog } from '../ensemble/import-aggregators.ts';
import { aggregatorDir } from '../ensemble/recipe-target.ts';
import type { AggregatorRow } from '../library/aggregators-table.ts';
import type { Library } from '../library/library.ts';
import { ApiError } from './api-error.ts';
import type { AggregatorInfo, AggregatorsApi, ImportAggregatorsRequest } from './contract.ts';
import { Emitter } from '../common/emitter.ts';

export class AggregatorsService implements AggregatorsApi {
  readonly #library: Library;
  readonly #changed = new Emitter<{ reason: 'import' | 'delete' }>();
  readonly onDidChange = this.#changed.event;

  constructor(library: Library) {
    this.#library = library;
  }

  async list(): Promise<AggregatorInfo[]> {
    const demo = this.#library.demoItems.installed('aggregators');
    return this.#library.aggregators.list().map((row) => this.#info(row, demo.has(row.id)));
  }

  /** Another service imported a set (the demo install): the list changed. */
  announce(reason: 'import' | 'delete'): void {
    this.#changed.fire({ reason });
  }

  async import(request: ImportAggregatorsRequest): Promise<AggregatorInfo> {
    const home = this.#library.home;
    const experts = request.memberModelIds.map((id) => {
      const manifest = this.#library.models.get(id) ? readModelManifest(home, id) : undefined;
      if (!manifest) throw new ApiError('not-found', `The aggregators are for a model that is not imported (${id.slice(0, 12)}…).`, 'Import that model first.');
      return manifest;
    });
    // The shared import: checks count, channels and — when the set records them — the experts' identity.
    const imported = importAggregatorsToCatalog(this.#library.aggregators, request.path, experts, { home, name: request.name });
    this.#changed.fire({ reason: 'import' });
    return this.#info(this.#library.aggregators.get(imported.id)!);
  }

  async delete(request: { id: string }): Promise<void> {
    if (!this.#library.aggregators.remove(request.id)) throw new ApiError('not-found', `There are no aggregators ${request.id}.`);
    rmSync(aggregatorDir(this.#library.home, request.id), { recursive: true, force: true });
    // The demo's aggregators, once deleted, are never set up again.
    this.#library.demoItems.markRemoved('aggregators', request.id);
    this.#changed.fire({ reason: 'delete' });
  }

  #info(row: AggregatorRow, demo = false): AggregatorInfo {
    return {
      id: row.id,
      name: row.name,
      // Rows name experts by short hash; map them back to catalog ids where the models are still there.
      // Rows name experts by SHA-256 (= model id); rows written by older studios by short hash.
      memberModelIds: row.expertHashes.map((hash) => (this.#library.models.get(hash) ? hash : (this.#library.models.findByShortHash(hash)[0]?.id ?? hash))),
      points: typeof row.config.points === 'number' ? row.config.points : 25,
      createdAt: new Date(row.createdAt).toISOString(),
      ...(demo ? { demo } : {}),
    };
  }
}
