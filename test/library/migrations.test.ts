import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { UserError } from '../../app/common/errors.ts';
import { DatabaseTooNewError } from '../../app/library/database-errors.ts';
import { DemoItemsTable } from '../../app/library/demo-items-table.ts';
import { GenerationsTable } from '../../app/library/generations-table.ts';
import { Library } from '../../app/library/library.ts';
import { MIGRATIONS, SCHEMA_VERSION, migrate, schemaVersion } from '../../app/library/migrations.ts';
import { openDatabase } from '../../app/library/open-database.ts';
import { PromptsTable } from '../../app/library/prompts-table.ts';
import { modelId, settings, temporaryHome } from './fixtures.ts';

const { home, remove } = temporaryHome('migrations');
after(remove);

function schemaOf(db: Database.Database): string[] {
  return db
    .prepare<[], { type: string; name: string; sql: string | null }>("SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
    .all()
    .map((row) => `${row.type} ${row.name}: ${row.sql}`);
}

// Rows as each version's schema allows them, written with plain SQL (the table modules only know
// the latest schema) so that the migration has real data to carry forward.
const writeAtVersion: Record<number, (db: Database.Database) => void> = {
  1: (db) => {
    db.prepare(
      `INSERT INTO models (id, name, source_path, sha256, short_hash, architecture, precision, size_bytes, store_dir, components, added_at)
       VALUES (?, 'model-1', '/models/one.safetensors', ?, ?, 'sd1', 'fp16', 2132625894, '/store/one', '{}', 1000)`,
    ).run(modelId(1), modelId(1), modelId(1).slice(0, 10));
    const recipe = JSON.stringify(settings().recipe);
    const { lastInsertRowid } = db
      .prepare(
        `INSERT INTO generations (id, prompt, negative_prompt, seed, steps, guidance, sampler, width, height, batch_index, method, recipe,
           status, image_path, thumbnail_path, tags, created_at)
         VALUES ('gen_v1', 'an old lighthouse at dusk', 'blurry', 9007199254740991, 30, 7, 'ddim', 512, 512, 0, 'single', ?, 'done',
           'images/2024-01-01/gen_v1.png', 'thumbnails/2024-01-01/gen_v1.png', '["keeper"]', 1704067200000)`,
      )
      .run(recipe);
    db.prepare("INSERT INTO generation_models (generation_seq, model_id, created_at, generation_id) VALUES (?, ?, 1704067200000, 'gen_v1')").run(
      lastInsertRowid,
      modelId(1),
    );
    db.prepare(
      "INSERT INTO prompts (id, title, prompt, negative_prompt, tags, created_at, updated_at) VALUES ('prm_v1', 'Lighthouse', 'a lighthouse', '', '[]', 1, 1)",
    ).run();
  },
  2: (db) => {
    db.prepare(
      `INSERT INTO training_runs (id, name, recipe, config, status, created_at) VALUES ('trn_v2', 'first run', ?, '{"steps": 100}', 'done', 2000)`,
    ).run(JSON.stringify(settings().recipe));
  },
  3: (db) => {
    // An image imported from ComfyUI before its settings were searchable.
    const extra = JSON.stringify({ imported: { source: 'comfyui', modelName: 'juggernautXL_v8', samplerLabel: 'dpmpp_2m', other: { scheduler: 'karras' } } });
    db.prepare(
      `INSERT INTO generations (id, prompt, negative_prompt, seed, steps, guidance, sampler, width, height, batch_index, method, recipe, extra,
         status, image_path, thumbnail_path, tags, source, created_at)
       VALUES ('gen_v3', 'a harbour', '', 1, 20, 7, 'dpmpp-2m-karras', 512, 512, 0, 'single', ?, ?, 'done', 'images/x/gen_v3.png', NULL, '[]', 'comfyui', 1704067300000)`,
    ).run(JSON.stringify(settings().recipe), extra);
  },
};

function checkCarriedForward(db: Database.Database, from: number): void {
  const generations = new GenerationsTable(db);
  const row = generations.get('gen_v1');
  assert.equal(row?.settings.seed, 2 ** 53 - 1);
  assert.deepEqual(row?.tags, ['keeper']);
  assert.equal(row?.trashedAt, null);
  assert.deepEqual(generations.list({ search: 'lighthouse' }).items.map((item) => item.id), ['gen_v1']);
  assert.deepEqual(generations.list({ modelId: modelId(1) }).items.map((item) => item.id), ['gen_v1']);
  assert.deepEqual(new PromptsTable(db).list({ search: 'lighthouse' }).map((prompt) => prompt.id), ['prm_v1']);
  if (from >= 2) assert.equal(db.prepare("SELECT name FROM training_runs WHERE id = 'trn_v2'").pluck().get(), 'first run');
  // Migration 4 indexes imported settings written before it; rows written at version 4 or later carry
  // their search text from the table module, which this plain-SQL fixture does not fill in.
  if (from === 3) assert.deepEqual(generations.list({ search: 'juggernautXL karras' }).items.map((item) => item.id), ['gen_v3'], 'imported settings are searched');
  assert.deepEqual(db.pragma('integrity_check', { simple: true }), 'ok');
  assert.deepEqual(db.pragma('foreign_key_check'), []);
}

describe('migrations', () => {
  it('are numbered 1, 2, 3, ... in list order, one per file', () => {
    assert.deepEqual(MIGRATIONS.map((migration) => migration.version), MIGRATIONS.map((_, i) => i + 1));
    const files = readdirSync(new URL('../../app/library/migrations/', import.meta.url)).sort();
    assert.deepEqual(
      files,
      MIGRATIONS.map((migration) => `${String(migration.version).padStart(4, '0')}-${migration.name}.ts`),
    );
    assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
  });

  it('build a new database at the latest version with STRICT tables', () => {
    const db = new Database(':memory:');
    assert.deepEqual(migrate(db), { from: 0, to: SCHEMA_VERSION });
    const tables = db.prepare<[], { name: string; strict: number }>("SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%_fts%'").all();
    assert.deepEqual(tables.map((table) => table.name).sort(), ['aggregators', 'demo_items', 'generation_models', 'generations', 'models', 'prompts', 'recipes', 'training_runs']);
    for (const table of tables) assert.equal(table.strict, 1, `${table.name} is STRICT`);
    assert.deepEqual(migrate(db), { from: SCHEMA_VERSION, to: SCHEMA_VERSION }, 'running again changes nothing');
    db.close();
  });

  for (let from = 1; from < SCHEMA_VERSION; from++) {
    it(`carry a version ${from} database with data forward to version ${SCHEMA_VERSION}`, () => {
      const db = new Database(':memory:');
      db.pragma('foreign_keys = ON');
      migrate(db, from);
      assert.equal(schemaVersion(db), from);
      for (let version = 1; version <= from; version++) writeAtVersion[version]?.(db);
      assert.deepEqual(migrate(db), { from, to: SCHEMA_VERSION });
      checkCarriedForward(db, from);
      const fresh = new Database(':memory:');
      migrate(fresh);
      assert.deepEqual(schemaOf(db), schemaOf(fresh), 'migrated schema equals a fresh one');
      fresh.close();
      db.close();
    });
  }

  it('want the built-in demo on a new or never-used home, not on one that holds the person\'s work', () => {
    const fresh = new Database(':memory:');
    migrate(fresh);
    assert.equal(new DemoItemsTable(fresh).pack().state, 'wanted');
    fresh.close();
    const unused = new Database(':memory:');
    migrate(unused, 4);
    migrate(unused);
    assert.equal(new DemoItemsTable(unused).pack().state, 'wanted');
    unused.close();
    const used = new Database(':memory:');
    used.pragma('foreign_keys = ON');
    migrate(used, 4);
    writeAtVersion[1]!(used);
    migrate(used);
    assert.equal(new DemoItemsTable(used).pack().state, 'declined');
    used.close();
  });

  it('carry an old database file forward when the library opens it', () => {
    const path = join(home, 'old', 'library.sqlite');
    openDatabase(path, { targetVersion: 1 }).close();
    const old = new Database(path);
    writeAtVersion[1](old);
    old.close();
    const library = Library.open({ home: join(home, 'old') });
    try {
      assert.equal(schemaVersion(library.db), SCHEMA_VERSION);
      assert.equal(library.db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(library.db.pragma('foreign_keys', { simple: true }), 1);
      checkCarriedForward(library.db, 1);
    } finally {
      library.close();
    }
  });
});

describe('databases this build cannot use', () => {
  it('a newer version: DatabaseTooNewError naming a backup, and the file left as it was', () => {
    const dir = join(home, 'newer');
    const path = join(dir, 'library.sqlite');
    const library = Library.open({ home: dir });
    library.prompts.insert({ title: 'keep me', prompt: 'x' });
    library.close();
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();

    let caught: unknown;
    assert.throws(() => Library.open({ home: dir }), (error: unknown) => {
      caught = error;
      return error instanceof DatabaseTooNewError && error instanceof UserError;
    });
    const error = caught as DatabaseTooNewError;
    assert.equal(error.fileVersion, SCHEMA_VERSION + 1);
    assert.match(error.message, /made by a newer version of AFA Studio/);
    assert.match(error.message, /Update AFA Studio/);
    assert.ok(error.backupPath && error.message.includes(error.backupPath));
    const backup = new Database(error.backupPath!, { readonly: true });
    assert.equal(backup.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1);
    assert.equal(backup.prepare('SELECT title FROM prompts').pluck().get(), 'keep me');
    backup.close();
    const original = new Database(path, { readonly: true });
    assert.equal(original.pragma('user_version', { simple: true }), SCHEMA_VERSION + 1, 'not reset or migrated');
    assert.equal(original.prepare('SELECT title FROM prompts').pluck().get(), 'keep me');
    original.close();
  });

  it('a file that is not a database: corrupt-file, after copying it aside untouched', () => {
    const dir = join(home, 'garbage');
    const path = join(dir, 'library.sqlite');
    openDatabase(path).close();
    const garbage = Buffer.from('this is not an SQLite database, it is a shopping list\n'.repeat(100));
    writeFileSync(path, garbage);
    assert.throws(() => Library.open({ home: dir }), (error: unknown) => {
      assert.ok(error instanceof UserError && error.code === 'corrupt-file');
      assert.match(error.message, /damaged/);
      const copy = readdirSync(dir).find((name) => name.startsWith('library.sqlite.corrupt-'));
      assert.ok(copy, 'a copy was written');
      assert.ok(error.message.includes(copy));
      assert.deepEqual(readFileSync(join(dir, copy)), garbage);
      return true;
    });
    assert.deepEqual(readFileSync(path), garbage, 'never reset');
    // Each further start names the same copy instead of making another (4 tries, 1 copy).
    for (let attempt = 0; attempt < 3; attempt++) assert.throws(() => Library.open({ home: dir }), (error: unknown) => error instanceof UserError && error.code === 'corrupt-file');
    assert.equal(readdirSync(dir).filter((name) => name.startsWith('library.sqlite.corrupt-') && !name.endsWith('-wal')).length, 1);
    // A file damaged differently gets its own copy.
    writeFileSync(path, Buffer.from('another kind of garbage\n'.repeat(100)));
    assert.throws(() => Library.open({ home: dir }), (error: unknown) => error instanceof UserError && error.code === 'corrupt-file');
    assert.equal(readdirSync(dir).filter((name) => name.startsWith('library.sqlite.corrupt-') && !name.endsWith('-wal')).length, 2);
  });

  it('a database whose schema page is damaged: corrupt-file with a copy', () => {
    const dir = join(home, 'malformed');
    const path = join(dir, 'library.sqlite');
    const library = Library.open({ home: dir });
    library.prompts.insert({ title: 'a', prompt: 'b' });
    library.close(); // the last connection checkpoints the WAL into the file
    const bytes = readFileSync(path);
    // Page 1 holds sqlite_schema; its b-tree page header starts at byte 100 (after the file header).
    bytes.fill(0xee, 100, 140);
    writeFileSync(path, bytes);
    assert.throws(() => Library.open({ home: dir }), (error: unknown) => error instanceof UserError && error.code === 'corrupt-file');
    assert.ok(readdirSync(dir).some((name) => name.startsWith('library.sqlite.corrupt-')));
    assert.deepEqual(readFileSync(path), bytes, 'never reset');
  });
});
