// POST /api/<service.method> with the JSON request as the body (empty body: no request). The reply is
// always an ApiResult: `{ ok: true, value }` with 200, or `{ ok: false, error }` with a matching status.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiDispatcher } from '../api/dispatch.ts';
import { sendError, sendJson } from './http-replies.ts';

export const apiRoutePrefix = '/api/';
/** Requests are small JSON documents; models and images never travel through this route. */
const maxBodyBytes = 1024 * 1024;

function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        resolve(undefined);
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

export async function handleApiRequest(dispatcher: ApiDispatcher, method: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'POST') {
    response.setHeader('Allow', 'POST');
    return sendError(response, { name: 'ApiError', code: 'bad-request', message: 'API calls are POST requests.' });
  }
  // A JSON content type cannot be sent by a plain HTML form, one more wall against cross-site posts.
  if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
    return sendError(response, { name: 'ApiError', code: 'bad-request', message: 'API calls send Content-Type: application/json.' });
  }
  const body = await readBody(request);
  if (body === undefined) return sendError(response, { name: 'ApiError', code: 'bad-request', message: 'The request is larger than 1 MiB.' });
  let parsed: unknown;
  try {
    parsed = body.length === 0 ? undefined : JSON.parse(body.toString('utf8'));
  } catch {
    return sendError(response, { name: 'ApiError', code: 'bad-request', message: 'The request body is not valid JSON.' });
  }
  const result = await dispatcher.invoke(method, parsed);
  if (result.ok) sendJson(response, 200, result);
  else sendError(response, result.error);
}
