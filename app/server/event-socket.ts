// The WebSocket at /events: every API event goes to every connected page as `{ event, payload }`.
// A page that cannot keep up (a background tab) misses step previews rather than growing the buffer.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ApiEventName } from '../api/contract.ts';

export const eventsRoute = '/events';
/** Above this many buffered bytes a client gets no more progress events until it catches up. */
const slowClientBytes = 4 * 1024 * 1024;

export class EventSocket {
  readonly #server = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

  constructor() {
    // Pages only listen; anything they send is ignored.
    this.#server.on('connection', (socket: WebSocket) => socket.on('message', () => undefined));
  }

  accept(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#server.handleUpgrade(request, socket, head, (client) => this.#server.emit('connection', client, request));
  }

  broadcast(event: ApiEventName, payload: unknown): void {
    const message = JSON.stringify({ event, payload });
    for (const client of this.#server.clients) {
      if (client.readyState !== client.OPEN) continue;
      if (event === 'generation.onDidProgress' && client.bufferedAmount > slowClientBytes) continue;
      client.send(message);
    }
  }

  get clientCount(): number {
    return this.#server.clients.size;
  }

  close(): Promise<void> {
    for (const client of this.#server.clients) client.terminate();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
