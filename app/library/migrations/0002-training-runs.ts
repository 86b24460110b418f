// Version 2: training runs of SABW aggregators (app/ensemble's trainer writes them).
import type Database from 'better-sqlite3';

export const version = 2;
export const name = 'training-runs';

export function up(db: Database.Database): void {
  db.exec(`
    CREATE TABLE training_runs (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      recipe TEXT NOT NULL CHECK (json_valid(recipe)),        -- recipe snapshot trained for
      config TEXT NOT NULL CHECK (json_valid(config)),        -- the trainer's frozen config
      status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
      metrics TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(metrics)),   -- [{ step, loss, ... }]
      aggregator_id TEXT REFERENCES aggregators (id) ON DELETE SET NULL, -- the result, once saved
      error TEXT,
      created_at INTEGER NOT NULL,
      started_at INTEGER,
      finished_at INTEGER
    ) STRICT;
    CREATE INDEX training_runs_created ON training_runs (created_at DESC, id DESC);
  `);
}
