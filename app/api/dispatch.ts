// Generic glue between a transport and the services: calls a method by name with a validated request and
// wraps the outcome as an ApiResult; forwards every event by name. Web mode (app/server) and the desktop
// engine process (main/engine-process.ts) both use it, so they cannot drift apart.
import { toErrorData } from './api-error.ts';
import type { ApiEventName, ApiResult, StudioApi, Unsubscribe } from './contract.ts';
import { apiEventNames } from './event-names.ts';
import { validateRequest } from './validate.ts';

export type EventSink = (event: ApiEventName, payload: unknown) => void;

export interface ApiDispatcher {
  /** Never rejects: failures come back as `{ ok: false, error }`. */
  invoke(method: string, request: unknown): Promise<ApiResult<unknown>>;
  /** Receives every event of every service. */
  subscribeAll(sink: EventSink): Unsubscribe;
}

type Callable = (request?: unknown) => Promise<unknown>;
type Subscribable = (listener: (payload: unknown) => void) => Unsubscribe;

function member(api: StudioApi, name: string): { target: object; key: string } {
  const dot = name.indexOf('.');
  const service = name.slice(0, dot) as keyof StudioApi;
  return { target: api[service], key: name.slice(dot + 1) };
}

export function createDispatcher(api: StudioApi, options: { onInternalError?: (method: string, error: unknown) => void } = {}): ApiDispatcher {
  return {
    async invoke(method, request) {
      try {
        const valid = validateRequest(method, request);
        const { target, key } = member(api, method);
        const call = (target as Record<string, Callable>)[key];
        const value = await call.call(target, valid);
        return { ok: true, value };
      } catch (error) {
        const data = toErrorData(error);
        if (data.code === 'internal') options.onInternalError?.(method, error);
        return { ok: false, error: data };
      }
    },
    subscribeAll(sink) {
      const unsubscribes = apiEventNames.map((event) => {
        const { target, key } = member(api, event);
        const subscribe = (target as Record<string, Subscribable>)[key];
        return subscribe.call(target, (payload) => sink(event, payload));
      });
      return () => {
        for (const unsubscribe of unsubscribes) unsubscribe();
      };
    },
  };
}
