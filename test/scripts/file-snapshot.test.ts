// What `npm run dist` relies on to give node_modules its Node build of better-sqlite3 back after
// electron-builder rebuilt it for Electron: files come back byte for byte, with their folders, and a
// marker that was not there before is removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { restoreSnapshot, takeSnapshot } from '../../scripts/file-snapshot.ts';

test('a rebuilt, deleted or added file is put back as it was', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'afa-snapshot-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const release = join(root, 'build', 'Release');
  mkdirSync(join(release, 'obj.target'), { recursive: true });
  const addon = join(release, 'better_sqlite3.node');
  const meta = join(release, '.forge-meta');
  writeFileSync(addon, 'node build');
  const saved = takeSnapshot([addon, meta]);

  // Like node-gyp: a rebuild for Electron, hard-linked to its obj.target copy, and @electron/rebuild's marker.
  rmSync(join(root, 'build'), { recursive: true });
  mkdirSync(join(release, 'obj.target'), { recursive: true });
  writeFileSync(join(release, 'obj.target', 'better_sqlite3.node'), 'electron build');
  linkSync(join(release, 'obj.target', 'better_sqlite3.node'), addon);
  writeFileSync(meta, 'x64--150');
  restoreSnapshot(saved);
  assert.equal(readFileSync(addon, 'utf8'), 'node build');
  assert.equal(readFileSync(join(release, 'obj.target', 'better_sqlite3.node'), 'utf8'), 'electron build');
  assert.equal(existsSync(meta), false);
  assert.equal(existsSync(`${addon}.restoring`), false);

  // A failed rebuild that deleted the build folder.
  rmSync(join(root, 'build'), { recursive: true });
  restoreSnapshot(saved);
  assert.equal(readFileSync(addon, 'utf8'), 'node build');
});
