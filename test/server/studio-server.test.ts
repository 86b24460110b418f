import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { createStudioServices, type StudioServices } from '../../app/api/services.ts';
import { uploadedFile } from '../../app/api/uploads.ts';
import { startStudioServer, type StudioServer } from '../../app/server/studio-server.ts';

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
let root: string;
let home: string;
let services: StudioServices;
let server: StudioServer;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'afa-server-'));
  home = join(root, 'home');
  const renderer = join(root, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>AFA Studio</title>');
  writeFileSync(join(renderer, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(root, 'secret.png'), 'outside the home');
  services = createStudioServices({ home, dataDirectoryFixed: true });
  mkdirSync(join(home, 'images'), { recursive: true });
  writeFileSync(join(home, 'images', 'a b.png'), Buffer.concat([pngSignature, Buffer.from('png bytes')]));
  symlinkSync(join(root, 'secret.png'), join(home, 'images', 'link.png'));
  // Inside the home, named like an image, leading to the database (which the services created).
  symlinkSync(join(home, 'library.sqlite'), join(home, 'images', 'database.png'));
  writeFileSync(join(home, 'images', 'not-an-image.png'), 'SQLite format 3\0');
  server = await startStudioServer({ api: services, home, rendererDirectory: renderer });
});

after(async () => {
  await server.close();
  await services.dispose();
  rmSync(root, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // The path as given, byte for byte (a URL string would be normalised first: '/./' dropped).
    const request = httpRequest({ host: '127.0.0.1', port: server.port, path, method: options.method ?? 'GET', headers: options.headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

const auth = () => ({ 'x-afa-token': server.token });
const call = (method: string, body: unknown, headers: Record<string, string> = auth()) =>
  send(`/api/${method}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? '' : JSON.stringify(body) });

test('listens on 127.0.0.1 and prints a URL with the token', () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{43}$/);
});

test('every route refuses requests without the right token', async () => {
  assert.equal((await send('/')).status, 401);
  assert.equal((await send('/assets/app.js')).status, 401);
  assert.equal((await send('/media/images/a%20b.png')).status, 401);
  const api = await call('settings.get', undefined, { 'x-afa-token': `${server.token.slice(0, -1)}x` });
  assert.equal(api.status, 401);
  assert.equal(JSON.parse(api.body).error.code, 'unauthorized');
  assert.equal((await call('settings.get', undefined, {})).status, 401);
});

test('the token in the URL becomes a cookie and leaves the address bar', async () => {
  const first = await send(`/?token=${server.token}`);
  assert.equal(first.status, 303);
  assert.equal(first.headers.location, '/');
  const cookie = String(first.headers['set-cookie']).split(';')[0]!;
  assert.match(String(first.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
  const page = await send('/generate', { headers: { cookie } });
  assert.equal(page.status, 200);
  assert.match(page.body, /AFA Studio/);
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
  // The page hands its script the token; the cookie opens pages and images, nothing else.
  assert.ok(page.body.includes(`<meta name="afa-session-token" content="${server.token}" />`));
  assert.equal(page.headers['cache-control'], 'no-store');
  assert.equal((await send('/media/images/a%20b.png', { headers: { cookie } })).status, 200);
  const api = await call('settings.get', undefined, { cookie });
  assert.equal(api.status, 401);
  assert.match(JSON.parse(api.body).error.message, /x-afa-token header/);
  assert.equal((await send('/upload?name=a.safetensors', { method: 'POST', headers: { cookie }, body: 'x' })).status, 401);
  await assert.rejects(openSocket({ cookie }), /status 401/);
});

test('the session cookie is named per server, so one of another server (any port) is not this one\'s', async () => {
  const name = String((await send(`/?token=${server.token}`)).headers['set-cookie']).split('=')[0]!;
  assert.match(name, /^afa_session_[0-9a-f]{12}$/);
  const other = await startStudioServer({ api: services, home, rendererDirectory: join(root, 'renderer'), token: server.token });
  try {
    const otherName = String((await send(`/?token=${server.token}`)).headers['set-cookie']).split('=')[0]!;
    assert.equal(otherName, name, 'the same server keeps its name');
    const reply = await fetch(`${other.origin}/?token=${other.token}`, { redirect: 'manual' });
    assert.notEqual(reply.headers.get('set-cookie')!.split('=')[0], name);
    // This server's cookie, sent by the browser to the other port, opens nothing there.
    assert.equal((await fetch(`${other.origin}/`, { headers: { cookie: `${name}=${server.token}` } })).status, 401);
  } finally {
    await other.close();
  }
});

test('the event socket takes the token as the subprotocol a browser can send, and answers without echoing it', async () => {
  const socket = await new Promise<WebSocket>((resolve, reject) => {
    const client = new WebSocket(`${server.origin.replace('http', 'ws')}/events`, ['afa-events', `afa-token.${server.token}`], { headers: { origin: server.origin } });
    client.once('open', () => resolve(client));
    client.once('unexpected-response', (_request, response) => reject(new Error(`status ${response.statusCode}`)));
    client.once('error', reject);
  });
  assert.equal(socket.protocol, 'afa-events');
  socket.close();
  await assert.rejects(
    new Promise((resolve, reject) => {
      const client = new WebSocket(`${server.origin.replace('http', 'ws')}/events`, ['afa-events', 'afa-token.wrong']);
      client.once('open', resolve);
      client.once('unexpected-response', (_request, response) => reject(new Error(`status ${response.statusCode}`)));
      client.once('error', reject);
    }),
    /status 401/,
  );
});

test('after the token exchange the redirect stays on this server, whatever the path', async () => {
  for (const [path, location] of [
    [`/.//evil.example/?token=${server.token}`, '/evil.example/'],
    [`//evil.example/?token=${server.token}`, '/evil.example/'],
    [`/./\\evil.example/x?token=${server.token}`, '/evil.example/x'],
    [`/history?q=1&token=${server.token}`, '/history?q=1'],
  ] as const) {
    const reply = await send(path);
    assert.equal(reply.status, 303, path);
    assert.equal(reply.headers.location, location, path);
  }
});

test('other origins and foreign host names are refused', async () => {
  const foreign = await call('settings.get', undefined, { ...auth(), origin: 'http://evil.example' });
  assert.equal(foreign.status, 403);
  assert.equal(JSON.parse(foreign.body).error.code, 'forbidden');
  const own = await call('settings.get', undefined, { ...auth(), origin: server.origin });
  assert.equal(own.status, 200);
  assert.equal((await call('settings.get', undefined, { ...auth(), host: `evil.example:${server.port}` })).status, 403);
});

test('API calls return typed results and typed errors', async () => {
  const settings = JSON.parse((await call('settings.get', undefined)).body);
  assert.deepEqual(settings, { ok: true, value: { dataDirectory: home, backend: 'auto', threads: 0, previews: true, precision: 'auto' } });

  const bad = await call('generation.enqueue', { prompt: 1 });
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).error.code, 'bad-request');
  const unknown = await call('models.format', {});
  assert.equal(unknown.status, 404);
  assert.equal(JSON.parse(unknown.body).error.code, 'unknown-method');
  const notJson = await send('/api/settings.get', { method: 'POST', headers: { ...auth(), 'content-type': 'text/plain' }, body: '' });
  assert.equal(notJson.status, 400);
  const broken = await send('/api/settings.get', { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: '{' });
  assert.equal(JSON.parse(broken.body).error.message, 'The request body is not valid JSON.');
  const moved = await call('settings.set', { dataDirectory: '/elsewhere' });
  assert.equal(JSON.parse(moved.body).error.code, 'unsupported');
  const halfPrecision = JSON.parse((await call('settings.set', { precision: 'fp16' })).body);
  assert.equal(halfPrecision.value.settings.precision, 'fp16');
  assert.equal(JSON.parse((await call('settings.get', undefined)).body).value.precision, 'fp16', 'kept');
  assert.equal((await call('settings.set', { precision: 'fp8' })).status, 400);
  await call('settings.set', { precision: 'auto' });
});

test('images are served from the studio home only', async () => {
  const image = await send('/media/images/a%20b.png', { headers: auth() });
  assert.equal(image.status, 200);
  assert.equal(image.headers['content-type'], 'image/png');
  assert.equal(image.body.slice(-9), 'png bytes');
  for (const path of ['/media/images/..%2F..%2Fsecret.png', '/media/images/%2E%2E/%2E%2E/secret.png', '/media/library.sqlite', '/media/images/link.png', '/media/%2Fetc%2Fpasswd.png', '/media/..%5C..%5Csecret.png']) {
    const reply = await send(path, { headers: auth() });
    assert.ok(reply.status === 403 || reply.status === 404, `${path} → ${reply.status}`);
    assert.doesNotMatch(reply.body, /outside the home|database/);
  }
  assert.equal((await send('/media/images/link.png', { headers: auth() })).status, 403);
  // What counts is the real file: a '.png' link to the database, a '.png' that is no PNG.
  for (const path of ['/media/images/database.png', '/media/images/not-an-image.png']) {
    const reply = await send(path, { headers: auth() });
    assert.equal(reply.status, 403, path);
    assert.equal(reply.body, 'Only images (.png, .jpg, .webp) are served.');
  }
  assert.equal((await call('settings.get', undefined)).status, 200);
  assert.equal((await send('/media/images/missing.png', { headers: auth() })).status, 404);
});

test('static files cannot escape the renderer folder', async () => {
  assert.equal((await send('/assets/app.js', { headers: auth() })).body, 'console.log(1)');
  const escape = await send('/assets/..%2F..%2Fsecret.png', { headers: auth() });
  assert.ok(escape.status === 403 || escape.status === 404);
});

test('uploads land below the home under a sanitised name', async () => {
  const reply = await send(`/upload?name=${encodeURIComponent('../../evil.safetensors')}`, { method: 'POST', headers: auth(), body: 'weights' });
  assert.equal(reply.status, 200);
  const { uploadId, fileName } = JSON.parse(reply.body);
  assert.equal(fileName, 'evil.safetensors');
  const file = uploadedFile(home, uploadId);
  assert.ok(file.startsWith(join(home, 'tmp', 'uploads', uploadId)));
  assert.equal(readFileSync(file, 'utf8'), 'weights');
});

function openSocket(headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${server.origin.replace('http', 'ws')}/events`, { headers });
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_request, response) => reject(new Error(`status ${response.statusCode}`)));
    socket.once('error', reject);
  });
}

test('the event socket needs the token and the own origin, then carries events', async () => {
  await assert.rejects(openSocket({}), /status 401/);
  await assert.rejects(openSocket({ ...auth(), origin: 'http://evil.example' }), /status 403/);
  const socket = await openSocket({ ...auth(), origin: server.origin });
  const message = new Promise<string>((resolve) => socket.once('message', (data) => resolve(String(data))));
  services.system.engineRestarted.fire({ reason: 'test' });
  assert.deepEqual(JSON.parse(await message), { event: 'system.onDidEngineRestart', payload: { reason: 'test' } });
  socket.close();
});
