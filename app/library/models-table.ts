// The model catalog: imported checkpoints. app/checkpoints' importer writes the rows; generation
// history refers to models by id inside recipe snapshots, so removing a model never rewrites history.
import type Database from 'better-sqlite3';
import { UserError } from '../common/errors.ts';
import type { JsonValue } from '../images/generation-settings.ts';
import { jsonColumn, parseJsonColumn } from './json-column.ts';

export type ModelPrecision = 'fp32' | 'fp16' | 'bf16';

export interface ModelRow {
  /** The checkpoint file's SHA-256 (hex), which is also its id. */
  readonly id: string;
  readonly name: string;
  /** Where the checkpoint was imported from. */
  readonly sourcePath: string;
  readonly sha256: string;
  /** AUTOV2: the first 10 hex digits of sha256, as AUTOMATIC1111 shows it. */
  readonly shortHash: string;
  readonly architecture: string;
  readonly precision: ModelPrecision;
  readonly sizeBytes: number;
  /** Directory of the converted artifacts in the model store. */
  readonly storeDir: string;
  /** What the importer produced per component (unet, text encoder, vae), as it chooses to describe it. */
  readonly components: { readonly [component: string]: JsonValue };
  readonly addedAt: number;
  readonly lastUsedAt: number | null;
}

interface Row {
  id: string;
  name: string;
  source_path: string;
  sha256: string;
  short_hash: string;
  architecture: string;
  precision: ModelPrecision;
  size_bytes: number;
  store_dir: string;
  components: string;
  added_at: number;
  last_used_at: number | null;
}

export function rowToModel(row: Row): ModelRow {
  return {
    id: row.id,
    name: row.name,
    sourcePath: row.source_path,
    sha256: row.sha256,
    shortHash: row.short_hash,
    architecture: row.architecture,
    precision: row.precision,
    sizeBytes: row.size_bytes,
    storeDir: row.store_dir,
    components: parseJsonColumn(row.components, {}),
    addedAt: row.added_at,
    lastUsedAt: row.last_used_at,
  };
}

/** AUTOMATIC1111's AUTOV2 short hash of a SHA-256 hex digest. */
export function shortHashOf(sha256: string): string {
  return sha256.slice(0, 10).toLowerCase();
}

export class ModelsTable {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Adds a model, or updates the catalog entry of one imported again (same SHA-256). */
  upsert(model: ModelRow): ModelRow {
    if (!/^[0-9a-f]{64}$/i.test(model.sha256) || model.id !== model.sha256.toLowerCase()) {
      throw new UserError('invalid-argument', `Model id must be the lower-case SHA-256 of the checkpoint, got ${model.id}.`);
    }
    this.#db
      .prepare(
        `INSERT INTO models (id, name, source_path, sha256, short_hash, architecture, precision, size_bytes, store_dir, components, added_at, last_used_at)
         VALUES (@id, @name, @source_path, @sha256, @short_hash, @architecture, @precision, @size_bytes, @store_dir, @components, @added_at, @last_used_at)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, source_path = excluded.source_path, architecture = excluded.architecture,
           precision = excluded.precision, size_bytes = excluded.size_bytes, store_dir = excluded.store_dir, components = excluded.components`,
      )
      .run({
        id: model.id,
        name: model.name,
        source_path: model.sourcePath,
        sha256: model.sha256.toLowerCase(),
        short_hash: model.shortHash || shortHashOf(model.sha256),
        architecture: model.architecture,
        precision: model.precision,
        size_bytes: model.sizeBytes,
        store_dir: model.storeDir,
        components: jsonColumn(model.components),
        added_at: model.addedAt,
        last_used_at: model.lastUsedAt,
      });
    return this.get(model.id)!;
  }

  get(id: string): ModelRow | undefined {
    const row = this.#db.prepare<[string], Row>('SELECT * FROM models WHERE id = ?').get(id);
    return row ? rowToModel(row) : undefined;
  }

  /** Models whose AUTOV2 hash is `shortHash` (how other tools' images name their checkpoint). */
  findByShortHash(shortHash: string): ModelRow[] {
    return this.#db.prepare<[string], Row>('SELECT * FROM models WHERE short_hash = ? ORDER BY added_at').all(shortHash.toLowerCase()).map(rowToModel);
  }

  /** Every model, most recently used first. */
  list(): ModelRow[] {
    return this.#db
      .prepare<[], Row>('SELECT * FROM models ORDER BY coalesce(last_used_at, added_at) DESC, name')
      .all()
      .map(rowToModel);
  }

  rename(id: string, name: string): void {
    if (this.#db.prepare('UPDATE models SET name = ? WHERE id = ?').run(name, id).changes === 0) throw notFound(id);
  }

  markUsed(id: string, at: number = Date.now()): void {
    if (this.#db.prepare('UPDATE models SET last_used_at = ? WHERE id = ?').run(at, id).changes === 0) throw notFound(id);
  }

  /** Removes the catalog entry (the caller removes the stored artifacts). History keeps its snapshots. */
  remove(id: string): boolean {
    return this.#db.prepare('DELETE FROM models WHERE id = ?').run(id).changes === 1;
  }
}

function notFound(id: string): UserError {
  return new UserError('not-found', `There is no model ${id} in the catalog.`);
}
