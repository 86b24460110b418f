// Entry point of web mode's engine process, forked by fork-engine.ts: the same engine as the desktop
// app's utility process (engine-runner.ts), over Node's IPC channel instead of Electron's parentPort.
// onnxruntime's session runs are synchronous on this process's main thread; here they cannot hold up
// the server's HTTP and WebSocket traffic.
import type { ToEngine } from './engine-messages.ts';
import { runEngine } from './engine-runner.ts';

const engine = runEngine({
  // After the server went away the channel is closed and there is nobody left to tell; the callback keeps
  // a send that fails anyway (the channel closing meanwhile) from becoming an 'error' event on process,
  // which nothing listens to and which would end the engine.
  postMessage: (message) => void (process.connected && process.send!(message, undefined, undefined, () => undefined)),
  onMessage: (listener) => process.on('message', (message) => listener(message as ToEngine)),
  exit: (code) => process.exit(code),
});

// Ctrl+C in a terminal signals the whole process group; the server then stops the engine itself
// ('stop': jobs cancelled, library closed), so the engine must not die first and look like a crash.
process.on('SIGINT', () => undefined);
// The server died without stopping us (killed): finish cleanly and exit rather than linger.
process.on('disconnect', () => engine.stop());
