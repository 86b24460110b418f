// Reading a request body within a limit, and refusing one that is over it so that the client gets the
// answer. Destroying the request at the limit (as the API route used to) resets the connection, and the
// client sees a network error instead of the 413. Instead the reply is sent at once, and what the client
// is still sending is read and thrown away, up to `drainBytes` or `drainMs`, after which the connection
// is cut (a client that will not stop cannot keep the server busy).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiErrorData } from '../api/contract.ts';
import { sendError } from './http-replies.ts';

/** How much of an over-limit body is read and discarded so the client reaches the reply, and for how long. */
const drainBytes = 64 * 1024 * 1024;
const drainMs = 10_000;

/** The Content-Length the client declared, or undefined (chunked). */
export function declaredLength(request: IncomingMessage): number | undefined {
  const header = request.headers['content-length'];
  if (header === undefined || !/^\d+$/.test(header)) return undefined;
  return Number(header);
}

/** The whole body, or 'too-large' as soon as it passes `limitBytes` (the rest is left unread). */
export function readBody(request: IncomingMessage, limitBytes: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const declared = declaredLength(request);
    if (declared !== undefined && declared > limitBytes) return resolve('too-large');
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        request.off('data', onData);
        request.pause();
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    };
    request.on('data', onData);
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
}

/** Answers `error` (a 413 for 'too-large') and discards the rest of the body so the client can read it. */
export function refuseBody(request: IncomingMessage, response: ServerResponse, error: ApiErrorData): void {
  sendError(response, error);
  if (request.complete) return;
  let discarded = 0;
  const cut = () => request.socket.destroy();
  const timer = setTimeout(cut, drainMs);
  timer.unref();
  request.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > drainBytes) cut();
  });
  request.once('close', () => clearTimeout(timer));
  request.once('error', () => undefined);
  request.resume();
}

/**
 * The deepest nesting of objects and arrays in a JSON text, counted without parsing it (brackets inside
 * strings do not count), so a deep document can be refused before anything recursive walks it.
 */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}
