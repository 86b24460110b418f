// Web mode's session token: 32 random bytes, printed once in the URL. The first page load trades the
// query token for an HttpOnly cookie (named per port: cookies are shared between ports of one host),
// so the token leaves the address bar; scripts and tools may send it as a header instead.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const tokenHeader = 'x-afa-token';

export function createSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

export function cookieName(port: number): string {
  return `afa_session_${port}`;
}

export function sessionCookie(port: number, token: string): string {
  return `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

export type TokenSource = 'query' | 'header' | 'cookie';

/** The token a request carries and where it came from; undefined when it carries none. */
export function requestToken(request: IncomingMessage, url: URL, port: number): { token: string; source: TokenSource } | undefined {
  const query = url.searchParams.get('token');
  if (query) return { token: query, source: 'query' };
  const header = request.headers[tokenHeader];
  if (typeof header === 'string' && header) return { token: header, source: 'header' };
  const authorization = request.headers.authorization;
  if (authorization?.startsWith('Bearer ')) return { token: authorization.slice(7).trim(), source: 'header' };
  const cookie = cookieValue(request.headers.cookie, cookieName(port));
  return cookie ? { token: cookie, source: 'cookie' } : undefined;
}

/** Constant-time comparison, so the token cannot be guessed byte by byte from response times. */
export function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
