// Trained SABW aggregators: the small networks that fuse the experts' features (AFA §3). The weights
// live in a file under the studio's aggregators folder; the row says which experts it was trained for.
import type Database from 'better-sqlite3';
import { UserError } from '../common/errors.ts';
import type { JsonValue } from '../images/generation-settings.ts';
import { newId } from './ids.ts';
import { jsonColumn, parseJsonColumn } from './json-column.ts';

export interface AggregatorRow {
  readonly id: string;
  readonly name: string;
  /** The weights file. */
  readonly path: string;
  /** Short hashes of the expert U-Nets, in the order the aggregator expects them. */
  readonly expertHashes: readonly string[];
  /** The aggregator's frozen config (app/ensemble). */
  readonly config: { readonly [key: string]: JsonValue };
  readonly createdAt: number;
}

export type NewAggregator = Omit<AggregatorRow, 'id' | 'createdAt'> & { readonly id?: string; readonly createdAt?: number };

interface Row {
  id: string;
  name: string;
  path: string;
  expert_hashes: string;
  config: string;
  created_at: number;
}

export function rowToAggregator(row: Row): AggregatorRow {
  return {
    id: row.id,
    name: row.name,
    path: row.path,
    expertHashes: parseJsonColumn(row.expert_hashes, []),
    config: parseJsonColumn(row.config, {}),
    createdAt: row.created_at,
  };
}

export class AggregatorsTable {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  insert(aggregator: NewAggregator): AggregatorRow {
    const createdAt = aggregator.createdAt ?? Date.now();
    const id = aggregator.id ?? newId('agg', createdAt);
    this.#db
      .prepare('INSERT INTO aggregators (id, name, path, expert_hashes, config, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, aggregator.name, aggregator.path, jsonColumn(aggregator.expertHashes), jsonColumn(aggregator.config), createdAt);
    return this.get(id)!;
  }

  get(id: string): AggregatorRow | undefined {
    const row = this.#db.prepare<[string], Row>('SELECT * FROM aggregators WHERE id = ?').get(id);
    return row ? rowToAggregator(row) : undefined;
  }

  list(): AggregatorRow[] {
    return this.#db.prepare<[], Row>('SELECT * FROM aggregators ORDER BY created_at DESC, id DESC').all().map(rowToAggregator);
  }

  rename(id: string, name: string): void {
    if (this.#db.prepare('UPDATE aggregators SET name = ? WHERE id = ?').run(name, id).changes === 0) {
      throw new UserError('not-found', `There is no aggregator ${id}.`);
    }
  }

  remove(id: string): boolean {
    return this.#db.prepare('DELETE FROM aggregators WHERE id = ?').run(id).changes === 1;
  }
}
