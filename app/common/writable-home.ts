// Checked before any work: a studio home the process cannot write ends, without this, in EACCES or
// SQLite's "attempt to write a readonly database" after a whole generation or import. One probe file in
// the home (created and removed) and write access to the database and the folders already there.
import { accessSync, constants, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from './errors.ts';
import { studioPaths } from './paths.ts';

/**
 * Throws UserError('not-writable') naming the folder and how to choose another (`how`: e.g. "--home
 * <folder> or AFA_STUDIO_HOME") when the studio cannot write to `home`; creates it when missing.
 */
export function assertWritableHome(home: string, how = '--home <folder> or the AFA_STUDIO_HOME environment variable'): void {
  const paths = studioPaths(home);
  let failed: { path: string; reason: string } | undefined;
  try {
    mkdirSync(home, { recursive: true });
  } catch (error) {
    failed = { path: home, reason: reasonOf(error) };
  }
  if (!failed) {
    const probe = join(home, `.write-check-${process.pid}`);
    try {
      writeFileSync(probe, '');
      rmSync(probe, { force: true });
    } catch (error) {
      failed = { path: home, reason: reasonOf(error) };
    }
  }
  if (!failed) {
    const existing = [paths.database, `${paths.database}-wal`, `${paths.database}-shm`, paths.models, paths.aggregators, paths.images, paths.thumbnails, paths.trash, paths.compiled, paths.temp];
    for (const path of existing) {
      if (!existsSync(path)) continue;
      try {
        accessSync(path, constants.W_OK);
      } catch (error) {
        failed = { path, reason: reasonOf(error) };
        break;
      }
    }
  }
  if (failed) {
    throw new UserError(
      'not-writable',
      `The studio home ${home} cannot be written to (${failed.path}: ${failed.reason}), so nothing could be saved. Nothing was started.`,
      `Make it writable, or use another folder with ${how}.`,
    );
  }
}

function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOTDIR':
      return 'a file is in the way';
    default:
      return code ?? (error instanceof Error ? error.message : String(error));
  }
}
