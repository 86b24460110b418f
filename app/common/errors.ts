// Two kinds of failure cross every boundary (CLI exit codes, API errors, UI messages):
// - UserError: the input is wrong (bad file, bad parameter, unsupported model). The message says what to do.
// - EngineError: the engine failed on valid input (onnxruntime error, out of memory, bug).
// CancelledError is neither: the user asked to stop.

export type UserErrorCode =
  | 'invalid-argument'
  | 'not-found'
  | 'unsupported'
  | 'corrupt-file'
  | 'unsafe-file'
  | 'mismatch'
  | 'disk-full'
  | 'not-writable'
  | 'conflict';

export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    readonly code: UserErrorCode,
    message: string,
    readonly hint?: string,
  ) {
    super(hint ? `${message} ${hint}` : message);
  }
}

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor(message = 'Cancelled.') {
    super(message);
  }
}

/** Throws CancelledError when the signal is aborted; call between units of work. */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}

export function isCancelled(error: unknown): error is CancelledError {
  return error instanceof CancelledError;
}
