// Content hashes that identify a model whatever its file name.
// - Single files: SHA-256 of the whole file, streamed (8 MiB at a time, progress in bytes, cancellable).
//   The short hash is AUTOMATIC1111's "AUTOV2": the first 10 hex digits of that same SHA-256, so users
//   can match models with what sd-webui and model sites show.
// - Diffusers folders have no single file, so their hash is the SHA-256 of a small manifest text:
//     "afa-studio diffusers-folder sha256 v1\n" then, for each weight file sorted by its path relative
//     to the folder ('/' separators), one line "<sha256 of the file>  <relative path>\n"
//   (the format of `sha256sum`), covering the U-Net, text encoder and VAE weight files only: configs
//   carry bookkeeping (`_name_or_path`, versions) that would make the same weights hash differently.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { CancelledError, UserError } from '../common/errors.ts';
import type { JobControl } from '../common/progress.ts';

const CHUNK_BYTES = 8 * 1024 * 1024;

export const FOLDER_HASH_HEADER = 'afa-studio diffusers-folder sha256 v1\n';

export interface HashProgress {
  /** Bytes of other files already hashed in the same job, so one bar covers several files. */
  readonly doneBefore?: number;
  /** Total bytes of the whole job (default: this file's size). */
  readonly total?: number;
  readonly phase?: string;
}

/** Lowercase hex SHA-256 of the file's bytes. Throws CancelledError when the signal is aborted. */
export async function sha256File(path: string, control: JobControl = {}, progress: HashProgress = {}): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError('not-found', `${path} does not exist.`, 'Check the path.');
    throw error;
  }
  try {
    const size = (await handle.stat()).size;
    const total = progress.total ?? size;
    const before = progress.doneBefore ?? 0;
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let done = 0;
    for (;;) {
      if (control.signal?.aborted) throw new CancelledError();
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, done);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      done += bytesRead;
      control.onProgress?.({ phase: progress.phase ?? 'hash', done: before + done, total, unit: 'bytes', message: 'Computing the checkpoint hash' });
    }
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}

/** AUTOMATIC1111's short model hash (AUTOV2): the first 10 hex digits of the full-file SHA-256. */
export function shortHash(sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a lowercase hex SHA-256: '${sha256}'`);
  return sha256.slice(0, 10);
}

/** The folder hash documented above, over `files` (absolute paths inside `root`). */
export async function sha256Folder(root: string, files: readonly string[], sizes: readonly number[], control: JobControl = {}): Promise<string> {
  const total = sizes.reduce((sum, size) => sum + size, 0);
  const entries = files.map((file, index) => ({ file, size: sizes[index], relativePath: relative(root, file).split(sep).join('/') }));
  const lines: string[] = [];
  let done = 0;
  for (const entry of entries) {
    lines.push(`${await sha256File(entry.file, control, { doneBefore: done, total })}  ${entry.relativePath}\n`);
    done += entry.size;
  }
  lines.sort((a, b) => {
    const [pathA, pathB] = [a.slice(66), b.slice(66)];
    return pathA < pathB ? -1 : pathA > pathB ? 1 : 0;
  });
  return createHash('sha256').update(FOLDER_HASH_HEADER + lines.join('')).digest('hex');
}
