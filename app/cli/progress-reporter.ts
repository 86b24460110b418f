// Progress on stderr, so stdout stays clean for results and `--json`:
//   bar   — one line redrawn in place (a terminal; at most 10 redraws a second);
//   lines — a line per phase and per 10 % (logs, CI, pipes: the default when stderr is not a terminal);
//   json  — one JSON object per event (scripts that show their own progress);
//   none  — silent.
import { UserError } from '../common/errors.ts';
import type { TerminalSink } from './cli-io.ts';

export const PROGRESS_MODES = ['bar', 'lines', 'json', 'none'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

export function progressModeOf(value: string | undefined, sink: TerminalSink): ProgressMode {
  if (value === undefined) return sink.isTTY ? 'bar' : 'lines';
  if (!(PROGRESS_MODES as readonly string[]).includes(value)) {
    throw new UserError('invalid-argument', `--progress must be one of ${PROGRESS_MODES.join(', ')}; got '${value}'.`);
  }
  return value as ProgressMode;
}

export interface ProgressUpdate {
  /** What is being done, e.g. 'Denoising' or 'Hashing'. */
  readonly label: string;
  readonly done: number;
  readonly total: number;
  /** Shown after the counts, e.g. '0.41 s/step, 5 s left'. */
  readonly detail?: string;
  /** What the json mode prints (plain data). */
  readonly event: object;
}

const BAR_WIDTH = 24;
const REDRAW_MS = 100;

export class ProgressReporter {
  readonly #sink: TerminalSink;
  readonly #mode: ProgressMode;
  #lastLabel = '';
  #lastDecile = -1;
  #lastDraw = 0;
  #lineOpen = false;

  constructor(sink: TerminalSink, mode: ProgressMode) {
    this.#sink = sink;
    this.#mode = mode;
  }

  update(update: ProgressUpdate): void {
    if (this.#mode === 'none') return;
    if (this.#mode === 'json') {
      this.#sink.write(`${JSON.stringify(update.event)}\n`);
      return;
    }
    const fraction = update.total > 0 ? Math.min(1, update.done / update.total) : 0;
    const text = `${update.label} ${update.done}/${update.total}${update.detail ? `  ${update.detail}` : ''}`;
    const labelChanged = update.label !== this.#lastLabel;
    this.#lastLabel = update.label;
    if (this.#mode === 'lines') {
      const decile = Math.floor(fraction * 10);
      if (!labelChanged && decile === this.#lastDecile) return;
      this.#lastDecile = decile;
      this.#sink.write(`${text}\n`);
      return;
    }
    const now = performance.now();
    if (!labelChanged && update.done < update.total && now - this.#lastDraw < REDRAW_MS) return;
    this.#lastDraw = now;
    const filled = Math.round(fraction * BAR_WIDTH);
    const line = `${update.label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${update.done}/${update.total}${update.detail ? `  ${update.detail}` : ''}`;
    const width = (this.#sink.columns ?? 80) - 1;
    this.#sink.write(`\r\u001b[K${line.slice(0, width)}`);
    this.#lineOpen = true;
  }

  /** Ends a redrawn line, so what follows starts on its own line. */
  finish(): void {
    if (this.#lineOpen) this.#sink.write('\n');
    this.#lineOpen = false;
    this.#lastLabel = '';
    this.#lastDecile = -1;
  }

  /** A note between progress lines (e.g. the seed used). */
  note(text: string): void {
    if (this.#mode === 'json' || this.#mode === 'none') return;
    this.finish();
    this.#sink.write(`${text}\n`);
  }
}

/** '12 s', '3 min 05 s'. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

/** '512 MB', '1.2 GB'. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024 ** 2) return `${Math.round(bytes / 1024)} kB`;
  if (bytes < 1024 ** 3) return `${Math.round(bytes / 1024 ** 2)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
}
