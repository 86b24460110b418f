// Entry point of the engine's Electron utility process (utilityProcess.fork): inference and imports run
// here, so the window never freezes on a U-Net step and an engine crash cannot take the app down. The
// engine itself is app/server/engine-runner.ts, which web mode runs in a Node process too.
/// <reference types="electron" />
import type { ToEngine } from '../app/server/engine-messages.ts';
import { runEngine } from '../app/server/engine-runner.ts';

const parent = process.parentPort;
runEngine({
  postMessage: (message) => parent.postMessage(message),
  onMessage: (listener) => parent.on('message', (event: Electron.MessageEvent) => listener(event.data as ToEngine)),
  exit: (code) => process.exit(code),
});
