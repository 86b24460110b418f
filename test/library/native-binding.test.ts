// openDatabase loads better-sqlite3's addon from a given file (its `nativeBinding` option, or the
// AFA_SQLITE_BINDING variable): how a checkout's Electron processes use a build made for Electron's ABI
// while node_modules keeps the one for Node. Here the file is node_modules' own build, under its path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCHEMA_VERSION } from '../../app/library/migrations.ts';
import { nativeBindingVariable, openDatabase } from '../../app/library/open-database.ts';

const nodeBuild = fileURLToPath(new URL('../../node_modules/better-sqlite3/build/Release/better_sqlite3.node', import.meta.url));

function withVariable(value: string | undefined, run: () => void): void {
  const before = process.env[nativeBindingVariable];
  if (value === undefined) delete process.env[nativeBindingVariable];
  else process.env[nativeBindingVariable] = value;
  try {
    run();
  } finally {
    if (before === undefined) delete process.env[nativeBindingVariable];
    else process.env[nativeBindingVariable] = before;
  }
}

test('a database opens and migrates through an addon given by path', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'afa-binding-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDatabase(join(dir, 'library.sqlite'), { nativeBinding: nodeBuild });
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  db.close();
});

test('the option names the addon; without it the variable does; a missing file is an error that names it', () => {
  const missing = join(tmpdir(), 'afa-no-such-addon', 'better_sqlite3.node');
  assert.throws(() => openDatabase(':memory:', { nativeBinding: missing }), (error: unknown) => (error as Error).message.includes(missing));
  withVariable(missing, () => {
    assert.throws(() => openDatabase(':memory:'), (error: unknown) => (error as Error).message.includes(missing));
    openDatabase(':memory:', { nativeBinding: nodeBuild }).close();
  });
  withVariable(nodeBuild, () => openDatabase(':memory:').close());
  withVariable('', () => openDatabase(':memory:').close());
});
