// The history: one row per image (or per queued/failed attempt), holding everything needed to make
// it again. Rows are plain JSON for the UI; paths are relative to the studio home.
import type Database from 'better-sqlite3';
import { UserError } from '../common/errors.ts';
import type { GenerationSettings, GenerationTimings, RecipeSnapshot } from '../images/generation-settings.ts';
import type { SettingsSource } from '../images/imported-settings.ts';
import { ftsQuery } from './fts-query.ts';
import { newId } from './ids.ts';
import { jsonColumn, parseJsonColumn } from './json-column.ts';
import { decodeCursor, encodeCursor } from './page-cursor.ts';
import { sql, sqlJoin, sqlRaw, type SqlFragment } from './sql.ts';

/** Which tool's metadata a row's settings came from; 'none' for an imported PNG that had none. */
export type GenerationSource = SettingsSource | 'none';

export type GenerationStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'missing';

export const GENERATION_STATUSES: readonly GenerationStatus[] = ['queued', 'running', 'done', 'failed', 'cancelled', 'missing'];

export interface GenerationRow {
  readonly id: string;
  /** ms since the epoch. */
  readonly createdAt: number;
  readonly settings: GenerationSettings;
  readonly status: GenerationStatus;
  readonly error: string | null;
  readonly timings: GenerationTimings | null;
  /** Relative to the studio home, '/'-separated; null until the image exists. */
  readonly imagePath: string | null;
  readonly thumbnailPath: string | null;
  readonly favourite: boolean;
  readonly tags: readonly string[];
  /** Which tool's metadata the settings came from ('afa-studio' for our own images). */
  readonly source: GenerationSource;
  /** Set while the row is in the trash. */
  readonly trashedAt: number | null;
}

export interface NewGeneration {
  readonly id?: string;
  readonly createdAt: number;
  readonly settings: GenerationSettings;
  readonly status: GenerationStatus;
  readonly error?: string | null;
  readonly timings?: GenerationTimings | null;
  readonly imagePath?: string | null;
  readonly thumbnailPath?: string | null;
  readonly favourite?: boolean;
  readonly tags?: readonly string[];
  readonly source?: GenerationSource;
  /** Searched with the prompts: for imported images, what the original tool recorded, as text. */
  readonly settingsText?: string;
}

export interface GenerationQuery {
  /** Words to find in the prompt, negative prompt, tags or imported settings (all must match; the last as a prefix). */
  readonly search?: string;
  /** Only images made with this catalog model (as any ensemble member). */
  readonly modelId?: string;
  readonly method?: string;
  /** createdAt range: from inclusive, to exclusive (ms). */
  readonly from?: number;
  readonly to?: number;
  readonly favourite?: boolean;
  readonly status?: GenerationStatus | readonly GenerationStatus[];
  /** 'exclude' (default) hides trashed rows, 'only' lists the trash. */
  readonly trashed?: 'exclude' | 'only' | 'include';
  /** From a previous page's nextCursor. */
  readonly cursor?: string;
  /** Rows per page, 1–500 (default 60). */
  readonly limit?: number;
}

export interface GenerationPage {
  readonly items: GenerationRow[];
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/** What reconciliation needs of every row, without decoding the JSON columns. */
export interface GenerationFileRow {
  readonly id: string;
  readonly status: GenerationStatus;
  readonly imagePath: string | null;
  readonly thumbnailPath: string | null;
  readonly trashBatch: string | null;
}

interface Row {
  seq: number;
  id: string;
  prompt: string;
  negative_prompt: string;
  seed: number;
  steps: number;
  guidance: number;
  sampler: string;
  width: number;
  height: number;
  batch_index: number;
  method: string;
  recipe: string;
  extra: string | null;
  status: GenerationStatus;
  error: string | null;
  timings: string | null;
  image_path: string | null;
  thumbnail_path: string | null;
  favourite: number;
  tags: string;
  source: GenerationSource;
  created_at: number;
  trashed_at: number | null;
  trash_batch: string | null;
}

type FileRow = Pick<Row, 'id' | 'status' | 'image_path' | 'thumbnail_path' | 'trash_batch'>;
const FILE_COLUMNS = 'id, status, image_path, thumbnail_path, trash_batch';

function fileRowOf(row: FileRow): GenerationFileRow {
  return { id: row.id, status: row.status, imagePath: row.image_path, thumbnailPath: row.thumbnail_path, trashBatch: row.trash_batch };
}

export const DEFAULT_PAGE_SIZE = 60;
/** Searches with at most this many matches sort them; denser ones probe the date index (see list()). */
const SPARSE_MATCHES = 1000;

type SearchMode = 'drive' | 'probe';
const MAX_PAGE_SIZE = 500;

const EMPTY_RECIPE: RecipeSnapshot = { recipeId: null, name: null, method: 'single', members: [], aggregatorId: null };

export function rowToGeneration(row: Row): GenerationRow {
  const extra = parseJsonColumn<GenerationSettings['extra'] | null>(row.extra, null);
  const settings: GenerationSettings = {
    prompt: row.prompt,
    negativePrompt: row.negative_prompt,
    seed: row.seed,
    steps: row.steps,
    guidance: row.guidance,
    sampler: row.sampler,
    width: row.width,
    height: row.height,
    batchIndex: row.batch_index,
    recipe: parseJsonColumn<RecipeSnapshot>(row.recipe, EMPTY_RECIPE),
    ...(extra ? { extra } : {}),
  };
  return {
    id: row.id,
    createdAt: row.created_at,
    settings,
    status: row.status,
    error: row.error,
    timings: parseJsonColumn<GenerationTimings | null>(row.timings, null),
    imagePath: row.image_path,
    thumbnailPath: row.thumbnail_path,
    favourite: row.favourite === 1,
    tags: parseJsonColumn<string[]>(row.tags, []),
    source: row.source,
    trashedAt: row.trashed_at,
  };
}

function checkTags(tags: readonly string[]): string[] {
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string')) throw new UserError('invalid-argument', 'Tags must be a list of words.');
  return [...new Set(tags.map((tag) => tag.trim()).filter((tag) => tag !== ''))];
}

function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new UserError('invalid-argument', `A page holds 1–${MAX_PAGE_SIZE} rows, not ${limit}.`);
  }
  return limit;
}

export class GenerationsTable {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #insertModel: Database.Statement;
  readonly #get: Database.Statement<[string], Row>;
  readonly #fileRowStatement: Database.Statement<[string], FileRow>;
  readonly #statements = new Map<string, Database.Statement<unknown[], Row>>();
  readonly #countMatches: Database.Statement<[string, number], { n: number }>;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#insert = db.prepare(`
      INSERT INTO generations (id, prompt, negative_prompt, seed, steps, guidance, sampler, width, height, batch_index,
        method, recipe, extra, status, error, timings, image_path, thumbnail_path, favourite, tags, source, settings_text, created_at)
      VALUES (@id, @prompt, @negative_prompt, @seed, @steps, @guidance, @sampler, @width, @height, @batch_index,
        @method, @recipe, @extra, @status, @error, @timings, @image_path, @thumbnail_path, @favourite, @tags, @source, @settings_text, @created_at)
    `);
    this.#insertModel = db.prepare(
      'INSERT OR IGNORE INTO generation_models (generation_seq, model_id, created_at, generation_id) VALUES (?, ?, ?, ?)',
    );
    this.#get = db.prepare('SELECT * FROM generations WHERE id = ?');
    this.#fileRowStatement = db.prepare(`SELECT ${FILE_COLUMNS} FROM generations WHERE id = ?`);
    this.#countMatches = db.prepare(
      'SELECT count(*) AS n FROM (SELECT rowid FROM generations_fts WHERE generations_fts MATCH ? LIMIT ?)',
    );
  }

  /** Inserts one row (and its model links) in one transaction. */
  insert(input: NewGeneration): GenerationRow {
    const id = input.id ?? newId('gen', input.createdAt);
    const { settings } = input;
    if (!GENERATION_STATUSES.includes(input.status)) throw new UserError('invalid-argument', `"${input.status}" is not a generation status.`);
    if (!Number.isSafeInteger(settings.seed)) throw new UserError('invalid-argument', `Seed ${settings.seed} is not an integer up to 2^53.`);
    this.#db
      .transaction(() => {
        const { lastInsertRowid } = this.#insert.run({
          id,
          prompt: settings.prompt,
          negative_prompt: settings.negativePrompt,
          seed: settings.seed,
          steps: settings.steps,
          guidance: settings.guidance,
          sampler: settings.sampler,
          width: settings.width,
          height: settings.height,
          batch_index: settings.batchIndex,
          method: settings.recipe.method,
          recipe: jsonColumn(settings.recipe),
          extra: settings.extra === undefined ? null : jsonColumn(settings.extra),
          status: input.status,
          error: input.error ?? null,
          timings: input.timings ? jsonColumn(input.timings) : null,
          image_path: input.imagePath ?? null,
          thumbnail_path: input.thumbnailPath ?? null,
          favourite: input.favourite ? 1 : 0,
          tags: jsonColumn(checkTags(input.tags ?? [])),
          source: input.source ?? 'afa-studio',
          settings_text: input.settingsText ?? '',
          created_at: input.createdAt,
        });
        for (const member of settings.recipe.members) {
          if (member.modelId) this.#insertModel.run(lastInsertRowid, member.modelId, input.createdAt, id);
        }
      })
      .immediate();
    return this.get(id)!;
  }

  get(id: string): GenerationRow | undefined {
    const row = this.#get.get(id);
    return row ? rowToGeneration(row) : undefined;
  }

  require(id: string): GenerationRow {
    const row = this.get(id);
    if (!row) throw new UserError('not-found', `There is no generation ${id} in the library.`);
    return row;
  }

  /** One page of history, newest first, keyset-paginated by (createdAt, id). */
  list(query: GenerationQuery = {}): GenerationPage {
    const limit = checkLimit(query.limit);
    const search = this.#searchPlan(query.search);
    if (search?.matches === 0) return { items: [], nextCursor: null };
    const { text, params } = this.#listQuery(query, limit + 1, search?.mode ?? 'drive');
    const rows = this.#prepare(text).all(...params);
    const items = rows.slice(0, limit).map(rowToGeneration);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  /** How many rows match (no cursor, no limit). */
  count(query: Omit<GenerationQuery, 'cursor' | 'limit'> = {}): number {
    const { from, where } = this.#filters(query, 'drive');
    const statement = sql`SELECT count(*) AS n FROM ${from} WHERE ${where}`;
    return (this.#db.prepare<unknown[], { n: number }>(statement.text).get(...statement.params) as { n: number }).n;
  }

  /** The SQL of a page query as list() would run it, for EXPLAIN QUERY PLAN in tests. */
  listSql(query: GenerationQuery = {}): SqlFragment {
    return this.#listQuery(query, checkLimit(query.limit) + 1, this.#searchPlan(query.search)?.mode ?? 'drive');
  }

  // A search can run two ways. 'drive': read the FTS matches and sort them by date — cheap when
  // there are few. 'probe': walk the date index newest first and probe each row in the match set,
  // stopping after one page — cheap when matches are dense. Counting up to SPARSE_MATCHES + 1
  // matches (≈ 0.1–1 ms) picks the plan; at 100 000 rows the crossover measured ≈ 1 000.
  #searchPlan(search: string | undefined): { mode: SearchMode; matches: number } | undefined {
    const match = search === undefined ? undefined : ftsQuery(search);
    if (match === undefined) return undefined;
    const matches = this.#countMatches.get(match, SPARSE_MATCHES + 1)!.n;
    return { mode: matches <= SPARSE_MATCHES ? 'drive' : 'probe', matches };
  }

  // With a model filter the page is read from generation_models' (model_id, created_at, id) index,
  // otherwise from one of generations' (…, created_at, id) indexes; either way the ORDER BY matches
  // the index, so a page costs O(page size) however long the history is.
  #filters(query: Omit<GenerationQuery, 'cursor' | 'limit'>, mode: SearchMode): { from: SqlFragment; where: SqlFragment; order: { createdAt: string; id: string } } {
    const conditions: SqlFragment[] = [];
    let from = sqlRaw('generations g');
    let order = { createdAt: 'g.created_at', id: 'g.id' };
    if (query.modelId !== undefined) {
      from = sql`generation_models m JOIN generations g ON g.seq = m.generation_seq`;
      conditions.push(sql`m.model_id = ${query.modelId}`);
      order = { createdAt: 'm.created_at', id: 'm.generation_id' };
    }
    if (query.search !== undefined) {
      const match = ftsQuery(query.search);
      // Unary + keeps SQLite from driving the loop by this rowid constraint ('probe').
      const seq = sqlRaw(mode === 'probe' ? '+g.seq' : 'g.seq');
      if (match !== undefined) conditions.push(sql`${seq} IN (SELECT rowid FROM generations_fts WHERE generations_fts MATCH ${match})`);
    }
    if (query.method !== undefined) conditions.push(sql`g.method = ${query.method}`);
    if (query.from !== undefined) conditions.push(sql`${sqlRaw(order.createdAt)} >= ${query.from}`);
    if (query.to !== undefined) conditions.push(sql`${sqlRaw(order.createdAt)} < ${query.to}`);
    if (query.favourite === true) conditions.push(sql`g.favourite = 1`);
    if (query.favourite === false) conditions.push(sql`g.favourite = 0`);
    if (query.status !== undefined) {
      const statuses = typeof query.status === 'string' ? [query.status] : [...query.status];
      if (statuses.length === 0) conditions.push(sqlRaw('0'));
      else conditions.push(sql`g.status IN (${sqlJoin(statuses.map((status) => sql`${status}`), ', ')})`);
    }
    const trashed = query.trashed ?? 'exclude';
    if (trashed === 'exclude') conditions.push(sqlRaw('g.trashed_at IS NULL'));
    if (trashed === 'only') conditions.push(sqlRaw('g.trashed_at IS NOT NULL'));
    return { from, where: conditions.length > 0 ? sqlJoin(conditions, ' AND ') : sqlRaw('1'), order };
  }

  // Two phases: the inner query finds the page's seqs (reading only what ordering and filters
  // need), the outer one fetches those rows whole — so a sort, where one happens, handles small
  // records, and at most `limit` full rows are read.
  #listQuery(query: GenerationQuery, limit: number, mode: SearchMode): SqlFragment {
    const { from, where, order } = this.#filters(query, mode);
    const createdAt = sqlRaw(order.createdAt);
    const id = sqlRaw(order.id);
    let keyset = sqlRaw('1');
    if (query.cursor !== undefined) {
      const position = decodeCursor(query.cursor);
      keyset = sql`(${createdAt} < ${position.createdAt} OR (${createdAt} = ${position.createdAt} AND ${id} < ${position.id}))`;
    }
    const page = sql`SELECT g.seq FROM ${from} WHERE ${where} AND ${keyset} ORDER BY ${createdAt} DESC, ${id} DESC LIMIT ${limit}`;
    return sql`SELECT * FROM generations WHERE seq IN (${page}) ORDER BY created_at DESC, id DESC`;
  }

  setStatus(id: string, status: GenerationStatus, error: string | null = null): void {
    if (!GENERATION_STATUSES.includes(status)) throw new UserError('invalid-argument', `"${status}" is not a generation status.`);
    this.#changed(this.#db.prepare('UPDATE generations SET status = ?, error = ? WHERE id = ?').run(status, error, id), id);
  }

  /** Records the finished image of a queued/running row. */
  complete(id: string, files: { imagePath: string; thumbnailPath: string }, timings: GenerationTimings | null): void {
    this.#changed(
      this.#db
        .prepare(`UPDATE generations SET status = 'done', error = NULL, image_path = ?, thumbnail_path = ?, timings = ? WHERE id = ?`)
        .run(files.imagePath, files.thumbnailPath, timings ? jsonColumn(timings) : null, id),
      id,
    );
  }

  setThumbnail(id: string, thumbnailPath: string): void {
    this.#changed(this.#db.prepare('UPDATE generations SET thumbnail_path = ? WHERE id = ?').run(thumbnailPath, id), id);
  }

  setFavourite(id: string, favourite: boolean): void {
    this.#changed(this.#db.prepare('UPDATE generations SET favourite = ? WHERE id = ?').run(favourite ? 1 : 0, id), id);
  }

  setTags(id: string, tags: readonly string[]): void {
    this.#changed(this.#db.prepare('UPDATE generations SET tags = ? WHERE id = ?').run(jsonColumn(checkTags(tags)), id), id);
  }

  /** Every row's files, for reconciliation (a few short columns per row). */
  fileRows(): GenerationFileRow[] {
    return this.#db.prepare<[], FileRow>(`SELECT ${FILE_COLUMNS} FROM generations`).all().map(fileRowOf);
  }

  hasImagePath(imagePath: string): boolean {
    return this.#db.prepare('SELECT 1 FROM generations WHERE image_path = ?').get(imagePath) !== undefined;
  }

  /** Marks rows as trashed under one batch id. Returns the rows that were moved (not already trashed). */
  markTrashed(ids: readonly string[], batch: string, at: number): GenerationFileRow[] {
    const update = this.#db.prepare('UPDATE generations SET trashed_at = ?, trash_batch = ? WHERE id = ? AND trashed_at IS NULL');
    return this.#db
      .transaction(() => {
        const moved: GenerationFileRow[] = [];
        for (const id of ids) if (update.run(at, batch, id).changes === 1) moved.push(this.#fileRow(id));
        return moved;
      })
      .immediate();
  }

  trashBatchRows(batch: string): GenerationFileRow[] {
    return this.#db
      .prepare<[string], { id: string }>('SELECT id FROM generations WHERE trash_batch = ?')
      .all(batch)
      .map((row) => this.#fileRow(row.id));
  }

  clearTrashed(batch: string): number {
    return this.#db.prepare('UPDATE generations SET trashed_at = NULL, trash_batch = NULL WHERE trash_batch = ?').run(batch).changes;
  }

  /** Trash batches, oldest first, with when they were made. */
  trashBatches(): { batch: string; trashedAt: number; count: number }[] {
    return this.#db
      .prepare<[], { batch: string; trashed_at: number; count: number }>(
        `SELECT trash_batch AS batch, min(trashed_at) AS trashed_at, count(*) AS count FROM generations
         WHERE trash_batch IS NOT NULL GROUP BY trash_batch ORDER BY trashed_at`,
      )
      .all()
      .map((row) => ({ batch: row.batch, trashedAt: row.trashed_at, count: row.count }));
  }

  /** Deletes rows for good (their model links and FTS entries go with them). */
  delete(ids: readonly string[]): number {
    const remove = this.#db.prepare('DELETE FROM generations WHERE id = ?');
    return this.#db.transaction(() => ids.reduce((sum, id) => sum + remove.run(id).changes, 0)).immediate();
  }

  #fileRow(id: string): GenerationFileRow {
    const row = this.#fileRowStatement.get(id);
    if (!row) throw new UserError('not-found', `There is no generation ${id} in the library.`);
    return fileRowOf(row);
  }

  // Page queries differ only by which filters are present; their statements are cached by SQL text.
  #prepare(text: string): Database.Statement<unknown[], Row> {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.prepare<unknown[], Row>(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  #changed(result: Database.RunResult, id: string): void {
    if (result.changes === 0) throw new UserError('not-found', `There is no generation ${id} in the library.`);
  }
}

