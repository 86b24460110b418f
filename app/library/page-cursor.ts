// Opaque keyset-pagination cursors: the (createdAt, id) of the last row of a page, base64url JSON.
// The UI passes them back untouched; a cursor that does not decode is a UserError, not a crash.
import { UserError } from '../common/errors.ts';

export interface PagePosition {
  readonly createdAt: number;
  readonly id: string;
}

export function encodeCursor(position: PagePosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

export function decodeCursor(cursor: string): PagePosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === 'string') {
      return { createdAt: value[0] as number, id: value[1] };
    }
  } catch {
    // falls through to the error below
  }
  throw new UserError('invalid-argument', 'The page cursor is not valid.', 'Start again from the first page.');
}
