// POST /api/<service.method> with the JSON request as the body (empty body: no request). The reply is
// always an ApiResult: `{ ok: true, value }` with 200, or `{ ok: false, error }` with a matching status.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiDispatcher } from '../api/dispatch.ts';
import { sendError, sendJson } from './http-replies.ts';
import { formatBytes } from '../common/format-bytes.ts';
import { jsonNestingDepth, readBody, refuseBody } from './request-body.ts';

export const apiRoutePrefix = '/api/';
/** Requests are small JSON documents; models and images never travel through this route. */
const maxBodyBytes = 1024 * 1024;
/**
 * The deepest request (a recipe spec inside a generation request) nests 5 levels; 32 leaves room and keeps
 * recursive code (validation, structured clone to the engine, JSON.stringify) far from the stack limit.
 */
const maxDepth = 32;

export async function handleApiRequest(dispatcher: ApiDispatcher, method: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'POST') {
    response.setHeader('Allow', 'POST');
    return sendError(response, { name: 'ApiError', code: 'bad-request', message: 'API calls are POST requests.' });
  }
  // A JSON content type cannot be sent by a plain HTML form, one more wall against cross-site posts.
  if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
    return sendError(response, { name: 'ApiError', code: 'bad-request', message: 'API calls send Content-Type: application/json.' });
  }
  const body = await readBody(request, maxBodyBytes);
  if (body === 'too-large') {
    return refuseBody(request, response, { name: 'ApiError', code: 'too-large', message: `The request is larger than ${formatBytes(maxBodyBytes)}.`, hint: 'API requests are small JSON documents; models and images go through uploads.' });
  }
  const text = body.toString('utf8');
  if (jsonNestingDepth(text) > maxDepth) {
    return sendError(response, { name: 'ApiError', code: 'bad-request', message: `The request nests objects and arrays more than ${maxDepth} levels deep.` });
  }
  let parsed: unknown;
  try {
    parsed = text.length === 0 ? undefined : JSON.parse(text);
  } catch {
    return sendError(response, { name: 'ApiError', code: 'bad-request', message: 'The request body is not valid JSON.' });
  }
  const result = await dispatcher.invoke(method, parsed);
  if (result.ok) sendJson(response, 200, result);
  else sendError(response, result.error);
}
