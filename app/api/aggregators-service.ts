// Trained aggregator sets: imported into studioPaths(home).aggregators/<id>/ (where app/ensemble's AFA
// target looks for a recipe's aggregatorId) and listed in the library with the experts they fit.
import { cpSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadAggregatorSet } from '../ensemble/aggregator-set.ts';
import { aggregatorDir } from '../ensemble/recipe-target.ts';
import { studioPaths } from '../common/paths.ts';
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
    return this.#library.aggregators.list().map((row) => this.#info(row));
  }

  async import(request: ImportAggregatorsRequest): Promise<AggregatorInfo> {
    const set = loadAggregatorSet(request.path);
    const experts = request.memberModelIds.map((id) => {
      const model = this.#library.models.get(id);
      if (!model) throw new ApiError('not-found', `The aggregators are for a model that is not imported (${id.slice(0, 12)}…).`);
      return model;
    });
    const trainedFor = set.configs[0]?.numExperts;
    if (trainedFor !== experts.length) {
      throw new ApiError('mismatch', `These aggregators fuse ${trainedFor} experts, but ${experts.length} models were picked.`, 'Pick the models they were trained for, in training order.');
    }
    const row = this.#library.aggregators.insert({
      name: request.name,
      path: request.path,
      expertHashes: experts.map((model) => model.shortHash),
      config: { points: set.configs.length, numExperts: trainedFor },
    });
    // Copy next to the target folder, then rename: the set appears whole or not at all.
    const target = aggregatorDir(this.#library.home, row.id);
    const temp = join(studioPaths(this.#library.home).temp, `aggregators-${row.id}`);
    try {
      cpSync(request.path, temp, { recursive: true, dereference: true });
      mkdirSync(dirname(target), { recursive: true });
      renameSync(temp, target);
    } catch (error) {
      rmSync(temp, { recursive: true, force: true });
      rmSync(target, { recursive: true, force: true });
      this.#library.aggregators.remove(row.id);
      throw error;
    }
    this.#changed.fire({ reason: 'import' });
    return this.#info(row);
  }

  async delete(request: { id: string }): Promise<void> {
    if (!this.#library.aggregators.remove(request.id)) throw new ApiError('not-found', `There are no aggregators ${request.id}.`);
    rmSync(aggregatorDir(this.#library.home, request.id), { recursive: true, force: true });
    this.#changed.fire({ reason: 'delete' });
  }

  #info(row: AggregatorRow): AggregatorInfo {
    return {
      id: row.id,
      name: row.name,
      // Rows name experts by short hash; map them back to catalog ids where the models are still there.
      memberModelIds: row.expertHashes.map((hash) => this.#library.models.findByShortHash(hash)[0]?.id ?? hash),
      points: typeof row.config.points === 'number' ? row.config.points : 25,
      createdAt: new Date(row.createdAt).toISOString(),
    };
  }
}
