// Saved ensemble recipes. The document is app/ensemble's recipe JSON, stored as it is; generations
// keep their own snapshot of it, so editing a recipe here never changes history.
import type Database from 'better-sqlite3';
import { UserError } from '../common/errors.ts';
import type { JsonValue } from '../images/generation-settings.ts';
import { newId } from './ids.ts';
import { jsonColumn, parseJsonColumn } from './json-column.ts';

export interface RecipeRow {
  readonly id: string;
  readonly name: string;
  readonly document: JsonValue;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface Row {
  id: string;
  name: string;
  document: string;
  created_at: number;
  updated_at: number;
}

export function rowToRecipe(row: Row): RecipeRow {
  return { id: row.id, name: row.name, document: parseJsonColumn<JsonValue>(row.document, null), createdAt: row.created_at, updatedAt: row.updated_at };
}

export class RecipesTable {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  insert(name: string, document: JsonValue, at: number = Date.now()): RecipeRow {
    const id = newId('rcp', at);
    this.#db.prepare('INSERT INTO recipes (id, name, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(id, name, jsonColumn(document), at, at);
    return this.get(id)!;
  }

  update(id: string, changes: { name?: string; document?: JsonValue }, at: number = Date.now()): RecipeRow {
    const current = this.get(id);
    if (!current) throw new UserError('not-found', `There is no recipe ${id}.`);
    this.#db
      .prepare('UPDATE recipes SET name = ?, document = ?, updated_at = ? WHERE id = ?')
      .run(changes.name ?? current.name, jsonColumn(changes.document === undefined ? current.document : changes.document), at, id);
    return this.get(id)!;
  }

  get(id: string): RecipeRow | undefined {
    const row = this.#db.prepare<[string], Row>('SELECT * FROM recipes WHERE id = ?').get(id);
    return row ? rowToRecipe(row) : undefined;
  }

  /** Most recently edited first. */
  list(): RecipeRow[] {
    return this.#db.prepare<[], Row>('SELECT * FROM recipes ORDER BY updated_at DESC, id DESC').all().map(rowToRecipe);
  }

  remove(id: string): boolean {
    return this.#db.prepare('DELETE FROM recipes WHERE id = ?').run(id).changes === 1;
  }
}
