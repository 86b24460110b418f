// The engine host against real engine processes (web mode's fork; the desktop app runs the same runner
// in Electron's utility process): calls and events cross, a crash fails the calls in flight, is reported
// and the engine restarts; a stop is clean; services that cannot start fail every call with their reason.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ApiEventName } from '../../app/api/contract.ts';
import { nativeBindingVariable } from '../../app/library/open-database.ts';
import { EngineHost, type EngineHostOptions } from '../../app/server/engine-host.ts';
import type { EngineChild } from '../../app/server/engine-messages.ts';
import { forkEngine } from '../../app/server/fork-engine.ts';

const root = mkdtempSync(join(tmpdir(), 'afa-engine-'));
after(() => rmSync(root, { recursive: true, force: true }));
let homes = 0;
const newHome = () => join(root, `home-${++homes}`);

/** Engine processes started so far, each with a way to kill it as a crash would. */
const started: { kill(): void; exited: Promise<number> }[] = [];
function spawner(env?: NodeJS.ProcessEnv): () => EngineChild {
  return () => {
    const child = forkEngine({ env });
    const exited = new Promise<number>((resolve) => child.onExit(resolve));
    started.push({ kill: () => child.kill(), exited });
    return child;
  };
}

function host(options: Partial<EngineHostOptions> & { home: string }): { engine: EngineHost; events: { event: ApiEventName; payload: unknown }[]; crashes: boolean[] } {
  const events: { event: ApiEventName; payload: unknown }[] = [];
  const crashes: boolean[] = [];
  const engine = new EngineHost({
    spawn: spawner(),
    config: { home: options.home, dataDirectoryFixed: true, version: '9.9.9' },
    onCrash: (_reason, restarting) => crashes.push(restarting),
    ...options,
  });
  engine.subscribeAll((event, payload) => events.push({ event, payload }));
  return { engine, events, crashes };
}

test('calls made before the engine is ready are answered by the services in the engine process; events come back', async () => {
  const home = newHome();
  const { engine, events } = host({ home });
  const ready = engine.start();
  try {
    const info = await engine.invoke('system.info', undefined);
    await ready;
    assert.equal(info.ok && (info.value as { version: string }).version, '9.9.9');
    assert.equal(info.ok && (info.value as { dataDirectory: string }).dataDirectory, home);
    const bad = await engine.invoke('settings.set', { threads: -1 });
    assert.equal(!bad.ok && bad.error.code, 'bad-request');
    const unknown = await engine.invoke('settings.nothing', undefined);
    assert.equal(!unknown.ok && unknown.error.code, 'unknown-method');

    // An import answers with its job at once; its failure (no such file) comes back as an event.
    const imported = await engine.invoke('models.import', { source: { kind: 'path', path: join(root, 'no-such-model.safetensors') } });
    assert.equal(imported.ok, true);
    const jobId = imported.ok && (imported.value as { jobId: string }).jobId;
    const failed = await waitFor(() => events.find((entry) => entry.event === 'models.onDidImportFail'));
    assert.equal((failed?.payload as { jobId: string } | undefined)?.jobId, jobId);
    assert.equal((failed?.payload as { error: { code: string } }).error.code, 'not-found');
  } finally {
    await engine.stop();
  }
});

test('a crash fails the calls in flight, tells the clients, and the engine restarts', async () => {
  const home = newHome();
  const { engine, events, crashes } = host({ home });
  await engine.start();
  try {
    const first = started.length;
    const last = started.at(-1)!;
    last.kill();
    // Sent after the kill, before the exit is noticed: it fails with 'engine-crashed' instead of hanging.
    const failed = await engine.invoke('settings.listBackends', undefined);
    assert.equal(!failed.ok && failed.error.code, 'engine-crashed');
    assert.equal(await last.exited, 137);
    assert.deepEqual(crashes, [true]);
    const restart = events.filter((entry) => entry.event === 'system.onDidEngineRestart');
    assert.equal(restart.length, 1);
    assert.match((restart[0]!.payload as { reason: string }).reason, /stopped unexpectedly \(exit code 137\)/);

    const again = await engine.invoke('settings.get', undefined);
    assert.equal(again.ok && (again.value as { dataDirectory: string }).dataDirectory, home);
    assert.equal(started.length, first + 1);
  } finally {
    await engine.stop();
  }
});

test('an engine that keeps crashing is given up on with a clear error', async () => {
  const { engine, events, crashes } = host({ home: newHome(), maxRestarts: 1 });
  await engine.start();
  for (let i = 0; i < 2; i++) {
    assert.equal((await engine.invoke('system.info', undefined)).ok, true);
    const last = started.at(-1)!;
    last.kill();
    await last.exited;
  }
  assert.deepEqual(crashes, [true, false]);
  const restarts = events.filter((entry) => entry.event === 'system.onDidEngineRestart').map((entry) => (entry.payload as { reason: string }).reason);
  assert.match(restarts.at(-1)!, /crashed repeatedly/);
  const refused = await engine.invoke('system.info', undefined);
  assert.equal(!refused.ok && refused.error.code, 'unavailable');
  assert.match(!refused.ok ? refused.error.message : '', /crashed repeatedly/);
  await engine.stop();
});

test('stop lets the engine close the library cleanly (no write-ahead log left) and is not a crash', async () => {
  const home = newHome();
  const { engine, crashes } = host({ home });
  await engine.start();
  assert.equal((await engine.invoke('prompts.save', { text: 'a lighthouse', tags: [] })).ok, true);
  assert.equal(existsSync(join(home, 'library.sqlite-wal')), true);
  const last = started.at(-1)!;
  await engine.stop();
  assert.equal(await last.exited, 0);
  // SQLite removes the log when the last connection closes normally; a killed engine would leave it.
  assert.equal(existsSync(join(home, 'library.sqlite-wal')), false);
  assert.deepEqual(crashes, []);
  const refused = await engine.invoke('system.info', undefined);
  assert.equal(!refused.ok && refused.error.code, 'unavailable');
});

test('services that cannot start (a database from a newer version) fail start and every call with the reason, without restarting', async () => {
  const home = newHome();
  const { engine, crashes } = host({ home });
  await engine.start();
  await engine.stop();
  const db = new Database(join(home, 'library.sqlite'));
  db.pragma('user_version = 999');
  db.close();

  const count = started.length;
  const again = host({ home });
  await assert.rejects(again.engine.start(), (error: unknown) => (error as { code?: string }).code === 'unsupported' && /newer version/.test((error as Error).message));
  const refused = await again.engine.invoke('system.info', undefined);
  assert.equal(!refused.ok && refused.error.code, 'unsupported');
  assert.equal(started.length, count + 1);
  assert.deepEqual([...crashes, ...again.crashes], []);
  await again.engine.stop();
});

test(`the engine loads better-sqlite3's addon from ${nativeBindingVariable} when it is set`, async () => {
  const nodeBuild = join(import.meta.dirname, '..', '..', 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  const working = host({ home: newHome(), spawn: spawner({ ...process.env, [nativeBindingVariable]: nodeBuild }) });
  await working.engine.start();
  assert.equal((await working.engine.invoke('prompts.save', { text: 'a fox', tags: [] })).ok, true);
  await working.engine.stop();

  const missing = join(root, 'electron-build', 'better_sqlite3.node');
  const broken = host({ home: newHome(), spawn: spawner({ ...process.env, [nativeBindingVariable]: missing }) });
  // The error names the file; its full path goes to the engine's log only (errors reach clients without paths).
  await assert.rejects(broken.engine.start(), (error: unknown) => /better_sqlite3\.node/.test((error as Error).message) && !(error as Error).message.includes(root));
  await broken.engine.stop();
});

async function waitFor<T>(find: () => T | undefined): Promise<T | undefined> {
  for (let i = 0; i < 200; i++) {
    const found = find();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return undefined;
}
