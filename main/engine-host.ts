// The main process's handle on the engine process: forwards API calls and events, and when the engine
// dies (a native crash, out of memory) fails the calls in flight with 'engine-crashed', tells the windows
// and starts a fresh engine — up to a few times a minute, so a crash loop ends in a clear error.
import type { ApiErrorData, ApiEventName, ApiResult } from '../app/api/contract.ts';
import type { EngineChild, EngineConfig, FromEngine } from './engine-messages.ts';

export interface EngineHostOptions {
  readonly spawn: () => EngineChild;
  readonly config: EngineConfig;
  readonly onEvent: (event: ApiEventName, payload: unknown) => void;
  /** The engine stopped unexpectedly; `restarting` is false when it crashed too often to try again. */
  readonly onCrash: (reason: string, restarting: boolean) => void;
  /** Restarts allowed within `crashWindowMs` before giving up (default 3 per 60 s). */
  readonly maxRestarts?: number;
  readonly crashWindowMs?: number;
}

type Pending = { readonly resolve: (result: ApiResult<unknown>) => void };

export class EngineHost {
  readonly #options: EngineHostOptions;
  #child: EngineChild | undefined;
  #ready = false;
  #stopped = false;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  /** Calls made while the engine is (re)starting, sent once it is ready. */
  #waiting: { id: number; method: string; request: unknown }[] = [];
  #crashes: number[] = [];

  constructor(options: EngineHostOptions) {
    this.#options = options;
  }

  start(): void {
    const child = this.#options.spawn();
    this.#child = child;
    this.#ready = false;
    child.onMessage((message) => this.#receive(message));
    child.onExit((code) => this.#exited(child, code));
    child.postMessage({ type: 'start', config: this.#options.config });
  }

  invoke(method: string, request: unknown): Promise<ApiResult<unknown>> {
    if (this.#stopped) return Promise.resolve(failure('unavailable', 'The engine is stopped.'));
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, { resolve });
      if (this.#ready) this.#child!.postMessage({ type: 'invoke', id, method, request });
      else this.#waiting.push({ id, method, request });
    });
  }

  /** Stops the engine for good (app quit). */
  stop(): void {
    this.#stopped = true;
    this.#child?.kill();
    this.#failPending('unavailable', 'The studio is closing.');
  }

  #receive(message: FromEngine): void {
    switch (message.type) {
      case 'ready': {
        this.#ready = true;
        const waiting = this.#waiting;
        this.#waiting = [];
        for (const call of waiting) this.#child!.postMessage({ type: 'invoke', ...call });
        return;
      }
      case 'result': {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        pending?.resolve(message.result);
        return;
      }
      case 'event':
        this.#options.onEvent(message.event, message.payload);
    }
  }

  #exited(child: EngineChild, code: number): void {
    if (child !== this.#child || this.#stopped) return;
    this.#child = undefined;
    this.#ready = false;
    const now = Date.now();
    const window = this.#options.crashWindowMs ?? 60_000;
    this.#crashes = [...this.#crashes.filter((time) => now - time < window), now];
    const restarting = this.#crashes.length <= (this.#options.maxRestarts ?? 3);
    const reason = `The engine process stopped unexpectedly (exit code ${code}).`;
    this.#failPending('engine-crashed', `${reason} ${restarting ? 'It has been restarted; try again.' : 'It crashed repeatedly and was not restarted.'}`);
    this.#options.onCrash(reason, restarting);
    if (restarting) this.start();
    else this.#stopped = true;
  }

  #failPending(code: ApiErrorData['code'], message: string): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#waiting = [];
    for (const call of pending) call.resolve(failure(code, message));
  }
}

function failure(code: ApiErrorData['code'], message: string): ApiResult<never> {
  return { ok: false, error: { name: 'ApiError', code, message } };
}
