// Schema migrations, one file each under migrations/, applied in order. The database's
// `PRAGMA user_version` is the number of the last one applied; each migration runs in its own
// IMMEDIATE transaction together with the version bump, so a crash leaves the schema at a whole
// version, and two processes opening the same new file at once do not both migrate it.
import type Database from 'better-sqlite3';
import * as initial from './migrations/0001-initial.ts';
import * as trainingRuns from './migrations/0002-training-runs.ts';
import * as generationTrash from './migrations/0003-generation-trash.ts';
import * as importedSettingsSearch from './migrations/0004-imported-settings-search.ts';
import * as demoItems from './migrations/0005-demo-items.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly up: (db: Database.Database) => void;
}

export const MIGRATIONS: readonly Migration[] = [initial, trainingRuns, generationTrash, importedSettingsSearch, demoItems];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export interface MigrationResult {
  readonly from: number;
  readonly to: number;
}

/**
 * Brings the schema up to `target` (default: the latest). The caller has checked that the file is not
 * newer than this build.
 */
export function migrate(db: Database.Database, target: number = SCHEMA_VERSION): MigrationResult {
  const from = schemaVersion(db);
  for (const migration of MIGRATIONS) {
    if (migration.version > target) break;
    db.transaction(() => {
      // Re-read inside the write lock: another process may have applied it meanwhile.
      if (schemaVersion(db) >= migration.version) return;
      migration.up(db);
      // PRAGMA takes no bound parameters; the version is an integer constant from this file.
      db.pragma(`user_version = ${Math.trunc(migration.version)}`);
    }).immediate();
  }
  return { from, to: schemaVersion(db) };
}
