// The protocol between a host and its engine process, the same for both hosts: the desktop app's main
// process (engine in an Electron utility process, main/engine-process.ts) and web mode's server (engine
// in a forked Node process, app/server/engine-node-process.ts). Messages are structured-cloned by both
// channels (Electron's MessagePort, Node's IPC with `serialization: 'advanced'`); payloads are the API
// contract's plain data.
import type { ApiErrorData, ApiEventName, ApiResult } from '../api/contract.ts';
import type { StudioServicesConfig } from '../api/services.ts';

/** What the engine starts its services with (app/api/services.ts). */
export type EngineConfig = StudioServicesConfig;

export type ToEngine =
  | { readonly type: 'start'; readonly config: EngineConfig }
  | { readonly type: 'invoke'; readonly id: number; readonly method: string; readonly request: unknown }
  /** Finish: cancel jobs, close the library, then exit. */
  | { readonly type: 'stop' };

export type FromEngine =
  | { readonly type: 'ready' }
  /** The services could not start (a database from a newer version, an addon that does not load, ...). */
  | { readonly type: 'failed'; readonly error: ApiErrorData }
  | { readonly type: 'result'; readonly id: number; readonly result: ApiResult<unknown> }
  | { readonly type: 'event'; readonly event: ApiEventName; readonly payload: unknown };

/** The engine process as the host sees it, whatever starts it (Electron's utilityProcess or Node's fork). */
export interface EngineChild {
  postMessage(message: ToEngine): void;
  onMessage(listener: (message: FromEngine) => void): void;
  /** Called once when the process ends, with its exit code (128 + n for signal n). */
  onExit(listener: (code: number) => void): void;
  /** Ends the process now. */
  kill(): void;
}

/** The engine's end of the channel. */
export interface EnginePort {
  postMessage(message: FromEngine): void;
  onMessage(listener: (message: ToEngine) => void): void;
  /** Ends the engine process (after a 'stop'). */
  exit(code: number): void;
}
