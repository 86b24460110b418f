// Malformed WebSocket frames, written byte for byte on a raw TCP connection: the offending client loses
// its connection (with the close code RFC 6455 gives for it), the server and every other client carry on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { startStudioFixture, type StudioFixture } from './studio-fixture.ts';

let studio: StudioFixture;

before(async () => {
  studio = await startStudioFixture('afa-events-');
});

after(async () => {
  await studio.close();
});

/** A connection past the WebSocket handshake, as a raw socket; `received` collects what the server sends after it. */
async function rawSocket(): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<void> }> {
  const socket = connect(studio.server.port, '127.0.0.1');
  let buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => (buffer = Buffer.concat([buffer, chunk])));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    [
      'GET /events HTTP/1.1',
      `Host: 127.0.0.1:${studio.server.port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
      `x-afa-token: ${studio.server.token}`,
      '',
      '',
    ].join('\r\n'),
  );
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', check);
      const head = buffer.subarray(0, end).toString('latin1');
      buffer = buffer.subarray(end + 4);
      if (head.startsWith('HTTP/1.1 101')) resolve();
      else reject(new Error(head));
    };
    socket.on('data', check);
  });
  return { socket, received: () => buffer, closed };
}

/** One masked client frame (RFC 6455 §5.2): FIN, `opcode`, the payload as given (valid or not). */
function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, 0x80 | length]) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (length >= 126 && length < 65536) {
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else if (length >= 65536) {
    header[0] = 0x80 | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  const masked = Buffer.from(payload.map((byte, index) => byte ^ mask[index % 4]!));
  return Buffer.concat([header, mask, masked]);
}

/** The status code of the server's close frame (the first frame it sent). */
function closeCode(bytes: Buffer): number {
  assert.equal(bytes[0]! & 0x0f, 0x8, `expected a close frame, got opcode ${bytes[0]! & 0x0f}`);
  return bytes.readUInt16BE(2);
}

function listener(): Promise<{ socket: WebSocket; next: () => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${studio.server.origin.replace('http', 'ws')}/events`, { headers: studio.auth });
    socket.once('error', reject);
    socket.once('open', () =>
      resolve({ socket, next: () => new Promise<string>((done) => socket.once('message', (data) => done(String(data)))) }),
    );
  });
}

for (const [name, opcode, payload, code] of [
  ['a 66,561-byte message (over the 64 KiB limit)', 0x1, Buffer.alloc(66_561, 0x61), 1009],
  ['a text frame that is not UTF-8', 0x1, Buffer.from([0x68, 0x69, 0xc3, 0x28, 0xff, 0xfe]), 1007],
  ['a frame with an undefined opcode', 0x3, Buffer.from('x'), 1002],
] as const) {
  test(`${name} closes only that connection; the server and the other clients carry on`, async () => {
    const bystander = await listener();
    const bad = await rawSocket();
    bad.socket.write(frame(opcode, payload));
    await bad.closed;
    assert.equal(closeCode(bad.received()), code);

    await studio.assertAnswering();
    const message = bystander.next();
    studio.services.system.engineRestarted.fire({ reason: 'still here' });
    assert.deepEqual(JSON.parse(await message), { event: 'system.onDidEngineRestart', payload: { reason: 'still here' } });
    bystander.socket.close();
  });
}

test('a client that resets its connection mid-frame affects nobody else', async () => {
  const bad = await rawSocket();
  bad.socket.write(frame(0x1, Buffer.alloc(1000)).subarray(0, 500));
  bad.socket.resetAndDestroy();
  await bad.closed;
  await studio.assertAnswering();
});
