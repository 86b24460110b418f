// Files the browser uploads in web mode before importing them (a browser cannot hand over a path).
// Each upload is `<home>/tmp/uploads/<32 hex id>/<file name>`, so the importer still sees the real
// file name and extension; the id is minted by the server, never taken from the client as a path.
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { studioPaths } from '../common/paths.ts';
import { ApiError } from './api-error.ts';

export function uploadsDirectory(home: string): string {
  return join(studioPaths(home).temp, 'uploads');
}

export function newUploadId(): string {
  return randomBytes(16).toString('hex');
}

/** A file name safe to create: no directories, no control or reserved characters, not empty. */
export function safeFileName(name: string): string {
  const cleaned = basename(name.replace(/\\/g, '/'))
    .replace(/[\u0000-\u001f<>:"/\\|?*]/g, '_')
    .replace(/^\.+/, '')
    .slice(-200);
  return cleaned || 'upload';
}

export function uploadFolder(home: string, uploadId: string): string {
  if (!/^[0-9a-f]{32}$/.test(uploadId)) throw new ApiError('bad-request', 'Not an upload id.');
  return join(uploadsDirectory(home), uploadId);
}

/** The uploaded file of `uploadId`; not-found when it was never uploaded or already imported. */
export function uploadedFile(home: string, uploadId: string): string {
  const folder = uploadFolder(home, uploadId);
  let names: string[];
  try {
    names = readdirSync(folder).filter((name) => !name.startsWith('.tmp-'));
  } catch {
    names = [];
  }
  if (names.length !== 1) throw new ApiError('not-found', 'That upload does not exist any more.', 'Choose the file again.');
  return join(folder, names[0]!);
}

export function removeUpload(home: string, uploadId: string): void {
  rmSync(uploadFolder(home, uploadId), { recursive: true, force: true });
}
