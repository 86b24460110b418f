// `afa generate` and `afa train` run onnxruntime in the CLI's own process, and the engine's malloc
// tunables (runtime/engine-memory.ts) are read by glibc only when a process starts. So on Linux bin/afa.js
// runs those two commands again in a child process started with the tunables, and only waits for it:
// the child inherits the terminal (same streams, same process group, so a terminal's Ctrl+C reaches it
// directly), the parent passes on the signals sent to it alone (`kill`, a supervisor), and exits with
// the child's status. The child's environment says it was relaunched (RELAUNCHED), so it runs the
// command itself: glibc 2.36 rewrites GLIBC_TUNABLES in place at start and leaves only its first entry
// visible, so the tunables themselves cannot say it. A user who set both tunables is not relaunched
// either; AFA_MALLOC_TUNING=0 turns the relaunch off with the tunables.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { engineMemoryEnvironment } from '../runtime/engine-memory.ts';

/** Set in the relaunched child's environment. */
export const RELAUNCHED = 'AFA_ENGINE_RELAUNCHED';

/** The commands whose process runs models. */
export const ENGINE_COMMANDS: readonly string[] = ['generate', 'train'];

/** Signals passed on to the child; a terminal's Ctrl+C reaches it directly as well (cli-io.ts counts the two as one press). */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * The environment to relaunch `afa <argv…>` with, or undefined when this process should run the
 * command itself: not an engine command, help only, not Linux, tuning turned off, the relaunched child
 * itself, or tunables the user set.
 */
export function engineRelaunchEnvironment(argv: readonly string[], env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): NodeJS.ProcessEnv | undefined {
  const [name, ...rest] = argv;
  if (name === undefined || !ENGINE_COMMANDS.includes(name) || rest.includes('--help') || rest.includes('-h') || env[RELAUNCHED] === '1') return undefined;
  const tuned = engineMemoryEnvironment(env, platform);
  return tuned === env ? undefined : { ...tuned, [RELAUNCHED]: '1' };
}

/**
 * Runs `command args…` with `env` and the parent's streams, passing on the signals this process gets,
 * and resolves with its exit status (128 + the signal's number when a signal ended it, as a shell says).
 */
export function runRelaunched(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', env });
    const forward = (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    for (const signal of FORWARDED) process.on(signal, forward);
    const done = () => {
      for (const signal of FORWARDED) process.off(signal, forward);
    };
    child.once('error', (error) => {
      done();
      reject(error);
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
