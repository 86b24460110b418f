// What runs inside the engine process: the studio's services behind the generic dispatcher, talking to
// the main process over a message port. Independent of Electron, so a Node child process can run it too.
import { createDispatcher } from '../app/api/dispatch.ts';
import { createStudioServices, type StudioServices } from '../app/api/services.ts';
import type { EnginePort } from './engine-messages.ts';

export function runEngine(port: EnginePort): void {
  let services: StudioServices | undefined;
  let dispatcher: ReturnType<typeof createDispatcher> | undefined;
  port.onMessage((message) => {
    if (message.type === 'start') {
      if (services) return;
      services = createStudioServices({ home: message.config.home, settingsFile: message.config.settingsFile, version: message.config.version });
      dispatcher = createDispatcher(services, { onInternalError: (method, error) => console.error(`[engine] ${method}:`, error) });
      dispatcher.subscribeAll((event, payload) => port.postMessage({ type: 'event', event, payload }));
      port.postMessage({ type: 'ready' });
      return;
    }
    const { id, method, request } = message;
    if (!dispatcher) {
      port.postMessage({ type: 'result', id, result: { ok: false, error: { name: 'ApiError', code: 'unavailable', message: 'The engine has not started yet.' } } });
      return;
    }
    void dispatcher.invoke(method, request).then((result) => port.postMessage({ type: 'result', id, result }));
  });
}
