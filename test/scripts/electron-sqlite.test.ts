// The Electron build of better-sqlite3 (scripts/electron-sqlite.ts) as far as it runs without the
// internet: versions and arguments, npm's settings kept away from node-gyp, the cache, and a build
// whose headers cannot be downloaded failing with a message that says what to do and leaving nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sqliteBindingFile } from '../../main/sqlite-binding.ts';
import { buildElectronSqlite, failureSummary, installedTarget, NativeBuildError, nodeGypArguments, prebuildArguments, toolEnvironment } from '../../scripts/electron-sqlite.ts';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const versionOf = (name: string) => (JSON.parse(readFileSync(join(repositoryRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

test('the target is the installed Electron and better-sqlite3, for the given platform', () => {
  assert.deepEqual(installedTarget(repositoryRoot, { platform: 'darwin', arch: 'arm64' }), {
    electron: versionOf('electron'),
    betterSqlite3: versionOf('better-sqlite3'),
    platform: 'darwin',
    arch: 'arm64',
  });
  assert.throws(() => installedTarget(join(repositoryRoot, 'no-such-folder')), (error: unknown) => error instanceof NativeBuildError && /npm install/.test(error.message));
});

test('the tools are told Electron\'s version, headers and architecture, and npm settings cannot override them', () => {
  const target = { electron: '45.5.0', betterSqlite3: '12.9.0', platform: 'linux', arch: 'arm64' };
  assert.deepEqual(nodeGypArguments(target, 'https://electronjs.org/headers', '/home/me/.electron-gyp'), [
    'rebuild', '--release', '--target=45.5.0', '--arch=arm64', '--dist-url=https://electronjs.org/headers', '--devdir=/home/me/.electron-gyp', '--jobs=max',
  ]);
  assert.deepEqual(prebuildArguments(target), ['--runtime=electron', '--target=45.5.0', '--platform=linux', '--arch=arm64', '--verbose']);
  assert.deepEqual(toolEnvironment({ PATH: '/bin', npm_config_nodedir: '/usr', NPM_CONFIG_TARGET: '20.0.0', npm_config_https_proxy: 'http://proxy:3128' }), {
    PATH: '/bin',
    npm_config_https_proxy: 'http://proxy:3128',
  });
});

test('a failure is summed up by its telling line', () => {
  assert.equal(failureSummary(['gyp info it worked', '../src/addon.cpp:12:3: error: no member named x', 'make: *** Error 1', 'gyp ERR! stack Error: `make` failed'], 2), '../src/addon.cpp:12:3: error: no member named x');
  assert.equal(
    failureSummary(['gyp ERR! configure error', 'gyp ERR! stack Error: 404 status code', 'gyp ERR! stack downloading tarball', 'gyp ERR! stack at go (install.js:1:1)', 'gyp ERR! not ok'], 1),
    'Error: 404 status code downloading tarball',
  );
  assert.equal(failureSummary(['prebuild-install info begin', 'prebuild-install warn install getaddrinfo ENOTFOUND github.com'], 1), 'prebuild-install warn install getaddrinfo ENOTFOUND github.com');
  assert.equal(failureSummary([], 3), 'exit code 3');
});

test('an existing build is used as it is', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'afa-native-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const target = { electron: '45.5.0', betterSqlite3: '12.9.0', platform: 'linux', arch: 'x64' };
  const file = sqliteBindingFile(root, target);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, 'built before');
  assert.equal(await buildElectronSqlite({ root, target }), file);
  assert.equal(readFileSync(file, 'utf8'), 'built before');
});

test('headers that cannot be downloaded: a clear error, and no file or staging folder left', async (t) => {
  // A checkout whose node_modules is this one's, and a headers server that has nothing.
  const root = mkdtempSync(join(tmpdir(), 'afa-native-'));
  symlinkSync(join(repositoryRoot, 'node_modules'), join(root, 'node_modules'));
  const server = createServer((_request, response) => response.writeHead(404).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.close();
    rmSync(root, { recursive: true, force: true });
  });
  const headersUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/headers`;
  const target = installedTarget(root);
  const steps: string[] = [];
  await assert.rejects(
    buildElectronSqlite({ root, target, headersUrl, headersCache: join(root, 'electron-gyp'), prebuilt: false, onStep: (line) => steps.push(line) }),
    (error: unknown) => {
      assert.ok(error instanceof NativeBuildError);
      assert.match(error.message, new RegExp(`better-sqlite3 ${target.betterSqlite3} for Electron ${target.electron.replace(/\./g, '\\.')}`));
      assert.match(error.message, /compiling: Error: 404 response downloading .*node-v.*-headers\.tar\.gz/);
      assert.ok(error.message.includes(headersUrl));
      assert.match(error.message, /needs the internet/);
      return true;
    },
  );
  assert.equal(steps.length, 1);
  assert.match(steps[0]!, /^Compiling better-sqlite3/);
  assert.equal(existsSync(sqliteBindingFile(root, target)), false);
  assert.deepEqual(readdirSync(join(root, 'dist', 'native')), []);
});
