// Web mode: calls are POST /api/<method>, events come over one WebSocket at /events that reconnects after
// the server restarts or the laptop sleeps; its state (WebConnection) drives the "server disconnected"
// banner. Both carry the session token the server put in the page (<meta name="afa-session-token">): a
// header on calls and uploads, a subprotocol on the socket (a browser cannot set its headers). The
// session cookie only opens pages and images.
import type { ApiErrorData, ApiResult, ApiTransport, ImageRef, ImportSource, Unsubscribe } from '../../app/api/contract.ts';
import { EventHub } from './event-hub.ts';
import type { Connection, Host } from './host.ts';

const lostConnection: ApiErrorData = {
  name: 'ApiError',
  code: 'unavailable',
  message: 'The studio server does not answer.',
  hint: 'Check that `afa serve` is still running; the page reconnects by itself when it is back.',
};

/** The session token of this page (app/server/session-token.ts), '' outside web mode. */
function sessionToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="afa-session-token"]')?.content ?? '';
}

/** The event socket's state: lost when it closes (or a call gets no answer), back when it opens again. */
class WebConnection implements Connection {
  connected = true;
  attempts = 0;
  readonly #listeners = new Set<() => void>();
  readonly #reconnectListeners = new Set<() => void>();
  onDidChange(listener: () => void): Unsubscribe {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  onDidReconnect(listener: () => void): Unsubscribe {
    this.#reconnectListeners.add(listener);
    return () => this.#reconnectListeners.delete(listener);
  }
  set(connected: boolean, attempts: number): void {
    if (this.connected === connected && this.attempts === attempts) return;
    const back = connected && !this.connected;
    this.connected = connected;
    this.attempts = attempts;
    for (const listener of [...this.#listeners]) listener();
    if (back) for (const listener of [...this.#reconnectListeners]) listener();
  }
}

/**
 * How long a call waits for the event socket to open the first time. A call answered before the socket
 * is open could describe a state whose next change (the demo becoming ready, a job finishing) is sent
 * before the socket can hear it, and the page would wait for that change forever; so the first calls
 * are sent once the socket is open. If it does not open in this time the calls go anyway (and the
 * banner says the server is away when they fail).
 */
export const FIRST_SOCKET_WAIT_MS = 3000;

export function createWebTransport(location: Location = window.location, options: { readonly firstSocketWaitMs?: number } = {}): ApiTransport & { readonly connection: Connection } {
  const hub = new EventHub();
  const token = sessionToken();
  const connection = new WebConnection();
  let delayMs = 250;
  let attempts = 0;
  let opened: () => void = () => {};
  const firstOpen = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, options.firstSocketWaitMs ?? FIRST_SOCKET_WAIT_MS);
    opened = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  let socket: WebSocket | undefined;
  const connect = () => {
    socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/events`, ['afa-events', `afa-token.${token}`]);
    socket.onopen = () => {
      delayMs = 250;
      attempts = 0;
      connection.set(true, 0);
      opened();
    };
    socket.onmessage = (message) => {
      const { event, payload } = JSON.parse(String(message.data)) as { event: string; payload: unknown };
      hub.emit(event, payload);
    };
    socket.onclose = () => {
      attempts++;
      connection.set(false, attempts);
      setTimeout(connect, delayMs);
      delayMs = Math.min(delayMs * 2, 5000);
    };
  };
  connect();
  return {
    connection,
    async invoke(method, request) {
      await firstOpen;
      let response: Response;
      try {
        response = await fetch(`/api/${method}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-afa-token': token },
          body: request === undefined ? '' : JSON.stringify(request),
          credentials: 'same-origin',
        });
      } catch {
        connection.set(false, Math.max(1, connection.attempts));
        return { ok: false, error: lostConnection };
      }
      // A call that failed marked the connection lost; an answer over a socket that stayed open brings it back.
      if (!connection.connected && socket?.readyState === 1 /* WebSocket.OPEN */) connection.set(true, 0);
      try {
        return (await response.json()) as ApiResult<never>;
      } catch {
        return { ok: false, error: { ...lostConnection, message: `The studio server answered ${response.status} without a result.` } };
      }
    },
    subscribe(event, listener) {
      return hub.add(event, listener as (payload: unknown) => void);
    },
  };
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function upload(file: File, onProgress: (sent: number, total: number) => void): Promise<ImportSource> {
  // XMLHttpRequest, because fetch reports no upload progress; checkpoints are gigabytes.
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', `/upload?name=${encodeURIComponent(file.name)}`);
    request.setRequestHeader('x-afa-token', sessionToken());
    request.upload.onprogress = (event) => onProgress(event.loaded, event.total || file.size);
    request.onload = () => {
      const body = JSON.parse(request.responseText) as { uploadId?: string; fileName?: string; error?: ApiErrorData };
      if (request.status === 200 && body.uploadId && body.fileName) resolve({ kind: 'upload', uploadId: body.uploadId, fileName: body.fileName });
      else reject(Object.assign(new Error(body.error?.message ?? `Upload failed (${request.status}).`), { hint: body.error?.hint }));
    };
    request.onerror = () => reject(new Error(lostConnection.message));
    request.send(file);
  });
}

export function createWebHost(connection?: Connection): Host {
  return {
    kind: 'web',
    ...(connection ? { connection } : {}),
    imageUrl: (image: ImageRef) => `/media/${encodePath(image.path)}`,
    downloadUrl: (image: ImageRef) => `/media/${encodePath(image.path)}?download=1`,
    sourceForFile: upload,
  };
}
