// The engine's environment in the desktop app: a checkout's run points better-sqlite3 at the Electron
// build in dist/native/ (when it was made), a packaged app never does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { nativeBindingVariable as libraryVariable } from '../../app/library/open-database.ts';
import { engineEnvironment, nativeBindingVariable } from '../../main/engine-environment.ts';
import { installedVersion, sqliteBindingFile } from '../../main/sqlite-binding.ts';

function checkout(t: { after: (fn: () => void) => void }): string {
  const root = mkdtempSync(join(tmpdir(), 'afa-checkout-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'node_modules', 'better-sqlite3'), { recursive: true });
  writeFileSync(join(root, 'node_modules', 'better-sqlite3', 'package.json'), JSON.stringify({ name: 'better-sqlite3', version: '12.9.0' }));
  return root;
}

const host = { electron: '45.5.0', platform: 'linux', arch: 'x64' };

test('the shell sets the variable the library reads', () => {
  assert.equal(nativeBindingVariable, libraryVariable);
});

test('the Electron build is named by Electron version, platform, architecture and better-sqlite3 version', () => {
  assert.equal(
    sqliteBindingFile('/repo', { electron: '45.5.0', betterSqlite3: '12.9.0', platform: 'win32', arch: 'arm64' }),
    join('/repo', 'dist', 'native', 'electron-45.5.0-win32-arm64', 'better-sqlite3-12.9.0.node'),
  );
  assert.equal(installedVersion('/nonexistent', 'electron'), undefined);
});

test('a development run hands the engine the Electron build when it exists', (t) => {
  const root = checkout(t);
  const file = sqliteBindingFile(root, { ...host, betterSqlite3: '12.9.0' });
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, 'addon');
  const result = engineEnvironment({ PATH: '/bin' }, { packaged: false, appPath: root, ...host });
  assert.deepEqual(result, { env: { PATH: '/bin', [nativeBindingVariable]: file } });
});

test('a development run without the build says what to run, and leaves the variable unset', (t) => {
  const root = checkout(t);
  const result = engineEnvironment({ PATH: '/bin' }, { packaged: false, appPath: root, ...host });
  assert.deepEqual(result.env, { PATH: '/bin' });
  assert.match(result.warning ?? '', /No better-sqlite3 build for Electron 45\.5\.0 .*npm run build:native/);
  const other = engineEnvironment({}, { packaged: false, appPath: join(root, 'elsewhere'), ...host });
  assert.match(other.warning ?? '', /better-sqlite3 is not installed/);
});

test('a variable set on purpose is kept in development and dropped by a packaged app', (t) => {
  const root = checkout(t);
  const given = { PATH: '/bin', [nativeBindingVariable]: '/custom/better_sqlite3.node' };
  assert.deepEqual(engineEnvironment(given, { packaged: false, appPath: root, ...host }), { env: given });
  const file = sqliteBindingFile(root, { ...host, betterSqlite3: '12.9.0' });
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, 'addon');
  assert.deepEqual(engineEnvironment(given, { packaged: true, appPath: root, ...host }), { env: { PATH: '/bin' } });
});
