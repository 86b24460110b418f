// Messages between the Electron main process and the engine process (main/engine-process.ts).
import type { ApiEventName, ApiResult } from '../app/api/contract.ts';

export interface EngineConfig {
  /** The studio home (data directory). */
  readonly home: string;
  /** Settings file, kept in Electron's userData so the data directory itself can move. */
  readonly settingsFile: string;
  readonly version: string;
}

export type ToEngine =
  | { readonly type: 'start'; readonly config: EngineConfig }
  | { readonly type: 'invoke'; readonly id: number; readonly method: string; readonly request: unknown };

export type FromEngine =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly id: number; readonly result: ApiResult<unknown> }
  | { readonly type: 'event'; readonly event: ApiEventName; readonly payload: unknown };

/** The engine process as the host sees it, whatever starts it (Electron's utilityProcess, or Node in tests). */
export interface EngineChild {
  postMessage(message: ToEngine): void;
  onMessage(listener: (message: FromEngine) => void): void;
  /** Called once when the process ends, with its exit code (non-zero or a signal: it crashed). */
  onExit(listener: (code: number) => void): void;
  kill(): void;
}

/** The engine's end of the channel. */
export interface EnginePort {
  postMessage(message: FromEngine): void;
  onMessage(listener: (message: ToEngine) => void): void;
}
