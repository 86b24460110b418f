// Files appear whole or not at all: write to a temporary sibling, fsync, rename over the target.
// A crash or a full disk leaves at most a `.tmp-*` sibling, which is removed on failure.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from './errors.ts';

export function temporarySibling(target: string): string {
  return join(dirname(target), `.tmp-${basename(target)}-${randomBytes(6).toString('hex')}`);
}

export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export function diskFullError(target: string): UserError {
  return new UserError('disk-full', `Not enough disk space to write ${target}.`, 'Free some space and try again; nothing was saved.');
}

/** Writes `chunks` to `target` atomically. */
export function writeFileAtomic(target: string, ...chunks: Uint8Array[]): void {
  const temp = temporarySibling(target);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx');
    for (const chunk of chunks) {
      let offset = 0;
      while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, target);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temp, { force: true });
    if (isDiskFull(error)) throw diskFullError(target);
    throw error;
  }
}
