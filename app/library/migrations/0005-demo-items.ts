// Version 5: the built-in demo (app/demo). One row per thing the demo pack put into the studio, so the UI
// can badge it and a removed demo item is never added again, plus the row 'pack' for the home as a whole:
// 'wanted' on a home that had nothing in it when this version first opened it (a new home, or one never
// used), 'declined' on a home that already held the person's own work, 'installed' once set up.
import type Database from 'better-sqlite3';

export const version = 5;
export const name = 'demo-items';

export function up(db: Database.Database): void {
  db.exec(`
    CREATE TABLE demo_items (
      item TEXT PRIMARY KEY,               -- 'pack', 'model:<expert id>', 'aggregators', 'recipe'
      kind TEXT NOT NULL CHECK (kind IN ('pack', 'model', 'aggregators', 'recipe')),
      target_id TEXT,                      -- the model, aggregator set or recipe the item became
      state TEXT NOT NULL CHECK (state IN ('wanted', 'declined', 'installed', 'removed')),
      detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
      updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX demo_items_target ON demo_items (kind, target_id);
    INSERT INTO demo_items (item, kind, state, updated_at)
    VALUES ('pack', 'pack',
      CASE WHEN EXISTS (SELECT 1 FROM models) OR EXISTS (SELECT 1 FROM recipes) OR EXISTS (SELECT 1 FROM generations) THEN 'declined' ELSE 'wanted' END,
      CAST(strftime('%s', 'now') AS INTEGER) * 1000);
  `);
}
