// The API route's limits on what a request may be: too large (413, and the client reads the answer
// rather than a reset connection), too deeply nested (400 before anything recursive walks it).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { jsonNestingDepth } from '../../app/server/request-body.ts';
import { startStudioFixture, type Reply, type StudioFixture } from './studio-fixture.ts';

let studio: StudioFixture;

before(async () => {
  studio = await startStudioFixture('afa-api-route-');
});

after(async () => {
  await studio.close();
});

test('20 KB of nested JSON (depth 10,000) is a 400 that says so, and the server carries on', async () => {
  const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
  const reply = await studio.send('/api/settings.get', { method: 'POST', headers: { ...studio.auth, 'content-type': 'application/json' }, body: deep });
  assert.equal(reply.status, 400);
  assert.match(JSON.parse(reply.body).error.message, /nests objects and arrays more than 32 levels deep/);
  const objects = `${'{"a":'.repeat(3_300)}1${'}'.repeat(3_300)}`;
  assert.equal((await studio.call('generation.enqueue', JSON.parse(objects) as unknown)).status, 400);
  await studio.assertAnswering();
});

test('nesting is counted outside strings only', () => {
  assert.equal(jsonNestingDepth('{"prompt": "[[[[{{{{ \\" [[["}'), 1);
  assert.equal(jsonNestingDepth('[[1], {"a": [2]}]'), 3);
  assert.equal(jsonNestingDepth(''), 0);
});

for (const [name, chunked] of [['with Content-Length', false], ['chunked', true]] as const) {
  test(`a body over 1 MiB (${name}) gets a 413 the client can read, not a reset`, async () => {
    const body = Buffer.alloc(2 * 1024 * 1024, 0x20);
    const reply = await new Promise<Reply>((resolve, reject) => {
      const request = httpRequest(`${studio.server.origin}/api/settings.get`, {
        method: 'POST',
        headers: { ...studio.auth, 'content-type': 'application/json', ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) }) },
      }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
      });
      request.on('error', reject);
      // In pieces, as a browser sends a large body.
      for (let offset = 0; offset < body.length; offset += 64 * 1024) request.write(body.subarray(offset, offset + 64 * 1024));
      request.end();
    });
    assert.equal(reply.status, 413);
    const error = JSON.parse(reply.body).error;
    assert.equal(error.code, 'too-large');
    assert.match(error.message, /larger than 1 MiB/);
    await studio.assertAnswering();
  });
}
