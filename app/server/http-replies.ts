// Small helpers every route uses to answer: JSON, plain text, and the security headers of all replies.
import { createReadStream } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { ApiErrorCode, ApiErrorData } from '../api/contract.ts';

/** Headers on every reply: no sniffing, no framing, no referrer (URLs may carry the token). */
export function securityHeaders(response: ServerResponse): void {
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('X-Frame-Options', 'DENY');
  response.setHeader('Referrer-Policy', 'no-referrer');
  response.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

export function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

const statusByCode: Readonly<Record<ApiErrorCode, number>> = {
  'invalid-argument': 400,
  'bad-request': 400,
  'too-large': 413,
  unsupported: 400,
  'corrupt-file': 400,
  'unsafe-file': 400,
  mismatch: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  'unknown-method': 404,
  conflict: 409,
  cancelled: 409,
  'disk-full': 507,
  'not-writable': 507,
  unavailable: 503,
  engine: 500,
  'engine-crashed': 500,
  internal: 500,
};

export function statusOf(error: ApiErrorData): number {
  return statusByCode[error.code] ?? 500;
}

export function sendError(response: ServerResponse, error: ApiErrorData): void {
  sendJson(response, statusOf(error), { ok: false, error });
}

/**
 * Streams a file as the body (headers already written). `pipe` would leave a read error (the file
 * removed or unreadable meanwhile) or a client that went away as an unhandled 'error' that ends the
 * server; pipeline destroys both ends instead, and only this reply is cut short.
 */
export function streamFile(response: ServerResponse, file: string): void {
  pipeline(createReadStream(file), response).catch(() => response.destroy());
}
