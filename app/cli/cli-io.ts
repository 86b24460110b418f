// Where a command's output goes and where the user's interrupt comes from. The real process wires
// stdout/stderr and SIGINT (processIo); tests pass their own sinks and AbortController.

export interface TextSink {
  write(text: string): unknown;
}

export interface TerminalSink extends TextSink {
  /** True when a person watches it: progress redraws one line instead of printing many. */
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface CliIo {
  /** Results: tables, paths, `--json` documents. */
  readonly stdout: TextSink;
  /** Progress, notes and errors. */
  readonly stderr: TerminalSink;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted when the user presses Ctrl+C (SIGINT) once; commands cancel their job cleanly. */
  readonly interrupt: AbortSignal;
}

/**
 * A SIGINT this soon after the first is the same press: a command relaunched for the engine's memory
 * settings (engine-relaunch.ts) gets a terminal's Ctrl+C directly and again from its parent.
 */
export const SAME_PRESS_MS = 250;

/**
 * The process's streams and SIGINT: the first Ctrl+C aborts `interrupt` (the running job stops within
 * one step and removes what it had half written); a second one (after `SAME_PRESS_MS`) exits at once
 * with 130.
 */
export function processIo(): CliIo {
  const controller = new AbortController();
  let firstAt = 0;
  process.on('SIGINT', () => {
    if (!controller.signal.aborted) {
      firstAt = performance.now();
      controller.abort();
    } else if (performance.now() - firstAt > SAME_PRESS_MS) {
      process.exit(130);
    }
  });
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, interrupt: controller.signal };
}
