// Picks the transport: the Electron bridge when the preload provided one, HTTP + WebSocket otherwise.
import type { StudioApi } from '../../app/api/contract.ts';
import { createApiClient } from './client.ts';
import { createDesktopHost } from './desktop-transport.ts';
import type { Host } from './host.ts';
import { createWebHost, createWebTransport } from './web-transport.ts';

export function connect(): { api: StudioApi; host: Host } {
  const bridge = window.afa;
  if (bridge) return { api: createApiClient(bridge), host: createDesktopHost(bridge) };
  const transport = createWebTransport();
  return { api: createApiClient(transport), host: createWebHost(transport.connection) };
}
