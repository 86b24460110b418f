// The desktop app: main/preload.ts exposes `window.afa` (an AfaBridge) — already a transport.
import type { AfaBridge, ImageRef } from '../../app/api/contract.ts';
import type { Host } from './host.ts';

declare global {
  interface Window {
    readonly afa?: AfaBridge;
  }
}

export function createDesktopHost(bridge: AfaBridge): Host {
  return {
    kind: 'desktop',
    // main/image-protocol.ts serves `afa-image://studio/<path below the data directory>`.
    imageUrl: (image: ImageRef) => `afa-image://studio/${image.path.split('/').map(encodeURIComponent).join('/')}`,
    downloadUrl: () => undefined,
    async sourceForFile(file) {
      return { kind: 'path', path: bridge.pathForFile(file) };
    },
    pickDirectory: () => bridge.pickDirectory(),
  };
}
