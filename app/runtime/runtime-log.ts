// The engine's log of what onnxruntime did: which provider each session runs on, model rewrites,
// provider choices and fallbacks. onnxruntime's own warnings (e.g. "Some nodes were not assigned to the
// preferred execution providers", printed at every GPU session creation because shape ops run on the
// CPU by design) are silenced at the session (logSeverityLevel error) so they never reach the user's
// terminal; set AFA_ORT_LOG=warning (or info, verbose) to see onnxruntime's messages again. Lines go to
// the file set with setRuntimeLogFile (the CLI and the engine process use `<home>/logs/engine.log`) and
// the last ones stay in memory for tests and diagnostics.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const KEEP = 200;
const recent: string[] = [];
let file: string | undefined;

/** Appends later lines to `path` (its folder is created); undefined keeps them in memory only. */
export function setRuntimeLogFile(path: string | undefined): void {
  file = path;
  if (path) mkdirSync(dirname(path), { recursive: true });
}

/**
 * Where lines go instead of this thread's buffer and file: the inference worker forwards its lines to the
 * main thread, which owns the log file (sessions are created on the worker, app/runtime/inference-thread.ts).
 */
let forward: ((message: string) => void) | undefined;

export function forwardRuntimeLog(sink: ((message: string) => void) | undefined): void {
  forward = sink;
}

export function runtimeLog(message: string): void {
  if (forward) {
    forward(message);
    return;
  }
  const line = `${new Date().toISOString()} ${message}`;
  recent.push(line);
  if (recent.length > KEEP) recent.splice(0, recent.length - KEEP);
  if (!file) return;
  try {
    appendFileSync(file, `${line}\n`);
  } catch {
    // A log that cannot be written must not fail a generation; the line stays in memory.
  }
}

/** The latest lines (oldest first). */
export function recentRuntimeLog(): readonly string[] {
  return [...recent];
}

/** onnxruntime's logSeverityLevel: 0 verbose, 1 info, 2 warning, 3 error (default here), 4 fatal. */
export function ortLogSeverity(env: NodeJS.ProcessEnv = process.env): 0 | 1 | 2 | 3 | 4 {
  const levels = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 } as const;
  return levels[(env.AFA_ORT_LOG ?? '').toLowerCase() as keyof typeof levels] ?? 3;
}
