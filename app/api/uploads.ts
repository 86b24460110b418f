// Files the browser uploads in web mode before importing them (a browser cannot hand over a path).
// Each upload is `<home>/tmp/uploads/<32 hex id>/<file name>`, so the importer still sees the real
// file name and extension; the id is minted by the server, never taken from the client as a path.
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
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

/** What an upload is for, by its file name: a checkpoint for models.import, an image for history.importImages. */
export type UploadKind = 'checkpoint' | 'image';

const kindsByExtension: ReadonlyMap<string, UploadKind> = new Map([
  ...['.safetensors', '.ckpt', '.pt', '.pth', '.bin'].map((extension) => [extension, 'checkpoint'] as const),
  ...['.png', '.jpg', '.jpeg', '.webp'].map((extension) => [extension, 'image'] as const),
]);

/** The kind of upload a file name announces; undefined for anything the studio does not import. */
export function uploadKind(fileName: string): UploadKind | undefined {
  return kindsByExtension.get(extname(fileName).toLowerCase());
}

export const uploadExtensions: readonly string[] = [...kindsByExtension.keys()];

export interface UploadLimits {
  /** Largest checkpoint, bytes. */
  readonly checkpoint: number;
  /** Largest image, bytes. */
  readonly image: number;
  /** All uploads on disk at once (finished and in progress), bytes. */
  readonly total: number;
}

/**
 * The largest SD 1.x checkpoint in circulation is the full float32 training file with EMA weights
 * (v1-5-pruned.ckpt, 7.7 GB = 7.2 GiB); pruned float32 files are ~4 GB, float16 ~2 GB. An image the
 * history imports is a PNG of a generation: even 4096×4096 RGBA stays far below 64 MiB. The total allows
 * two of the largest checkpoints waiting for import at once.
 */
export const defaultUploadLimits: UploadLimits = Object.freeze({
  checkpoint: 8 * 1024 ** 3,
  image: 64 * 1024 ** 2,
  total: 16 * 1024 ** 3,
});

/** Bytes of every file below the uploads folder (finished uploads and the temporary files of running ones). */
export function uploadsOnDisk(home: string, except: ReadonlySet<string> = new Set()): number {
  const root = uploadsDirectory(home);
  let total = 0;
  let folders: string[];
  try {
    folders = readdirSync(root);
  } catch {
    return 0;
  }
  for (const folder of folders) {
    if (except.has(folder)) continue;
    let names: string[];
    try {
      names = readdirSync(join(root, folder));
    } catch {
      continue;
    }
    for (const name of names) {
      try {
        total += statSync(join(root, folder, name)).size;
      } catch {
        // Removed meanwhile (its import ended).
      }
    }
  }
  return total;
}
