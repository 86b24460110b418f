// Starts web mode's engine process (engine-node-process.ts) with Node's fork: a separate process, as the
// desktop app's utility process is, rather than a worker thread. A native crash or an out-of-memory
// abort in onnxruntime ends only that process (a worker thread would take the server down with it), the
// host sees an exit code and restarts it, and the engine's synchronous runs have a main thread of their
// own. `serialization: 'advanced'` is the structured clone Electron's MessagePort uses, so messages
// cross both channels alike.
import { fork } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { engineMemoryEnvironment } from '../runtime/engine-memory.ts';
import type { EngineChild, FromEngine } from './engine-messages.ts';

const entry = fileURLToPath(new URL('./engine-node-process.ts', import.meta.url));

/** Node's flags for the engine: run from the TypeScript sources, it needs tsx's loader (found from this file, not the working directory). */
export function engineExecArgv(entryFile: string = entry): string[] {
  return entryFile.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
}

export interface ForkEngineOptions {
  /** The engine's environment; default this process's. glibc's malloc tunables are added on Linux (engine-memory.ts). */
  readonly env?: NodeJS.ProcessEnv;
}

export function forkEngine(options: ForkEngineOptions = {}): EngineChild {
  const child = fork(entry, [], {
    execArgv: engineExecArgv(),
    env: engineMemoryEnvironment(options.env ?? process.env),
    serialization: 'advanced',
    // The engine's log lines (internal errors) go where the server's go; it never reads the terminal.
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // Sending to a process that just died reports an 'error' event; the host learns of the death from 'exit'.
  child.on('error', () => undefined);
  return {
    postMessage: (message) => void (child.connected && child.send(message, undefined, undefined, () => undefined)),
    onMessage: (listener) => child.on('message', (message) => listener(message as FromEngine)),
    onExit: (listener) => child.once('exit', (code, signal) => listener(code ?? 128 + (signal ? constants.signals[signal] : 0))),
    kill: () => void child.kill('SIGKILL'),
  };
}
