// Electron main process: thin wiring. It picks the data directory, starts the engine in a utility
// process (app/server/engine-host.ts, the same host web mode uses), connects the window's API calls and
// events to it, and serves the UI and images through the studio's own schemes. Everything the studio
// does lives in app/ and runs in the engine process.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, utilityProcess } from 'electron';
import { defaultStudioHome } from '../app/common/paths.ts';
import { storedDataDirectory } from '../app/api/settings-service.ts';
import { demoPackDirectory } from '../app/demo/demo-pack-location.ts';
import { engineMemoryEnvironment } from '../app/runtime/engine-memory.ts';
import { EngineHost } from '../app/server/engine-host.ts';
import type { EngineChild, FromEngine } from '../app/server/engine-messages.ts';
import { engineEnvironment } from './engine-environment.ts';
import { broadcastEvent, wireIpc } from './ipc.ts';
import { installMenu } from './menu.ts';
import { handleAppScheme, handleImageScheme, registerSchemes } from './protocols.ts';
import { createStudioWindow, lockDownSessions } from './window.ts';

// dist/main/ holds main.cjs, preload.cjs and engine-process.cjs; the UI is built into dist/renderer.
const here = fileURLToPath(new URL('.', import.meta.url));

function spawnEngine(env: NodeJS.ProcessEnv): EngineChild {
  const child = utilityProcess.fork(join(here, 'engine-process.cjs'), [], { serviceName: 'AFA Studio engine', stdio: 'inherit', env });
  let alive = true;
  child.once('exit', () => (alive = false));
  return {
    // A message to an engine that just died is dropped; the host learns of the death from 'exit'.
    postMessage: (message) => void (alive && child.postMessage(message)),
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
  const environment = engineEnvironment(process.env, {
    packaged: app.isPackaged,
    appPath: app.getAppPath(),
    electron: process.versions.electron,
    platform: process.platform,
    arch: process.arch,
  });
  if (environment.warning) console.warn(environment.warning);
  const engine = new EngineHost({
    spawn: () => spawnEngine(engineMemoryEnvironment(environment.env)),
    // The demo pack ships with the app (demo/pack, unpacked from app.asar); set up on a new home.
    config: { home, settingsFile, version: app.getVersion(), demoPack: demoPackDirectory(process.env) },
    onCrash: (reason, restarting) => console.error(`${reason}${restarting ? ' Restarting it.' : ''}`),
  });
  engine.subscribeAll(broadcastEvent);
  // A failure to start (a database from a newer version, ...) also answers every call, so the window shows it.
  engine.start().catch((error: unknown) => console.error('The engine did not start:', error instanceof Error ? error.message : error));
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
  // Let the engine cancel its jobs and close the library before the app goes (stop() kills it after 10 s).
  let engineStopped = false;
  app.on('before-quit', (event) => {
    if (engineStopped) return;
    event.preventDefault();
    void engine.stop().finally(() => {
      engineStopped = true;
      app.quit();
    });
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
