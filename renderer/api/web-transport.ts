// Web mode: calls are POST /api/<method>, events come over one WebSocket at /events that reconnects after
// the server restarts or the laptop sleeps. Both carry the session token the server put in the page
// (<meta name="afa-session-token">): a header on calls and uploads, a subprotocol on the socket (a
// browser cannot set its headers). The session cookie only opens pages and images.
import type { ApiErrorData, ApiResult, ApiTransport, ImageRef, ImportSource } from '../../app/api/contract.ts';
import { EventHub } from './event-hub.ts';
import type { Host } from './host.ts';

const lostConnection: ApiErrorData = {
  name: 'ApiError',
  code: 'unavailable',
  message: 'The studio server does not answer.',
  hint: 'Check that `afa serve` is still running, then reload the page.',
};

/** The session token of this page (app/server/session-token.ts), '' outside web mode. */
function sessionToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="afa-session-token"]')?.content ?? '';
}

export function createWebTransport(location: Location = window.location): ApiTransport {
  const hub = new EventHub();
  const token = sessionToken();
  let delayMs = 250;
  const connect = () => {
    const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/events`, ['afa-events', `afa-token.${token}`]);
    socket.onopen = () => {
      delayMs = 250;
    };
    socket.onmessage = (message) => {
      const { event, payload } = JSON.parse(String(message.data)) as { event: string; payload: unknown };
      hub.emit(event, payload);
    };
    socket.onclose = () => {
      setTimeout(connect, delayMs);
      delayMs = Math.min(delayMs * 2, 5000);
    };
  };
  connect();
  return {
    async invoke(method, request) {
      let response: Response;
      try {
        response = await fetch(`/api/${method}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-afa-token': token },
          body: request === undefined ? '' : JSON.stringify(request),
          credentials: 'same-origin',
        });
      } catch {
        return { ok: false, error: lostConnection };
      }
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

export function createWebHost(): Host {
  return {
    kind: 'web',
    imageUrl: (image: ImageRef) => `/media/${encodePath(image.path)}`,
    downloadUrl: (image: ImageRef) => `/media/${encodePath(image.path)}?download=1`,
    sourceForFile: upload,
  };
}
