// The WebSocket at /events: every API event goes to every connected page as `{ event, payload }`.
// A page that cannot keep up (a background tab) misses step previews rather than growing the buffer.
// A client that breaks the protocol (a frame over maxPayload, a text frame that is not UTF-8, a reset
// connection) loses its own connection: ws reports it as an 'error' on that socket and closes it
// (1009 / 1007); without a listener the 'error' would end the whole server process.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ApiEventName } from '../api/contract.ts';
import { eventsProtocol } from './session-token.ts';

export const eventsRoute = '/events';
/** Above this many buffered bytes a client gets no more progress events until it catches up. */
const slowClientBytes = 4 * 1024 * 1024;

export class EventSocket {
  // The UI offers two subprotocols, 'afa-events' and 'afa-token.<token>' (the only way a browser can
  // send the token here); the answer names the first, so the token is never echoed.
  readonly #server = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, handleProtocols: (protocols) => (protocols.has(eventsProtocol) ? eventsProtocol : false) });
  readonly #onClientError: (error: Error) => void;

  /** `onClientError` hears of each client's protocol error (for the log); default: nothing. */
  constructor(onClientError: (error: Error) => void = () => undefined) {
    this.#onClientError = onClientError;
    this.#server.on('connection', (socket: WebSocket) => {
      // Pages only listen; anything they send is ignored.
      socket.on('message', () => undefined);
      // ws has already sent the close frame (or destroyed the socket); only this client is affected.
      socket.on('error', (error) => this.#onClientError(error));
    });
    this.#server.on('error', (error) => this.#onClientError(error));
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
