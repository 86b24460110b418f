import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import { checkRequest, hostAllowed, machineHostNames } from '../../app/server/request-guard.ts';
import { exposureWarning, parseServeArguments } from '../../app/server/serve-command.ts';

const token = 'secret-token';
const cookieName = 'afa_session_test';

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

test('on loopback only loopback names on the right port are answered', () => {
  const config = { token, cookieName, port: 4000, host: '127.0.0.1' };
  assert.equal(hostAllowed('127.0.0.1:4000', config), true);
  assert.equal(hostAllowed('localhost:4000', config), true);
  assert.equal(hostAllowed('[::1]:4000', config), true);
  assert.equal(hostAllowed('127.0.0.1:4001', config), false);
  assert.equal(hostAllowed('attacker.example:4000', config), false);
  assert.equal(hostAllowed(undefined, config), false);
});

test('with --host the LAN address is answered, and on 0.0.0.0 the machine\'s own names — the token still decides', () => {
  assert.equal(hostAllowed('192.168.1.20:4000', { port: 4000, host: '192.168.1.20' }), true);
  assert.equal(hostAllowed('10.0.0.1:4000', { port: 4000, host: '192.168.1.20' }), false);
  const lan = { token, cookieName, port: 4000, host: '0.0.0.0', hostNames: ['127.0.0.1', 'localhost', '[::1]', 'studio', 'studio.local', '192.168.1.20'] };
  assert.equal(hostAllowed('studio.local:4000', lan), true);
  const url = new URL('http://studio.local:4000/api/models.list');
  assert.deepEqual(checkRequest(request({ host: 'studio.local:4000' }), url, lan), { ok: false, status: 401, message: checkRequestMessage() });
  assert.deepEqual(checkRequest(request({ host: 'studio.local:4000', 'x-afa-token': token }), url, lan), { ok: true, source: 'header' });
  // Same token, but a page of another site: refused.
  const foreign = checkRequest(request({ host: 'studio.local:4000', 'x-afa-token': token, origin: 'http://evil.example' }), url, lan);
  assert.equal(foreign.ok, false);
});

function checkRequestMessage(): string {
  return 'Missing or wrong session token. Send the token in the x-afa-token header (the page does; open the URL that `afa serve` printed).';
}

test('serve arguments: defaults, --host, --port, --home, and clear errors', () => {
  const defaults = parseServeArguments([], { AFA_STUDIO_HOME: '/data/studio' });
  assert.equal(defaults.host, '127.0.0.1');
  assert.equal(defaults.port, 0);
  assert.equal(defaults.home, '/data/studio');
  const lan = parseServeArguments(['--host', '0.0.0.0', '--port', '8123', '--home', '/x'], {});
  assert.deepEqual([lan.host, lan.port, lan.home], ['0.0.0.0', 8123, '/x']);
  assert.throws(() => parseServeArguments(['--port', '99999'], {}), /--port must be 0–65535/);
  assert.throws(() => parseServeArguments(['--host'], {}), /--host needs a value/);
  assert.throws(() => parseServeArguments(['--open'], {}), /Unknown option --open/);
});

test('on 0.0.0.0 a name that is not the machine\'s is refused (a DNS-rebinding page), even with the token', () => {
  const lan = { token, cookieName, port: 4000, host: '0.0.0.0', hostNames: machineHostNames() };
  for (const name of ['127.0.0.1', 'localhost', hostname().toLowerCase()]) assert.equal(hostAllowed(`${name}:4000`, lan), true, name);
  for (const info of Object.values(networkInterfaces()).flat()) {
    if (info?.family === 'IPv4') assert.equal(hostAllowed(`${info.address}:4000`, lan), true, info.address);
  }
  assert.equal(hostAllowed('attacker.example:4000', lan), false);
  const url = new URL('http://attacker.example:4000/api/models.list');
  assert.equal(checkRequest(request({ host: 'attacker.example:4000', 'x-afa-token': token }), url, lan).ok, false);
  // Without a list, a wildcard server answers loopback names only.
  assert.equal(hostAllowed('studio.local:4000', { port: 4000, host: '0.0.0.0' }), false);
});

test('exposing the studio says plainly what it means', () => {
  const text = exposureWarning('0.0.0.0').join('\n');
  assert.match(text, /exposes the studio to other machines on your network/);
  assert.match(text, /plain HTTP/);
  assert.match(text, /read the token/);
});
