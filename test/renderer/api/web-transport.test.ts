// Web mode's transport: the first calls wait for the event socket, so a state read by a call cannot
// change unheard before the socket listens (the first start's demo setup finishing between the page's
// status call and the socket opening left Generate on "Setting up the demo models…" until a reload);
// and after a lost connection comes back the page hears so (onDidReconnect), to read again what it shows.
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWebTransport } from '../../../renderer/api/web-transport.ts';

class FakeSocket {
  static instances: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((message: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  readyState = 0;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.instances.push(this);
  }
}

const globals = globalThis as unknown as Record<string, unknown>;
const saved = { WebSocket: globals.WebSocket, fetch: globals.fetch, document: globals.document };
let calls: string[] = [];
const location = { protocol: 'http:', host: 'localhost:1234' } as Location;

beforeEach(() => {
  FakeSocket.instances = [];
  calls = [];
  globals.WebSocket = FakeSocket;
  globals.document = { querySelector: () => ({ content: 'token' }) };
  globals.fetch = async (url: string) => {
    calls.push(url);
    return { status: 200, json: async () => ({ ok: true, value: 'answer' }) };
  };
});

afterEach(() => Object.assign(globals, saved));

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

test('a call made before the event socket opens is sent once it is open, and answered', async () => {
  const transport = createWebTransport(location, { firstSocketWaitMs: 60_000 });
  const socket = FakeSocket.instances[0]!;
  assert.equal(socket.url, 'ws://localhost:1234/events');
  assert.deepEqual(socket.protocols, ['afa-events', 'afa-token.token']);
  const answer = transport.invoke('demo.status' as never, undefined as never);
  await tick();
  assert.deepEqual(calls, [], 'not sent while the socket is still connecting');
  const heard: unknown[] = [];
  transport.subscribe('demo.onDidChange' as never, (payload) => heard.push(payload));
  socket.onopen!();
  assert.deepEqual(await answer, { ok: true, value: 'answer' });
  assert.deepEqual(calls, ['/api/demo.status']);
  // From now on events reach the page, and calls go at once.
  socket.onmessage!({ data: JSON.stringify({ event: 'demo.onDidChange', payload: { state: 'ready' } }) });
  assert.deepEqual(heard, [{ state: 'ready' }]);
  await transport.invoke('models.list' as never, undefined as never);
  assert.deepEqual(calls, ['/api/demo.status', '/api/models.list']);
});

test('a socket that never opens delays the first calls only by the set wait', async () => {
  const transport = createWebTransport(location, { firstSocketWaitMs: 50 });
  const started = performance.now();
  assert.deepEqual(await transport.invoke('demo.status' as never, undefined as never), { ok: true, value: 'answer' });
  const waited = performance.now() - started;
  assert.ok(waited >= 45 && waited < 1000, `waited ${waited} ms`);
  assert.deepEqual(calls, ['/api/demo.status']);
});

test('a connection that comes back says so once, and only after it was lost', async () => {
  const transport = createWebTransport(location, { firstSocketWaitMs: 60_000 });
  let reconnects = 0;
  transport.connection.onDidReconnect(() => reconnects++);
  const first = FakeSocket.instances[0]!;
  first.readyState = 1;
  first.onopen!();
  assert.equal(reconnects, 0, 'the first open is not a reconnect');
  // The server goes away: the socket closes, and a new one is tried after a short wait.
  first.readyState = 3;
  first.onclose!();
  assert.equal(transport.connection.connected, false);
  assert.equal(reconnects, 0);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const second = FakeSocket.instances[1];
  assert.ok(second, 'a new socket was opened');
  second.readyState = 1;
  second.onopen!();
  assert.equal(transport.connection.connected, true);
  assert.equal(reconnects, 1);

  // A call that gets no answer marks the connection lost even while the socket stays open; the next
  // answered call brings it back, and the page reads its state again.
  const fetch = globals.fetch;
  globals.fetch = async () => {
    throw new TypeError('Failed to fetch');
  };
  const failed = await transport.invoke('models.list' as never, undefined as never);
  assert.equal(failed.ok, false);
  assert.equal(transport.connection.connected, false);
  globals.fetch = fetch;
  assert.deepEqual(await transport.invoke('models.list' as never, undefined as never), { ok: true, value: 'answer' });
  assert.equal(transport.connection.connected, true);
  assert.equal(reconnects, 2);
});
