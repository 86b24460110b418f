// The error that crosses the API boundary. Services may throw anything; `toErrorData` turns it into plain
// `ApiErrorData` for the transport, and `ApiError.from` turns that back into a real error on the far side.
import { CancelledError, EngineError, UserError } from '../common/errors.ts';
import type { ApiErrorCode, ApiErrorData } from './contract.ts';

export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }

  static from(data: ApiErrorData): ApiError {
    const error = new ApiError(data.code, data.message, data.hint);
    // Keep the original class name ('UserError', 'EngineError') so callers and logs can tell them apart.
    Object.defineProperty(error, 'name', { value: data.name });
    return error;
  }
}

/** Thrown by API methods whose service has not landed yet, or whose backend is missing. */
export function unavailable(what: string, hint?: string): ApiError {
  return new ApiError('unavailable', `${what} is not available in this build yet.`, hint);
}

/**
 * An absolute path (POSIX '/a/b/c', Windows 'C:\\a\\b'): at least one directory, then the last part.
 * Not inside a word or a URL ('http://host/x' keeps its path), so 'unet/' or 'a/b' are left alone.
 */
const posixPath = /(?<![\w.:/~-])\/(?:[^\s/'"`<>]+\/)+([^\s/'"`<>]*[^\s/'"`<>.,;:)])/g;
const windowsPath = /(?<![\w])[A-Za-z]:\\(?:[^\s\\'"`<>]+\\)+([^\s\\'"`<>]*[^\s\\'"`<>.,;:)])/g;

/**
 * The message as the client sees it: absolute paths reduced to their file names. Errors from deep in the
 * engine (onnxruntime, the model store) name files by where they live on the studio's machine, which the
 * user of a web page has no use for and should not learn; the whole message stays in the engine's log.
 */
export function withoutPaths(message: string): string {
  return message.replace(posixPath, '$1').replace(windowsPath, '$1');
}

/** The error as it crosses the API boundary (absolute paths left out of its words: see withoutPaths). */
export function toErrorData(error: unknown): ApiErrorData {
  const data = errorData(error);
  const message = withoutPaths(data.message);
  const hint = data.hint === undefined ? undefined : withoutPaths(data.hint);
  return message === data.message && hint === data.hint ? data : withHint({ name: data.name, code: data.code, message }, hint);
}

function errorData(error: unknown): ApiErrorData {
  if (error instanceof ApiError) return withHint({ name: error.name, code: error.code, message: error.message }, error.hint);
  if (error instanceof UserError) {
    // UserError folds the hint into its message; send the bare message and the hint separately.
    const message = error.hint && error.message.endsWith(` ${error.hint}`)
      ? error.message.slice(0, -error.hint.length - 1)
      : error.message;
    return withHint({ name: error.name, code: error.code, message }, error.hint);
  }
  if (error instanceof CancelledError) return { name: error.name, code: 'cancelled', message: error.message };
  if (error instanceof EngineError) return { name: error.name, code: 'engine', message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { name: 'Error', code: 'internal', message: message || 'Unexpected error.' };
}

function withHint(data: ApiErrorData, hint: string | undefined): ApiErrorData {
  return hint ? { ...data, hint } : data;
}
