// Long jobs (import, generation, training) take a JobControl: progress goes out through `onProgress`,
// cancellation comes in through `signal`. Jobs check the signal between units of work and throw
// CancelledError (app/common/errors.ts), after removing anything they had half written.

export interface Progress {
  /** Short machine-readable phase, e.g. 'hash', 'convert-unet', 'denoise', 'decode'. */
  readonly phase: string;
  /** Units done in this phase and in total (bytes, steps, tensors — `unit` says which). */
  readonly done: number;
  readonly total: number;
  readonly unit?: 'bytes' | 'steps' | 'tensors' | 'items';
  /** Human-readable line for progress bars and the UI. */
  readonly message?: string;
}

export interface JobControl {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: Progress) => void;
}

/**
 * Runs one unit of a job's work when it may (a training run's turns on the engine: it waits while
 * generations run, and rejects with a CancelledError when the job is paused meanwhile).
 */
export type WorkUnit = <T>(work: () => Promise<T>) => Promise<T>;

/** The WorkUnit of a job that owns its process: every unit runs at once. */
export const atOnce: WorkUnit = (work) => work();
