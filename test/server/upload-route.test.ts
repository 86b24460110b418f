// Upload limits (per kind and in total) answered with 413 — before the body is read when its length is
// declared — and uploads removed once used and when the server stops.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { defaultUploadLimits, uploadsDirectory, uploadsOnDisk } from '../../app/api/uploads.ts';
import { startStudioFixture, type Reply, type StudioFixture } from './studio-fixture.ts';

const MiB = 1024 * 1024;
const limits = { checkpoint: 2 * MiB, image: 256 * 1024, total: 5 * MiB };
let studio: StudioFixture;

before(async () => {
  studio = await startStudioFixture('afa-uploads-', { uploadLimits: limits });
});

after(async () => {
  await studio.close();
});

/** Uploads `bytes` as `name`; chunked leaves out Content-Length, as a streaming client may. */
function upload(name: string, bytes: number, options: { chunked?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({
      host: '127.0.0.1',
      port: studio.server.port,
      method: 'POST',
      path: `/upload?name=${encodeURIComponent(name)}`,
      headers: { ...studio.auth, ...(options.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(bytes) }) },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', reject);
    const piece = Buffer.alloc(64 * 1024, 1);
    for (let sent = 0; sent < bytes; sent += piece.length) request.write(piece.subarray(0, Math.min(piece.length, bytes - sent)));
    request.end();
  });
}

function errorOf(reply: Reply): { code: string; message: string; hint?: string } {
  return (JSON.parse(reply.body) as { error: { code: string; message: string; hint?: string } }).error;
}

test('the default limits fit SD 1.x checkpoints and the studio\'s images', () => {
  assert.ok(defaultUploadLimits.checkpoint >= 7.7e9 && defaultUploadLimits.checkpoint <= 10 * 1024 ** 3);
  assert.ok(defaultUploadLimits.image >= 32 * MiB && defaultUploadLimits.image < defaultUploadLimits.checkpoint);
  assert.ok(defaultUploadLimits.total >= 2 * defaultUploadLimits.checkpoint);
});

test('a checkpoint or image over its kind\'s limit gets a 413 that says the limit; nothing stays on disk', async () => {
  for (const [name, bytes, chunked, pattern] of [
    ['big.safetensors', 3 * MiB, false, /A checkpoint upload may be at most 2 MiB; big\.safetensors is larger\./],
    ['big.ckpt', 3 * MiB, true, /A checkpoint upload may be at most 2 MiB/],
    ['huge.png', 300 * 1024, false, /An image upload may be at most 256 KiB/],
    ['huge.png', 300 * 1024, true, /An image upload may be at most 256 KiB/],
  ] as const) {
    const reply = await upload(name, bytes, { chunked });
    assert.equal(reply.status, 413, `${name} ${chunked ? 'chunked' : 'declared'}: ${reply.body}`);
    assert.equal(errorOf(reply).code, 'too-large');
    assert.match(errorOf(reply).message, pattern);
    assert.equal(uploadsOnDisk(studio.home), 0);
    await studio.assertAnswering();
  }
});

test('a declared length over the limit is refused before the body is sent', async () => {
  const reply = await new Promise<Reply>((resolve, reject) => {
    // 200 MB declared, nothing sent: the answer must come anyway.
    const request = httpRequest({
      host: '127.0.0.1', port: studio.server.port, method: 'POST', path: '/upload?name=model.safetensors',
      headers: { ...studio.auth, 'content-length': String(200_000_000) },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        request.destroy();
        resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
    request.flushHeaders();
  });
  assert.equal(reply.status, 413);
  assert.match(errorOf(reply).message, /at most 2 MiB/);
  await studio.assertAnswering();
});

test('files the studio does not import are refused by name', async () => {
  const reply = await upload('notes.txt', 10);
  assert.equal(reply.status, 400);
  assert.match(errorOf(reply).message, /notes\.txt is neither a checkpoint nor an image/);
  assert.match(errorOf(reply).hint!, /\.safetensors, \.ckpt/);
});

test('20 parallel 1 MiB uploads stay within the 5 MiB total; the rest get 413', async () => {
  const replies = await Promise.all(Array.from({ length: 20 }, (_, index) => upload(`m${index}.safetensors`, MiB)));
  const accepted = replies.filter((reply) => reply.status === 200);
  const refused = replies.filter((reply) => reply.status === 413);
  assert.equal(accepted.length + refused.length, 20, replies.map((reply) => reply.status).join(' '));
  assert.ok(accepted.length >= 1 && accepted.length <= 5, `${accepted.length} accepted`);
  assert.match(errorOf(refused[0]!).message, /may take 5 MiB in all/);
  assert.ok(uploadsOnDisk(studio.home) <= limits.total);
  await studio.assertAnswering();

  // An import that uses an upload removes it, failed or not (these are no checkpoints).
  const { uploadId, fileName } = JSON.parse(accepted[0]!.body) as { uploadId: string; fileName: string };
  const failed = new Promise<void>((resolve) => studio.services.models.onDidImportFail(() => resolve()));
  assert.equal((await studio.call('models.import', { source: { kind: 'upload', uploadId, fileName } })).status, 200);
  await failed;
  assert.equal(existsSync(join(uploadsDirectory(studio.home), uploadId)), false);
  // Room again for one more.
  assert.equal((await upload('again.safetensors', MiB)).status, 200);
});

test('the uploads not imported are removed when the server stops', async () => {
  const other = await startStudioFixture('afa-uploads-stop-', { uploadLimits: limits });
  try {
    assert.equal((await new Promise<Reply>((resolve, reject) => {
      const request = httpRequest({ host: '127.0.0.1', port: other.server.port, method: 'POST', path: '/upload?name=a.safetensors', headers: other.auth }, (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: '' }));
      });
      request.on('error', reject);
      request.end(Buffer.alloc(1000));
    })).status, 200);
    assert.equal(readdirSync(uploadsDirectory(other.home)).length, 1);
    await other.server.close();
    assert.equal(existsSync(uploadsDirectory(other.home)), false);
  } finally {
    await other.services.dispose();
    rmSync(other.root, { recursive: true, force: true });
  }
});
