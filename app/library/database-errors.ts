// Errors for a database this build cannot use. Neither ever resets the file: a copy is written
// beside it first, and the message says where.
import { UserError } from '../common/errors.ts';

/** The file was written by a newer AFA Studio, with a schema this build does not know. */
export class DatabaseTooNewError extends UserError {
  constructor(
    readonly path: string,
    readonly fileVersion: number,
    readonly supportedVersion: number,
    readonly backupPath: string | null,
  ) {
    super(
      'unsupported',
      `The library ${path} was made by a newer version of AFA Studio (schema ${fileVersion}; this version reads up to ${supportedVersion}).`,
      `Update AFA Studio to open it. Nothing was changed${backupPath ? `; a backup copy was written to ${backupPath}` : ''}.`,
    );
  }
}

export function corruptDatabaseError(path: string, detail: string, backupPath: string | null): UserError {
  return new UserError(
    'corrupt-file',
    `The library ${path} is damaged and cannot be opened (${detail}).`,
    backupPath
      ? `A copy of the damaged file was kept at ${backupPath}. Move ${path} away to start a new library, or restore it from a backup.`
      : `Move ${path} away to start a new library, or restore it from a backup.`,
  );
}
