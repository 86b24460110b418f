// Who may talk to web mode: requests with the session token, addressed to this server by a name it
// answers to (a DNS-rebinding page uses a foreign Host), and — when a browser says where the request
// comes from — from the studio's own origin only (another site's page cannot call the API).
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { requestToken, tokenHeader, tokensEqual, type TokenSource } from './session-token.ts';

export interface GuardConfig {
  readonly token: string;
  /** This server's session cookie (session-token.ts: accepted for page loads and images only). */
  readonly cookieName: string;
  readonly port: number;
  /** The address the server listens on ('127.0.0.1', '0.0.0.0', a LAN address, ...). */
  readonly host: string;
  /**
   * On a wildcard address, the names the Host header may carry (machineHostNames()); without a list
   * there, only loopback names are answered. A DNS-rebinding page reaches the server under a name of
   * its own, so "any name" would let it through.
   */
  readonly hostNames?: readonly string[];
}

export type GuardResult =
  | { readonly ok: true; readonly source: TokenSource }
  | { readonly ok: false; readonly status: 401 | 403; readonly message: string };

const loopbackNames = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** 0.0.0.0 or ::, every interface of the machine. */
export function isWildcardAddress(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

function isLoopback(host: string): boolean {
  return loopbackNames.has(host) || host === '::1';
}

/**
 * The names a server listening on every interface answers to: loopback, this machine's host name (and
 * name.local, as mDNS announces it) and every address of its network interfaces (IPv6 in brackets).
 */
export function machineHostNames(): string[] {
  const names = new Set(loopbackNames);
  const own = hostname().toLowerCase();
  if (own) {
    names.add(own);
    names.add(own.endsWith('.local') ? own : `${own}.local`);
  }
  for (const infos of Object.values(networkInterfaces())) {
    for (const info of infos ?? []) names.add(info.family === 'IPv6' ? `[${info.address.split('%')[0]!.toLowerCase()}]` : info.address);
  }
  return [...names];
}

/** The Host header names this server: its port, and its address (on every interface: one of hostNames). */
export function hostAllowed(hostHeader: string | undefined, config: Pick<GuardConfig, 'port' | 'host' | 'hostNames'>): boolean {
  if (!hostHeader) return false;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader);
  if (!match) return false;
  const [, name, port] = match;
  if (Number(port ?? 80) !== config.port) return false;
  if (isWildcardAddress(config.host)) return (config.hostNames ?? [...loopbackNames]).includes(name!.toLowerCase());
  if (isLoopback(config.host)) return loopbackNames.has(name!.toLowerCase());
  const bound = isIP(config.host) === 6 ? `[${config.host}]` : config.host;
  return name!.toLowerCase() === bound.toLowerCase() || loopbackNames.has(name!.toLowerCase());
}

/** `cookie`: whether this route may authenticate with the session cookie (page loads, images). */
export function checkRequest(request: IncomingMessage, url: URL, config: GuardConfig, cookie = false): GuardResult {
  const host = request.headers.host;
  if (!hostAllowed(host, config)) return { ok: false, status: 403, message: `Requests for host ${host ?? '(none)'} are refused.` };
  const origin = request.headers.origin;
  // Browsers send Origin on every cross-origin request, on POSTs and on WebSocket handshakes; a page of
  // another site can therefore never pass as the studio's own.
  if (origin !== undefined && origin !== `http://${host}`) {
    return { ok: false, status: 403, message: `Requests from ${origin} are refused.` };
  }
  const given = requestToken(request, url, { cookieName: config.cookieName, cookie });
  if (!given || !tokensEqual(given.token, config.token)) {
    const where = cookie ? 'Open the URL that `afa serve` printed (it contains the token).' : `Send the token in the ${tokenHeader} header (the page does; open the URL that \`afa serve\` printed).`;
    return { ok: false, status: 401, message: `Missing or wrong session token. ${where}` };
  }
  return { ok: true, source: given.source };
}
