// Trained aggregator sets known to the library, with the experts they were trained for.
import type { Library } from '../library/library.ts';
import type { AggregatorInfo, AggregatorsApi } from './contract.ts';

/** SD1.x U-Nets have 25 aggregation points (12 down, 1 middle, 12 up). */
const sd1Points = 25;

export class AggregatorsService implements AggregatorsApi {
  readonly #library: Library;

  constructor(library: Library) {
    this.#library = library;
  }

  async list(): Promise<AggregatorInfo[]> {
    return this.#library.aggregators.list().map((row) => ({
      id: row.id,
      name: row.name,
      // Rows name experts by short hash; the UI matches models by id where the catalog has them.
      memberModelIds: row.expertHashes.map((hash) => this.#library.models.findByShortHash(hash)[0]?.id ?? hash),
      points: typeof row.config.points === 'number' ? row.config.points : sd1Points,
      createdAt: new Date(row.createdAt).toISOString(),
    }));
  }
}
