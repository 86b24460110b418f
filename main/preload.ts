// The preload of the studio window (sandboxed, context-isolated): exposes `window.afa`, the typed API
// transport and nothing else — no ipcRenderer, no Node. Bundled to CommonJS by scripts/build-main.ts,
// since a sandboxed preload can only require 'electron'.
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import type { AfaBridge, ApiResult } from '../app/api/contract.ts';

// Kept in step with main/ipc.ts (not imported: the preload bundle stays free of main-process code).
const invokeChannel = 'afa:invoke';
const eventChannel = 'afa:event';
const pickDirectoryChannel = 'afa:pick-directory';

const listeners = new Map<string, Set<(payload: unknown) => void>>();
ipcRenderer.on(eventChannel, (_event, name: string, payload: unknown) => {
  for (const listener of [...(listeners.get(name) ?? [])]) listener(payload);
});

const bridge: AfaBridge = {
  invoke: (method, request) => ipcRenderer.invoke(invokeChannel, method, request) as Promise<ApiResult<never>>,
  subscribe(event, listener) {
    let set = listeners.get(event);
    if (!set) {
      set = new Set();
      listeners.set(event, set);
    }
    const entry = (payload: unknown) => (listener as (payload: unknown) => void)(payload);
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  },
  pathForFile: (file) => webUtils.getPathForFile(file),
  pickDirectory: () => ipcRenderer.invoke(pickDirectoryChannel) as Promise<string | null>,
};

contextBridge.exposeInMainWorld('afa', bridge);
