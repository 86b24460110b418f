// What runs inside the engine process: the studio's services behind the generic dispatcher, talking to
// the host over a message port. Independent of the process kind, so Electron's utility process
// (main/engine-process.ts) and web mode's Node process (engine-node-process.ts) run exactly this.
import { toErrorData } from '../api/api-error.ts';
import type { ApiResult } from '../api/contract.ts';
import { createDispatcher, type ApiDispatcher } from '../api/dispatch.ts';
import { createStudioServices, type StudioServices } from '../api/services.ts';
import type { EnginePort } from './engine-messages.ts';

export interface RunningEngine {
  /** Same as a 'stop' message: cancel jobs, close the library, exit. For a host that went away. */
  stop(): void;
}

const notStarted: ApiResult<never> = { ok: false, error: { name: 'ApiError', code: 'unavailable', message: 'The engine has not started yet.' } };
const stopping: ApiResult<never> = { ok: false, error: { name: 'ApiError', code: 'unavailable', message: 'The engine is stopping.' } };

export function runEngine(port: EnginePort): RunningEngine {
  let services: StudioServices | undefined;
  let dispatcher: ApiDispatcher | undefined;
  let stopped = false;

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    const current = services;
    services = undefined;
    dispatcher = undefined;
    void Promise.resolve(current?.dispose())
      .catch((error: unknown) => console.error('[engine] stopping:', error))
      .finally(() => port.exit(0));
  };

  port.onMessage((message) => {
    switch (message.type) {
      case 'start': {
        if (services || stopped) return;
        try {
          services = createStudioServices(message.config);
        } catch (error) {
          const data = toErrorData(error);
          // A bug or a broken install deserves its stack; a user's situation (a newer database) its message.
          console.error('[engine] the services did not start:', data.code === 'internal' ? error : data.message);
          port.postMessage({ type: 'failed', error: data });
          return;
        }
        dispatcher = createDispatcher(services, { onInternalError: (method, error) => console.error(`[engine] ${method}:`, error) });
        dispatcher.subscribeAll((event, payload) => port.postMessage({ type: 'event', event, payload }));
        port.postMessage({ type: 'ready' });
        return;
      }
      case 'invoke': {
        const { id, method, request } = message;
        if (!dispatcher) {
          port.postMessage({ type: 'result', id, result: stopped ? stopping : notStarted });
          return;
        }
        void dispatcher.invoke(method, request).then((result) => port.postMessage({ type: 'result', id, result }));
        return;
      }
      case 'stop':
        stop();
    }
  });
  return { stop };
}
