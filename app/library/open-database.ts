// Opening the library database: checks that the file is a database this build can use, sets the
// connection up (WAL, foreign keys, busy timeout) and migrates it. A damaged or newer file is never
// reset: it is copied aside first and the error says where the copy is.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, constants as fsConstants } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { corruptDatabaseError, DatabaseTooNewError } from './database-errors.ts';
import { migrate, SCHEMA_VERSION, schemaVersion } from './migrations.ts';

export interface OpenDatabaseOptions {
  /** How long a write waits for another connection's write lock before failing (ms). */
  readonly busyTimeoutMs?: number;
  /** Migrate up to this version instead of the latest (tests build fixtures at old versions). */
  readonly targetVersion?: number;
  /**
   * better-sqlite3's compiled addon to load instead of the one in node_modules (its `nativeBinding`
   * option). Default: the file named by the AFA_SQLITE_BINDING variable, if set. The desktop shell sets
   * it for a checkout's Electron processes, whose ABI differs from the Node build the tests use.
   */
  readonly nativeBinding?: string;
}

/** Environment variable naming a better-sqlite3 addon to load (see `OpenDatabaseOptions.nativeBinding`). */
export const nativeBindingVariable = 'AFA_SQLITE_BINDING';

function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'));
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

/** SHA-256 of a file, or '' when it is absent. */
function fileHash(path: string): string {
  return existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : '';
}

/**
 * An earlier copy (`<path>.<label>-<time>`) with the same bytes as the file and its log: each start
 * with the same damaged file would otherwise leave one more copy.
 */
function sameCopy(path: string, label: string): string | null {
  const prefix = `${basename(path)}.${label}-`;
  const copies = readdirSync(dirname(path)).filter((name) => name.startsWith(prefix) && !name.endsWith('-wal'));
  if (copies.length === 0) return null;
  const wanted = { main: fileHash(path), wal: fileHash(`${path}-wal`) };
  const size = statSync(path).size;
  for (const name of copies) {
    const copy = join(dirname(path), name);
    if (statSync(copy).size === size && fileHash(copy) === wanted.main && fileHash(`${copy}-wal`) === wanted.wal) return copy;
  }
  return null;
}

// A byte copy of the file and its write-ahead log, for a file SQLite cannot read consistently; one copy
// per damaged content (an identical earlier copy is reused).
function copyAside(path: string, label: string): string | null {
  const target = `${path}.${label}-${timestamp()}`;
  try {
    const existing = sameCopy(path, label);
    if (existing) return existing;
    copyFileSync(path, target, fsConstants.COPYFILE_EXCL);
    if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${target}-wal`, fsConstants.COPYFILE_EXCL);
    return target;
  } catch {
    return null;
  }
}

// A consistent snapshot (WAL included) of a readable database, for one from a newer version.
function backupReadable(db: Database.Database, path: string, label: string): string | null {
  const target = `${path}.${label}-${timestamp()}`;
  try {
    db.prepare('VACUUM INTO ?').run(target);
    return target;
  } catch {
    return copyAside(path, label);
  }
}

/**
 * Opens (creating if needed) the database at `path`, ready for use at the latest schema.
 * Throws DatabaseTooNewError for a file from a newer AFA Studio and UserError('corrupt-file') for a
 * file that is not a database or is damaged; both after writing a backup copy beside it.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): Database.Database {
  const inMemory = path === ':memory:';
  if (!inMemory) mkdirSync(dirname(path), { recursive: true });
  let db: Database.Database;
  try {
    const nativeBinding = options.nativeBinding ?? (process.env[nativeBindingVariable] || undefined);
    db = new Database(path, { timeout: options.busyTimeoutMs ?? 10_000, ...(nativeBinding ? { nativeBinding } : {}) });
  } catch (error) {
    if (!isCorruption(error)) throw error;
    throw corruptDatabaseError(path, (error as Error).message, copyAside(path, 'corrupt'));
  }
  let version: number;
  try {
    // Reading the header and the schema is what fails on a file that is not a database, or whose
    // first pages are damaged; later damage surfaces as SQLITE_CORRUPT from the query that hits it.
    version = schemaVersion(db);
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
  } catch (error) {
    db.close();
    if (!isCorruption(error)) throw error;
    throw corruptDatabaseError(path, (error as Error).message, inMemory ? null : copyAside(path, 'corrupt'));
  }
  if (version > SCHEMA_VERSION) {
    const backup = inMemory ? null : backupReadable(db, path, `newer-v${version}`);
    db.close();
    throw new DatabaseTooNewError(path, version, SCHEMA_VERSION, backup);
  }
  try {
    // WAL lets the UI read while a job writes; NORMAL sync is durable against a killed process (the
    // log is in the OS cache), though not against power loss for the last commits.
    if (!inMemory) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, options.targetVersion ?? SCHEMA_VERSION);
  } catch (error) {
    db.close();
    if (isCorruption(error)) throw corruptDatabaseError(path, (error as Error).message, inMemory ? null : copyAside(path, 'corrupt'));
    throw error;
  }
  return db;
}
