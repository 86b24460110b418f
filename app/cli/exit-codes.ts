// The `afa` exit statuses, so scripts can tell a mistake in their input from a failure of the engine:
//   0   success
//   2   bad input: unknown option or command, invalid value, missing file, unknown model (UserError)
//   3   the engine failed on valid input (onnxruntime error, damaged model file, out of memory, bugs)
//   130 cancelled with Ctrl+C (128 + SIGINT, the shell convention); nothing half written is left
import { CancelledError, EngineError, UserError } from '../common/errors.ts';

export const EXIT_OK = 0;
export const EXIT_BAD_INPUT = 2;
export const EXIT_ENGINE_FAILURE = 3;
export const EXIT_CANCELLED = 130;

export function exitCodeOf(error: unknown): number {
  if (error instanceof UserError) return EXIT_BAD_INPUT;
  if (error instanceof CancelledError) return EXIT_CANCELLED;
  return EXIT_ENGINE_FAILURE;
}

/** The error as `--json` output reports it: { name, code, message, hint? }. */
export function errorJson(error: unknown): { name: string; code: string; message: string; hint?: string } {
  if (error instanceof UserError) {
    const message = error.hint && error.message.endsWith(` ${error.hint}`) ? error.message.slice(0, -error.hint.length - 1) : error.message;
    return { name: error.name, code: error.code, message, ...(error.hint ? { hint: error.hint } : {}) };
  }
  if (error instanceof CancelledError) return { name: error.name, code: 'cancelled', message: error.message };
  if (error instanceof EngineError) return { name: error.name, code: 'engine', message: error.message };
  return { name: 'Error', code: 'internal', message: error instanceof Error ? error.message : String(error) };
}
