// One engine, two queues: the generation queue (GenerationEngine) and the training queue
// (app/api/training-service.ts) take turns on the engine process's CPU/GPU and memory, so a generation
// never runs alongside a training step or the run's preparation. Generations go first: a training run
// works in units (one optimizer step, a validation's losses, its sample images; while it prepares:
// loading its encoders, one image or caption through them, one member's validation, the compile) and
// starts a unit only while no generation is queued or running; a generation enqueued during a unit
// waits for that unit to end (its progress says so, with the run's step), runs, and the run resumes by
// itself once the generation queue is empty.
// Pausing between steps changes nothing the run computes (its random draws are keyed by step and its
// state stays in memory), so an interrupted run ends bit-identical to an uninterrupted one.
//
// Why generations go first rather than waiting for the run: a run takes hours, a generation seconds to
// minutes, and the studio is used interactively while it trains; the run loses one generation's time.
import { CancelledError } from '../common/errors.ts';

/** Where the training run that holds or waits for the engine is. */
export interface TrainingTurn {
  readonly runId: string;
  /** The run's name, for "Waiting for training run '…'". */
  readonly name: string;
  /** Optimizer steps done (the unit that runs or waits is step + 1's, or a validation at step). */
  readonly step: number;
  readonly totalSteps: number;
  /**
   * Set while the run prepares (loading its encoders, encoding its dataset, validating the members alone,
   * compiling its training graph): what it does, in words. Step and total are then 0.
   */
  readonly preparing?: string;
}

export interface TrainingTurnEvents {
  /** The run stopped between units because generations are queued (`generations` of them). */
  readonly onYield?: (generations: number) => void;
  /** The generation queue is empty again; the run continues. */
  readonly onResume?: () => void;
}

export class EngineTurns {
  /** Generation jobs enqueued and not yet ended. */
  #generations = 0;
  #generationsDone: (() => void)[] = [];
  /** The training unit in progress: its run's position and what resolves when it ends. */
  #unit: { readonly turn: TrainingTurn; readonly ended: Promise<void> } | undefined;
  /** The run waiting for its turn, while it waits. */
  #waiting: TrainingTurn | undefined;

  /** Generation jobs queued or running. */
  get generations(): number {
    return this.#generations;
  }

  /** The training unit that runs now, if any. */
  get training(): TrainingTurn | undefined {
    return this.#unit?.turn;
  }

  /** A run that holds the engine or is paused for generations (the Generate screen shows it). */
  get trainingRun(): TrainingTurn | undefined {
    return this.#unit?.turn ?? this.#waiting;
  }

  /**
   * A generation job was enqueued: from now on a training run starts no new unit until every such job
   * has ended. Returns the function to call when the job ends (however); calling it twice is harmless.
   */
  generationQueued(): () => void {
    this.#generations++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#generations--;
      if (this.#generations === 0) {
        const waiters = this.#generationsDone;
        this.#generationsDone = [];
        for (const resolve of waiters) resolve();
      }
    };
  }

  /**
   * Before a generation job computes anything: resolves when no training unit runs (at once when none
   * does). `onWait` hears the run's position first when the job has to wait. Rejects with a
   * CancelledError when the job is cancelled while it waits.
   */
  async generationTurn(signal: AbortSignal, onWait: (training: TrainingTurn) => void): Promise<void> {
    while (this.#unit) {
      onWait(this.#unit.turn);
      await untilOrAborted(this.#unit.ended, signal);
    }
  }

  /**
   * Runs one unit of a training run's work when it is the run's turn: at once when no generation is
   * queued, else after the generation queue has emptied (events.onYield, then onResume). Rejects with a
   * CancelledError, without running `work`, when the run is paused while it waits.
   */
  async trainingUnit<T>(turn: TrainingTurn, signal: AbortSignal | undefined, work: () => Promise<T>, events: TrainingTurnEvents = {}): Promise<T> {
    if (this.#unit) throw new Error('EngineTurns: one training unit at a time');
    if (this.#generations > 0) {
      this.#waiting = turn;
      events.onYield?.(this.#generations);
      try {
        while (this.#generations > 0) await untilOrAborted(new Promise<void>((resolve) => this.#generationsDone.push(resolve)), signal);
      } finally {
        this.#waiting = undefined;
      }
      events.onResume?.();
    }
    if (signal?.aborted) throw new CancelledError();
    let end!: () => void;
    this.#unit = { turn, ended: new Promise<void>((resolve) => (end = resolve)) };
    try {
      return await work();
    } finally {
      this.#unit = undefined;
      end();
    }
  }
}

/** Resolves with `promise`, or rejects with a CancelledError as soon as `signal` aborts. */
function untilOrAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new CancelledError());
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(new CancelledError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
