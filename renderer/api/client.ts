// Turns a transport into the typed StudioApi: `api.models.list()` becomes invoke('models.list'),
// `api.generation.onDidProgress(fn)` becomes subscribe('generation.onDidProgress', fn). Built on
// Proxies, so the renderer needs no runtime list of the contract's names (it may import only types).
import type { ApiEventName, ApiMethodName, ApiTransport, Listener, StudioApi } from '../../app/api/contract.ts';
import { ApiError } from './api-error.ts';

export function createApiClient(transport: ApiTransport): StudioApi {
  const services = new Map<string, object>();
  const serviceProxy = (service: string): object =>
    new Proxy(
      {},
      {
        get(_target, member) {
          if (typeof member !== 'string') return undefined;
          const name = `${service}.${member}`;
          if (member.startsWith('onDid')) {
            return (listener: Listener<unknown>) => transport.subscribe(name as ApiEventName, listener);
          }
          return async (request?: unknown) => {
            const result = await transport.invoke(name as ApiMethodName, request as never);
            if (!result.ok) throw new ApiError(result.error);
            return result.value;
          };
        },
      },
    );
  return new Proxy({} as StudioApi, {
    get(_target, service) {
      if (typeof service !== 'string') return undefined;
      let proxy = services.get(service);
      if (!proxy) {
        proxy = serviceProxy(service);
        services.set(service, proxy);
      }
      return proxy;
    },
  });
}
