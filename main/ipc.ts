// The only file of the main process that touches ipcMain: the window's API calls go to the engine
// process (after checking that they come from the studio's own page and name a method of the contract),
// and the engine's events go to every window. The request itself is validated in the engine.
import { BrowserWindow, dialog, ipcMain, type IpcMainInvokeEvent } from 'electron';
import type { ApiEventName, ApiResult } from '../app/api/contract.ts';
import { isApiMethodName } from '../app/api/validate.ts';
import type { ApiDispatcher } from '../app/api/dispatch.ts';
import { appOrigin } from './protocols.ts';

export const invokeChannel = 'afa:invoke';
export const eventChannel = 'afa:event';
export const pickDirectoryChannel = 'afa:pick-directory';

function fromStudio(event: IpcMainInvokeEvent): boolean {
  const url = event.senderFrame?.url ?? '';
  return url === appOrigin || url.startsWith(`${appOrigin}/`);
}

function refused(message: string): ApiResult<never> {
  return { ok: false, error: { name: 'ApiError', code: 'forbidden', message } };
}

export function wireIpc(engine: ApiDispatcher): void {
  ipcMain.handle(invokeChannel, async (event, method: unknown, request: unknown): Promise<ApiResult<unknown>> => {
    if (!fromStudio(event)) return refused('Only the studio’s own page may call the API.');
    if (typeof method !== 'string' || !isApiMethodName(method)) {
      return { ok: false, error: { name: 'ApiError', code: 'unknown-method', message: `No API method '${String(method)}'.` } };
    }
    return engine.invoke(method, request);
  });
  ipcMain.handle(pickDirectoryChannel, async (event): Promise<string | null> => {
    if (!fromStudio(event)) return null;
    const window = BrowserWindow.fromWebContents(event.sender);
    const options = { properties: ['openDirectory', 'createDirectory'] as ('openDirectory' | 'createDirectory')[] };
    const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });
}

export function broadcastEvent(event: ApiEventName, payload: unknown): void {
  for (const window of BrowserWindow.getAllWindows()) {
    if (!window.isDestroyed()) window.webContents.send(eventChannel, event, payload);
  }
}
