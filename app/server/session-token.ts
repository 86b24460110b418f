// Web mode's session token: 32 random bytes, printed once in the URL. The first page load trades the
// query token for an HttpOnly cookie, so the token leaves the address bar.
//
// Browsers send a cookie for 127.0.0.1 to every port of that host, whatever server listens there, so the
// cookie is only accepted where nothing else can carry the token: page loads and <img> requests for
// /media. The page itself is served with the token (a <meta> the UI reads), and the UI sends it as a
// header on API calls and uploads, and as a WebSocket subprotocol on /events (a browser cannot set
// headers there). The cookie's name is new for every server, so a cookie of another or an earlier
// server is never taken for this one's.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const tokenHeader = 'x-afa-token';
/** The WebSocket subprotocol the events socket answers with; the UI offers it with `afa-token.<token>`. */
export const eventsProtocol = 'afa-events';
export const tokenProtocolPrefix = 'afa-token.';
/** The <meta> of the served page that carries the token for the UI. */
export const tokenMetaName = 'afa-session-token';

export function createSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

/** A cookie name of its own for each server (it outlives the server in the browser). */
export function newCookieName(): string {
  return `afa_session_${randomBytes(6).toString('hex')}`;
}

export function sessionCookie(name: string, token: string): string {
  return `${name}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

function protocolToken(header: string | undefined): string | undefined {
  for (const protocol of (header ?? '').split(',')) {
    const trimmed = protocol.trim();
    if (trimmed.startsWith(tokenProtocolPrefix)) return trimmed.slice(tokenProtocolPrefix.length);
  }
  return undefined;
}

export type TokenSource = 'query' | 'header' | 'cookie';

export interface TokenPlaces {
  /** The session cookie's name. */
  readonly cookieName: string;
  /** Whether this request may authenticate with the cookie (page loads and images only). */
  readonly cookie: boolean;
}

/** The token a request carries and where it came from; undefined when it carries none (where it may). */
export function requestToken(request: IncomingMessage, url: URL, places: TokenPlaces): { token: string; source: TokenSource } | undefined {
  const query = url.searchParams.get('token');
  if (query) return { token: query, source: 'query' };
  const header = request.headers[tokenHeader];
  if (typeof header === 'string' && header) return { token: header, source: 'header' };
  const authorization = request.headers.authorization;
  if (authorization?.startsWith('Bearer ')) return { token: authorization.slice(7).trim(), source: 'header' };
  const offered = protocolToken(request.headers['sec-websocket-protocol']);
  if (offered) return { token: offered, source: 'header' };
  if (!places.cookie) return undefined;
  const cookie = cookieValue(request.headers.cookie, places.cookieName);
  return cookie ? { token: cookie, source: 'cookie' } : undefined;
}

/** Constant-time comparison, so the token cannot be guessed byte by byte from response times. */
export function tokensEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
