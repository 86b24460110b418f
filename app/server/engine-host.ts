// A host's handle on its engine process (app/server/engine-messages.ts), used by both hosts: the desktop
// app's main process and web mode's server. It is an ApiDispatcher, so a transport cannot tell it from
// services running in-process. When the engine dies (a native crash, out of memory) it fails the calls in
// flight with 'engine-crashed', tells every client (system.onDidEngineRestart) and starts a fresh engine
// — up to a few times a minute, so a crash loop ends in a clear error instead of spinning.
import { ApiError } from '../api/api-error.ts';
import type { ApiErrorData, ApiEventName, ApiResult, Unsubscribe } from '../api/contract.ts';
import type { ApiDispatcher, EventSink } from '../api/dispatch.ts';
import type { EngineChild, EngineConfig, FromEngine } from './engine-messages.ts';

export interface EngineHostOptions {
  readonly spawn: () => EngineChild;
  readonly config: EngineConfig;
  /** Told of every crash, for the log; clients hear of it through system.onDidEngineRestart. */
  readonly onCrash?: (reason: string, restarting: boolean) => void;
  /** Restarts allowed within `crashWindowMs` before giving up (default 3 per 60 s). */
  readonly maxRestarts?: number;
  readonly crashWindowMs?: number;
  /** How long stop() lets the engine cancel its jobs and close the library before killing it (default 10 s). */
  readonly stopTimeoutMs?: number;
}

type Pending = (result: ApiResult<unknown>) => void;

interface Launch {
  readonly child: EngineChild;
  readonly exited: Promise<void>;
}

export class EngineHost implements ApiDispatcher {
  readonly #options: EngineHostOptions;
  #launch: Launch | undefined;
  #ready = false;
  /** Set once calls can no longer succeed (stopped, failed to start, crashed too often); every call answers it. */
  #closed: ApiErrorData | undefined;
  #stopping: Promise<void> | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  /** Calls made while the engine is (re)starting, sent once it is ready. */
  #waiting: { id: number; method: string; request: unknown }[] = [];
  #crashes: number[] = [];
  readonly #sinks = new Set<EventSink>();
  #starters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  constructor(options: EngineHostOptions) {
    this.#options = options;
  }

  /** Starts the engine; resolves once its services are up, rejects (ApiError) when they cannot start. */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(ApiError.from(this.#closed));
    const started = new Promise<void>((resolve, reject) => this.#starters.push({ resolve, reject }));
    if (!this.#launch) this.#spawn();
    else if (this.#ready) this.#settleStarters();
    return started;
  }

  invoke(method: string, request: unknown): Promise<ApiResult<unknown>> {
    if (this.#closed) return Promise.resolve({ ok: false, error: this.#closed });
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      if (this.#ready) this.#launch!.child.postMessage({ type: 'invoke', id, method, request });
      else this.#waiting.push({ id, method, request });
    });
  }

  subscribeAll(sink: EventSink): Unsubscribe {
    this.#sinks.add(sink);
    return () => {
      this.#sinks.delete(sink);
    };
  }

  /** Stops the engine for good: it finishes cleanly (jobs cancelled, library closed), or is killed after stopTimeoutMs. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#close(apiError('unavailable', 'The studio is closing.'));
    const launch = this.#launch;
    this.#launch = undefined;
    if (!launch) return;
    const timer = setTimeout(() => launch.child.kill(), this.#options.stopTimeoutMs ?? 10_000);
    launch.child.postMessage({ type: 'stop' });
    await launch.exited;
    clearTimeout(timer);
  }

  #spawn(): void {
    const child = this.#options.spawn();
    let exit!: () => void;
    const launch: Launch = { child, exited: new Promise((resolve) => (exit = resolve)) };
    this.#launch = launch;
    this.#ready = false;
    child.onMessage((message) => {
      if (this.#launch === launch) this.#receive(launch, message);
    });
    child.onExit((code) => {
      exit();
      if (this.#launch === launch) this.#crashed(code);
    });
    child.postMessage({ type: 'start', config: this.#options.config });
  }

  #receive(launch: Launch, message: FromEngine): void {
    switch (message.type) {
      case 'ready': {
        this.#ready = true;
        const waiting = this.#waiting;
        this.#waiting = [];
        for (const call of waiting) launch.child.postMessage({ type: 'invoke', ...call });
        this.#settleStarters();
        return;
      }
      case 'failed':
        // Starting again would fail the same way (a newer database, an addon for another ABI).
        this.#launch = undefined;
        launch.child.kill();
        this.#close(message.error);
        return;
      case 'result': {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        pending?.(message.result);
        return;
      }
      case 'event':
        this.#emit(message.event, message.payload);
    }
  }

  #crashed(code: number): void {
    this.#launch = undefined;
    this.#ready = false;
    const now = Date.now();
    const window = this.#options.crashWindowMs ?? 60_000;
    this.#crashes = [...this.#crashes.filter((time) => now - time < window), now];
    const restarting = this.#crashes.length <= (this.#options.maxRestarts ?? 3);
    const reason = `The engine process stopped unexpectedly (exit code ${code}).`;
    const outcome = restarting ? 'It has been restarted; try again.' : 'It crashed repeatedly and was not restarted; restart the studio.';
    this.#failPending(apiError('engine-crashed', `${reason} ${outcome}`));
    this.#options.onCrash?.(reason, restarting);
    this.#emit('system.onDidEngineRestart', { reason: restarting ? reason : `${reason} ${outcome}` });
    if (restarting) this.#spawn();
    else this.#close(apiError('unavailable', `${reason} ${outcome}`));
  }

  #emit(event: ApiEventName, payload: unknown): void {
    for (const sink of [...this.#sinks]) sink(event, payload);
  }

  #settleStarters(error?: ApiErrorData): void {
    const starters = this.#starters;
    this.#starters = [];
    for (const starter of starters) {
      if (error) starter.reject(ApiError.from(error));
      else starter.resolve();
    }
  }

  #close(error: ApiErrorData): void {
    this.#closed ??= error;
    this.#ready = false;
    this.#failPending(error);
    this.#settleStarters(error);
  }

  #failPending(error: ApiErrorData): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#waiting = [];
    for (const resolve of pending) resolve({ ok: false, error });
  }
}

function apiError(code: ApiErrorData['code'], message: string): ApiErrorData {
  return { name: 'ApiError', code, message };
}
