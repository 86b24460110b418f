// Web mode: the same UI and API as the desktop app over HTTP + WebSocket, for a browser on this
// machine (or, with `host`, on the LAN). Routes: / (the built UI), POST /api/<method>, GET /events
// (WebSocket), GET /media/<path>, POST /upload. Every request needs the session token
// (app/server/request-guard.ts); the server listens on 127.0.0.1 unless told otherwise.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StudioApi } from '../api/contract.ts';
import { createDispatcher, type ApiDispatcher } from '../api/dispatch.ts';
import { defaultUploadLimits, type UploadLimits } from '../api/uploads.ts';
import { apiRoutePrefix, handleApiRequest } from './api-route.ts';
import { EventSocket, eventsRoute } from './event-socket.ts';
import { securityHeaders, sendJson, sendText } from './http-replies.ts';
import { imageRoutePrefix, serveImage } from './image-route.ts';
import { checkRequest, isWildcardAddress, machineHostNames, type GuardConfig } from './request-guard.ts';
import { createSessionToken, newCookieName, sessionCookie } from './session-token.ts';
import { serveStatic } from './static-files.ts';
import { UploadReceiver, uploadRoute } from './upload-route.ts';

interface StudioServerOptions {
  /** The studio home the services run on (images and uploads are read and written there). */
  readonly home: string;
  /** Vite's output folder with index.html. */
  readonly rendererDirectory: string;
  /** Listen address; default '127.0.0.1'. '0.0.0.0' serves the LAN (the token is still required). */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  /** Default: 32 random bytes. */
  readonly token?: string;
  /** Size limits of uploads; default defaultUploadLimits (app/api/uploads.ts). */
  readonly uploadLimits?: UploadLimits;
  /** Where unexpected (internal) errors of in-process services and of the routes are reported; default console.error. */
  readonly onInternalError?: (error: unknown) => void;
}

/**
 * What answers the API: the services themselves, in this process (tests, scripts), or a dispatcher that
 * forwards to them — `afa serve` passes the EngineHost of its engine process (app/server/serve-command.ts).
 */
export type StudioServerConfig = StudioServerOptions & ({ readonly api: StudioApi } | { readonly dispatcher: ApiDispatcher });

export interface StudioServer {
  /** The URL to open, token included. */
  readonly url: string;
  /** http://host:port without the token. */
  readonly origin: string;
  readonly token: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A Location that stays on this server: one leading '/', never '//' or '/\\' (which browsers read as
 * another host: '/.//evil.example/' normalises to the path '//evil.example/').
 */
export function sameOriginLocation(url: URL): string {
  return `/${url.pathname.replace(/^[/\\]+/, '')}${url.search}`;
}

/**
 * The request's target as a URL whose path is the path sent. `new URL('//evil.example/', base)` would read
 * a path that starts with '//' as a host name; prefixing the origin keeps it a path.
 */
function requestUrl(request: IncomingMessage): URL {
  const target = request.url ?? '/';
  return target.startsWith('/') ? new URL(`http://studio.invalid${target}`) : new URL(target, 'http://studio.invalid');
}

function isApiLike(pathname: string): boolean {
  return pathname.startsWith(apiRoutePrefix) || pathname === uploadRoute || pathname === eventsRoute;
}

export async function startStudioServer(config: StudioServerConfig): Promise<StudioServer> {
  const host = config.host ?? '127.0.0.1';
  const token = config.token ?? createSessionToken();
  const reportInternal = config.onInternalError ?? ((error: unknown) => console.error(error));
  // A misbehaving client is worth a line in the log, not a stack: it lost only its own connection.
  const reportClientError = (error: Error) => console.warn(`[server] closed a client connection: ${error.message}`);
  const dispatcher = 'dispatcher' in config
    ? config.dispatcher
    : createDispatcher(config.api, { onInternalError: (method, error) => reportInternal(Object.assign(new Error(`${method} failed`), { cause: error })) });
  const events = new EventSocket((error) => reportClientError(error));
  const unsubscribe = dispatcher.subscribeAll((event, payload) => events.broadcast(event, payload));
  const uploads = new UploadReceiver(config.home, config.uploadLimits ?? defaultUploadLimits);
  // Uploads that never became imports (the server was killed) are of no use to anyone.
  uploads.removeAll();

  const hostNames = isWildcardAddress(host) ? machineHostNames() : undefined;
  let guard: GuardConfig = { token, cookieName: newCookieName(), port: 0, host, ...(hostNames ? { hostNames } : {}) };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    securityHeaders(response);
    const url = requestUrl(request);
    // The cookie opens pages and images only (what a browser loads without script); the API, uploads and
    // the event socket want the token the page hands its script.
    const verdict = checkRequest(request, url, guard, !isApiLike(url.pathname));
    if (!verdict.ok) {
      if (isApiLike(url.pathname)) return sendJson(response, verdict.status, { ok: false, error: { name: 'ApiError', code: verdict.status === 401 ? 'unauthorized' : 'forbidden', message: verdict.message } });
      return sendText(response, verdict.status, verdict.message);
    }
    if (url.pathname.startsWith(apiRoutePrefix)) return handleApiRequest(dispatcher, url.pathname.slice(apiRoutePrefix.length), request, response);
    if (url.pathname === uploadRoute) return uploads.handle(url, request, response);
    if (url.pathname.startsWith(imageRoutePrefix)) return serveImage(config.home, url, response);
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendText(response, 405, 'Method not allowed.');
    if (verdict.source === 'query') {
      // Trade the token in the address bar for a cookie, and drop it from the URL (history, screenshots).
      url.searchParams.delete('token');
      response.writeHead(303, { 'Set-Cookie': sessionCookie(guard.cookieName, token), Location: sameOriginLocation(url) });
      response.end();
      return;
    }
    serveStatic(config.rendererDirectory, url.pathname, response, token);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      reportInternal(error);
      if (!response.headersSent) sendText(response, 500, 'Internal error.');
      else response.destroy();
    });
  });
  server.on('upgrade', (request, socket, head) => {
    // The HTTP server lets go of the socket here; a reset before ws takes it over must not go unheard.
    socket.on('error', () => socket.destroy());
    const url = requestUrl(request);
    const verdict = url.pathname === eventsRoute ? checkRequest(request, url, guard) : ({ ok: false, status: 403, message: 'No such socket.' } as const);
    if (!verdict.ok) {
      socket.end(`HTTP/1.1 ${verdict.status} ${verdict.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    events.accept(request, socket, head);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Once listening, an error of the server itself (out of file descriptors on accept, ...) is logged
  // rather than left to end the process; the connections already open carry on.
  server.on('error', (error) => reportInternal(error));
  const port = (server.address() as AddressInfo).port;
  guard = { ...guard, port };
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const origin = `http://${shownHost}:${port}`;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    port,
    async close() {
      unsubscribe();
      await events.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Uploads not imported by now never will be (afa serve stops on SIGINT and SIGTERM through here).
      uploads.removeAll();
    },
  };
}
