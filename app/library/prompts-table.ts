// The prompt gallery: saved prompts with a title, tags and a favourite flag; the studio counts how
// often each is used. Searchable with FTS5 over title, prompts and tags.
import type Database from 'better-sqlite3';
import { UserError } from '../common/errors.ts';
import { ftsQuery } from './fts-query.ts';
import { newId } from './ids.ts';
import { jsonColumn, parseJsonColumn } from './json-column.ts';
import { sql, sqlJoin, sqlRaw, type SqlFragment } from './sql.ts';

export interface PromptRow {
  readonly id: string;
  readonly title: string;
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly tags: readonly string[];
  readonly favourite: boolean;
  readonly useCount: number;
  readonly lastUsedAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface NewPrompt {
  readonly title: string;
  readonly prompt: string;
  readonly negativePrompt?: string;
  readonly tags?: readonly string[];
  readonly favourite?: boolean;
}

export type PromptOrder = 'recent' | 'popular' | 'title' | 'created';

export interface PromptQuery {
  readonly search?: string;
  readonly favourite?: boolean;
  readonly tag?: string;
  readonly order?: PromptOrder;
  readonly limit?: number;
}

interface Row {
  seq: number;
  id: string;
  title: string;
  prompt: string;
  negative_prompt: string;
  tags: string;
  favourite: number;
  use_count: number;
  last_used_at: number | null;
  created_at: number;
  updated_at: number;
}

export function rowToPrompt(row: Row): PromptRow {
  return {
    id: row.id,
    title: row.title,
    prompt: row.prompt,
    negativePrompt: row.negative_prompt,
    tags: parseJsonColumn<string[]>(row.tags, []),
    favourite: row.favourite === 1,
    useCount: row.use_count,
    lastUsedAt: row.last_used_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

// Fixed ORDER BY clauses; the query picks one by name, never from user text.
const ORDERS: Readonly<Record<PromptOrder, string>> = {
  recent: 'coalesce(p.last_used_at, p.created_at) DESC, p.id DESC',
  popular: 'p.use_count DESC, p.id DESC',
  title: 'p.title COLLATE NOCASE, p.id',
  created: 'p.created_at DESC, p.id DESC',
};

function cleanTags(tags: readonly string[] | undefined): string[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string')) throw new UserError('invalid-argument', 'Tags must be a list of words.');
  return [...new Set(tags.map((tag) => tag.trim()).filter((tag) => tag !== ''))];
}

function checkPrompt(prompt: Partial<NewPrompt>): void {
  if (prompt.title !== undefined && prompt.title.trim() === '') throw new UserError('invalid-argument', 'A saved prompt needs a title.');
  if (prompt.prompt !== undefined && typeof prompt.prompt !== 'string') throw new UserError('invalid-argument', 'The prompt must be text.');
}

export class PromptsTable {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  insert(prompt: NewPrompt, at: number = Date.now()): PromptRow {
    checkPrompt(prompt);
    const id = newId('prm', at);
    this.#db
      .prepare(
        `INSERT INTO prompts (id, title, prompt, negative_prompt, tags, favourite, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(id, prompt.title.trim(), prompt.prompt, prompt.negativePrompt ?? '', jsonColumn(cleanTags(prompt.tags)), prompt.favourite ? 1 : 0, at, at);
    return this.get(id)!;
  }

  update(id: string, changes: Partial<NewPrompt>, at: number = Date.now()): PromptRow {
    checkPrompt(changes);
    const current = this.require(id);
    this.#db
      .prepare('UPDATE prompts SET title = ?, prompt = ?, negative_prompt = ?, tags = ?, favourite = ?, updated_at = ? WHERE id = ?')
      .run(
        changes.title?.trim() ?? current.title,
        changes.prompt ?? current.prompt,
        changes.negativePrompt ?? current.negativePrompt,
        jsonColumn(changes.tags === undefined ? current.tags : cleanTags(changes.tags)),
        (changes.favourite ?? current.favourite) ? 1 : 0,
        at,
        id,
      );
    return this.require(id);
  }

  get(id: string): PromptRow | undefined {
    const row = this.#db.prepare<[string], Row>('SELECT * FROM prompts WHERE id = ?').get(id);
    return row ? rowToPrompt(row) : undefined;
  }

  require(id: string): PromptRow {
    const row = this.get(id);
    if (!row) throw new UserError('not-found', `There is no saved prompt ${id}.`);
    return row;
  }

  /** Counts one use (the prompt was sent to a generation). */
  markUsed(id: string, at: number = Date.now()): PromptRow {
    const result = this.#db.prepare('UPDATE prompts SET use_count = use_count + 1, last_used_at = ? WHERE id = ?').run(at, id);
    if (result.changes === 0) throw new UserError('not-found', `There is no saved prompt ${id}.`);
    return this.require(id);
  }

  list(query: PromptQuery = {}): PromptRow[] {
    const conditions: SqlFragment[] = [];
    if (query.search !== undefined) {
      const match = ftsQuery(query.search);
      if (match !== undefined) conditions.push(sql`p.seq IN (SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ${match})`);
    }
    if (query.favourite !== undefined) conditions.push(sql`p.favourite = ${query.favourite ? 1 : 0}`);
    if (query.tag !== undefined) conditions.push(sql`EXISTS (SELECT 1 FROM json_each(p.tags) WHERE json_each.value = ${query.tag})`);
    const where = conditions.length > 0 ? sqlJoin(conditions, ' AND ') : sqlRaw('1');
    const order = sqlRaw(ORDERS[query.order ?? 'recent'] ?? ORDERS.recent);
    const limit = query.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1) throw new UserError('invalid-argument', `A list holds at least one prompt, not ${limit}.`);
    const statement = sql`SELECT p.* FROM prompts p WHERE ${where} ORDER BY ${order} LIMIT ${limit}`;
    return this.#db.prepare<unknown[], Row>(statement.text).all(...statement.params).map(rowToPrompt);
  }

  remove(id: string): boolean {
    return this.#db.prepare('DELETE FROM prompts WHERE id = ?').run(id).changes === 1;
  }
}
