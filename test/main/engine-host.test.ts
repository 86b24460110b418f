// The engine host against a real engine process (Node's fork standing in for Electron's utilityProcess):
// calls and events cross, and a crash fails the calls in flight, is reported and the engine restarts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineHost } from '../../main/engine-host.ts';
import type { EngineChild, FromEngine } from '../../main/engine-messages.ts';

const home = mkdtempSync(join(tmpdir(), 'afa-engine-'));
after(() => rmSync(home, { recursive: true, force: true }));

const children: ChildProcess[] = [];
function spawn(): EngineChild {
  const child = fork(fileURLToPath(new URL('./engine-child.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  children.push(child);
  // Sending to a process that was just killed reports an error event; the host learns of it from 'exit'.
  child.on('error', () => undefined);
  return {
    postMessage: (message) => child.send(message),
    onMessage: (listener) => child.on('message', (message) => listener(message as FromEngine)),
    onExit: (listener) => child.once('exit', (code, signal) => listener(code ?? (signal ? 128 : 1))),
    kill: () => child.kill(),
  };
}

test('calls reach the services in the engine process; a crash is reported, fails calls in flight, and the engine restarts', async () => {
  const crashes: { reason: string; restarting: boolean }[] = [];
  const host = new EngineHost({
    spawn,
    config: { home, settingsFile: join(home, 'settings.json'), version: '9.9.9' },
    onEvent: () => undefined,
    onCrash: (reason, restarting) => crashes.push({ reason, restarting }),
  });
  host.start();
  try {
    const info = await host.invoke('system.info', undefined);
    assert.equal(info.ok && (info.value as { version: string }).version, '9.9.9');
    const bad = await host.invoke('settings.set', { threads: -1 });
    assert.equal(!bad.ok && bad.error.code, 'bad-request');

    // A call in flight when the engine dies (sent after the kill, before the exit is noticed) fails with
    // 'engine-crashed' instead of hanging.
    children.at(-1)!.kill('SIGKILL');
    const failed = await host.invoke('settings.listBackends', undefined);
    assert.equal(!failed.ok && failed.error.code, 'engine-crashed');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(crashes.length, 1);
    assert.equal(crashes[0]!.restarting, true);
    assert.match(crashes[0]!.reason, /stopped unexpectedly/);

    const again = await host.invoke('settings.get', undefined);
    assert.equal(again.ok && (again.value as { dataDirectory: string }).dataDirectory, home);
    assert.equal(children.length, 2);
  } finally {
    host.stop();
  }
});

test('an engine that keeps crashing is given up on with a clear error', async () => {
  const crashes: boolean[] = [];
  const host = new EngineHost({
    spawn,
    config: { home, settingsFile: join(home, 'settings.json'), version: '1' },
    onEvent: () => undefined,
    onCrash: (_reason, restarting) => crashes.push(restarting),
    maxRestarts: 1,
  });
  host.start();
  for (let i = 0; i < 2; i++) {
    assert.equal((await host.invoke('system.info', undefined)).ok, true);
    const exited = new Promise((resolve) => children.at(-1)!.once('exit', resolve));
    children.at(-1)!.kill('SIGKILL');
    await exited;
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(crashes, [true, false]);
  const refused = await host.invoke('system.info', undefined);
  assert.equal(!refused.ok && refused.error.code, 'unavailable');
});
