// POST /upload?name=<file name>: streams the body (a checkpoint, possibly gigabytes) to
// `<home>/tmp/uploads/<id>/<name>` and answers `{ uploadId, fileName }` for models.import. The file
// appears under its name only when complete; an aborted upload leaves nothing behind.
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isDiskFull } from '../common/atomic-write.ts';
import { newUploadId, safeFileName, uploadFolder } from '../api/uploads.ts';
import { sendError, sendJson } from './http-replies.ts';

export const uploadRoute = '/upload';

export async function handleUpload(home: string, url: URL, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'POST') return sendError(response, { name: 'ApiError', code: 'bad-request', message: 'Uploads are POST requests.' });
  const fileName = safeFileName(url.searchParams.get('name') ?? '');
  const uploadId = newUploadId();
  const folder = uploadFolder(home, uploadId);
  mkdirSync(folder, { recursive: true });
  const temp = join(folder, `.tmp-${fileName}`);
  try {
    await pipeline(request, createWriteStream(temp, { flags: 'wx' }));
    renameSync(temp, join(folder, fileName));
  } catch (error) {
    rmSync(folder, { recursive: true, force: true });
    if (response.destroyed) return;
    return isDiskFull(error)
      ? sendError(response, { name: 'UserError', code: 'disk-full', message: 'Not enough disk space for the upload.', hint: 'Free some space and try again.' })
      : sendError(response, { name: 'ApiError', code: 'bad-request', message: 'The upload was interrupted.' });
  }
  sendJson(response, 200, { uploadId, fileName });
}
