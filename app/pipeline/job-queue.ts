// An ordered queue of jobs with one job on the engine at a time. Jobs can be inspected, removed,
// reordered while waiting, and cancelled while running (through their AbortSignal). The queue knows
// nothing about generation: it runs `(payload, signal) => Promise<result>` functions.
import { CancelledError } from '../common/errors.ts';

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobInfo<P> {
  readonly id: string;
  readonly payload: P;
  readonly state: JobState;
  readonly enqueuedAt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly error?: string;
}

export interface JobQueueEvents<P, R> {
  readonly onDidChange?: (jobs: readonly JobInfo<P>[]) => void;
  readonly onDidFinish?: (job: JobInfo<P>, result: R) => void;
  readonly onDidFail?: (job: JobInfo<P>, error: Error) => void;
}

interface Entry<P> {
  info: JobInfo<P>;
  readonly controller: AbortController;
}

export class JobQueue<P, R> {
  private readonly entries: Entry<P>[] = [];
  private running: Entry<P> | undefined;
  private counter = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly execute: (payload: P, signal: AbortSignal, id: string) => Promise<R>,
    private readonly events: JobQueueEvents<P, R> = {},
  ) {}

  /** Adds a job at the end of the queue; it starts when every job before it has finished. */
  enqueue(payload: P): string {
    const id = `job_${Date.now().toString(36)}_${(this.counter++).toString(36)}`;
    this.entries.push({ info: { id, payload, state: 'queued', enqueuedAt: Date.now() }, controller: new AbortController() });
    this.changed();
    queueMicrotask(() => this.pump());
    return id;
  }

  /** The running job first, then waiting jobs in order. */
  list(): readonly JobInfo<P>[] {
    return [...(this.running ? [this.running.info] : []), ...this.entries.map((entry) => entry.info)];
  }

  /** Removes a waiting job, or cancels the running one. Returns false when the id is unknown. */
  remove(id: string): boolean {
    if (this.running?.info.id === id) {
      this.running.controller.abort();
      return true;
    }
    const index = this.entries.findIndex((entry) => entry.info.id === id);
    if (index < 0) return false;
    this.entries.splice(index, 1);
    this.changed();
    return true;
  }

  /** Cancels the running job (within one unit of its work); waiting jobs stay. */
  cancelRunning(): boolean {
    if (!this.running) return false;
    this.running.controller.abort();
    return true;
  }

  /** Moves a waiting job to position `index` among the waiting jobs. */
  move(id: string, index: number): boolean {
    const from = this.entries.findIndex((entry) => entry.info.id === id);
    if (from < 0) return false;
    const [entry] = this.entries.splice(from, 1);
    const to = Math.max(0, Math.min(this.entries.length, Math.trunc(index)));
    this.entries.splice(to, 0, entry!);
    this.changed();
    return true;
  }

  /** Resolves when nothing is running or waiting. */
  whenIdle(): Promise<void> {
    if (!this.running && this.entries.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    if (this.running) return;
    const entry = this.entries.shift();
    if (!entry) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
      return;
    }
    this.running = entry;
    entry.info = { ...entry.info, state: 'running', startedAt: Date.now() };
    this.changed();
    this.execute(entry.info.payload, entry.controller.signal, entry.info.id).then(
      (result) => {
        entry.info = { ...entry.info, state: 'done', finishedAt: Date.now() };
        this.settle();
        this.events.onDidFinish?.(entry.info, result);
      },
      (error: unknown) => {
        const cancelled = error instanceof CancelledError || entry.controller.signal.aborted;
        const failure = error instanceof Error ? error : new Error(String(error));
        entry.info = {
          ...entry.info,
          state: cancelled ? 'cancelled' : 'failed',
          finishedAt: Date.now(),
          error: failure.message,
        };
        this.settle();
        this.events.onDidFail?.(entry.info, failure);
      },
    );
  }

  private settle(): void {
    this.running = undefined;
    this.changed();
    queueMicrotask(() => this.pump());
  }

  private changed(): void {
    this.events.onDidChange?.(this.list());
  }
}
