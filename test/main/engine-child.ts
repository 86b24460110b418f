// A Node child process running the engine exactly as the Electron utility process does (main/engine-runner.ts),
// over Node's IPC channel instead of Electron's parentPort.
import type { ToEngine } from '../../main/engine-messages.ts';
import { runEngine } from '../../main/engine-runner.ts';

runEngine({
  postMessage: (message) => process.send!(message),
  onMessage: (listener) => process.on('message', (message) => listener(message as ToEngine)),
});
