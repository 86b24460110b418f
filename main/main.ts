// Electron main process: thin wiring. It picks the data directory, starts the engine in a utility
// process, connects the window's API calls and events to it, and serves the UI and images through the
// studio's own schemes. Everything the studio does lives in app/ and runs in the engine process.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, utilityProcess } from 'electron';
import { defaultStudioHome } from '../app/common/paths.ts';
import { storedDataDirectory } from '../app/api/settings-service.ts';
import { EngineHost } from './engine-host.ts';
import type { EngineChild, FromEngine } from './engine-messages.ts';
import { broadcastEvent, wireIpc } from './ipc.ts';
import { installMenu } from './menu.ts';
import { handleAppScheme, handleImageScheme, registerSchemes } from './protocols.ts';
import { createStudioWindow, lockDownSessions } from './window.ts';

// dist/main/ holds main.cjs, preload.cjs and engine-process.cjs; the UI is built into dist/renderer.
const here = fileURLToPath(new URL('.', import.meta.url));

function spawnEngine(): EngineChild {
  const child = utilityProcess.fork(join(here, 'engine-process.cjs'), [], { serviceName: 'AFA Studio engine', stdio: 'inherit' });
  return {
    postMessage: (message) => child.postMessage(message),
    onMessage: (listener) => child.on('message', (message: FromEngine) => listener(message)),
    onExit: (listener) => child.once('exit', listener),
    kill: () => void child.kill(),
  };
}

registerSchemes();
if (!app.requestSingleInstanceLock()) app.quit();

app.whenReady().then(() => {
  const settingsFile = join(app.getPath('userData'), 'settings.json');
  const home = storedDataDirectory(settingsFile) ?? defaultStudioHome();
  lockDownSessions();
  handleAppScheme(join(here, '..', 'renderer'));
  handleImageScheme(home);
  const engine = new EngineHost({
    spawn: spawnEngine,
    config: { home, settingsFile, version: app.getVersion() },
    onEvent: broadcastEvent,
    onCrash: (reason, restarting) => broadcastEvent('system.onDidEngineRestart', { reason: restarting ? reason : `${reason} It crashed repeatedly; restart the studio.` }),
  });
  engine.start();
  wireIpc(engine);
  installMenu(home);
  const preload = join(here, 'preload.cjs');
  createStudioWindow(preload);
  app.on('second-instance', () => {
    const window = BrowserWindow.getAllWindows()[0];
    if (window?.isMinimized()) window.restore();
    window?.focus();
  });
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createStudioWindow(preload);
  });
  app.on('before-quit', () => engine.stop());
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
