// What the built-in demo put into this studio (migration 0005 documents the rows). The demo installer
// (app/demo/demo-install.ts) records each item it creates; the models, recipes and aggregators services
// mark an item removed when the person deletes it, and the installer never adds a removed item again.
import type Database from 'better-sqlite3';
import type { JsonValue } from '../images/generation-settings.ts';
import { jsonColumn, parseJsonColumn } from './json-column.ts';

export type DemoItemKind = 'model' | 'aggregators' | 'recipe';
/** The home's demo as a whole: to set up, not for this home, or set up. */
export type DemoPackState = 'wanted' | 'declined' | 'installed';

export interface DemoItemRow {
  readonly item: string;
  readonly kind: DemoItemKind;
  readonly targetId: string | null;
  readonly state: 'installed' | 'removed';
  readonly updatedAt: number;
}

interface Row {
  item: string;
  kind: string;
  target_id: string | null;
  state: string;
  detail: string;
  updated_at: number;
}

export class DemoItemsTable {
  readonly #db: Database.Database;
  readonly #now: () => number;

  constructor(db: Database.Database, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** The home's demo state and what was recorded with it (the installed pack's identity). */
  pack(): { readonly state: DemoPackState; readonly detail: { readonly [key: string]: JsonValue } } {
    const row = this.#db.prepare<[], Row>("SELECT * FROM demo_items WHERE item = 'pack'").get();
    // No row would be a database edited by hand: leave such a home alone.
    if (!row) return { state: 'declined', detail: {} };
    return { state: row.state as DemoPackState, detail: parseJsonColumn(row.detail, {}) };
  }

  setPack(state: DemoPackState, detail: { readonly [key: string]: JsonValue } = {}): void {
    this.#db
      .prepare(
        `INSERT INTO demo_items (item, kind, state, detail, updated_at) VALUES ('pack', 'pack', ?, ?, ?)
         ON CONFLICT (item) DO UPDATE SET state = excluded.state, detail = excluded.detail, updated_at = excluded.updated_at`,
      )
      .run(state, jsonColumn(detail), this.#now());
  }

  get(item: string): DemoItemRow | undefined {
    const row = this.#db.prepare<[string], Row>("SELECT * FROM demo_items WHERE item = ? AND kind != 'pack'").get(item);
    return row ? { item: row.item, kind: row.kind as DemoItemKind, targetId: row.target_id, state: row.state as DemoItemRow['state'], updatedAt: row.updated_at } : undefined;
  }

  /**
   * Records that `item` is now `targetId`. An item the person removed stays removed (returns false): the
   * caller checks first, and this holds even if another process removed it meanwhile.
   */
  markInstalled(item: string, kind: DemoItemKind, targetId: string): boolean {
    const result = this.#db
      .prepare(
        `INSERT INTO demo_items (item, kind, target_id, state, updated_at) VALUES (?, ?, ?, 'installed', ?)
         ON CONFLICT (item) DO UPDATE SET target_id = excluded.target_id, kind = excluded.kind, updated_at = excluded.updated_at
         WHERE demo_items.state != 'removed'`,
      )
      .run(item, kind, targetId, this.#now());
    return result.changes === 1;
  }

  /** The person deleted `targetId`: if it was a demo item, it is never added again. True when it was one. */
  markRemoved(kind: DemoItemKind, targetId: string): boolean {
    return this.#db.prepare("UPDATE demo_items SET state = 'removed', updated_at = ? WHERE kind = ? AND target_id = ? AND state = 'installed'").run(this.#now(), kind, targetId).changes > 0;
  }

  /** Ids of the installed demo items of a kind (for the "Demo" badges). */
  installed(kind: DemoItemKind): Set<string> {
    return new Set(
      this.#db
        .prepare<[string], { target_id: string }>("SELECT target_id FROM demo_items WHERE kind = ? AND state = 'installed' AND target_id IS NOT NULL")
        .all(kind)
        .map((row) => row.target_id),
    );
  }

  list(): DemoItemRow[] {
    return this.#db
      .prepare<[], Row>("SELECT * FROM demo_items WHERE kind != 'pack' ORDER BY item")
      .all()
      .map((row) => ({ item: row.item, kind: row.kind as DemoItemKind, targetId: row.target_id, state: row.state as DemoItemRow['state'], updatedAt: row.updated_at }));
  }
}
