// The renderer's side of app/api/api-error.ts (the renderer may import only types from app/api): an
// error that came back over the transport, with its code and hint intact.
import type { ApiErrorCode, ApiErrorData } from '../../app/api/contract.ts';

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly hint: string | undefined;
  readonly kind: string;

  constructor(data: ApiErrorData) {
    super(data.message);
    this.name = 'ApiError';
    this.kind = data.name;
    this.code = data.code;
    this.hint = data.hint;
  }
}

/** Message and hint of any error, for the UI. */
export function describeError(error: unknown): { message: string; hint?: string; code?: ApiErrorCode } {
  if (error instanceof ApiError) return { message: error.message, hint: error.hint, code: error.code };
  if (isErrorData(error)) return { message: error.message, hint: error.hint, code: error.code };
  if (error instanceof Error) return { message: error.message, hint: (error as Error & { hint?: string }).hint };
  return { message: String(error) };
}

function isErrorData(value: unknown): value is ApiErrorData {
  return typeof value === 'object' && value !== null && typeof (value as ApiErrorData).message === 'string' && typeof (value as ApiErrorData).code === 'string';
}
