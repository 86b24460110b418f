#!/usr/bin/env node
// The `afa` command (package.json "bin"). The CLI is TypeScript run in place: tsx's loader is registered
// first, then app/cli/main.ts does the rest (`afa --help`). On Linux the commands that run models are
// run again in a child started with the engine's malloc settings (app/cli/engine-relaunch.ts).
import { register } from 'tsx/esm/api';

register();
const { engineRelaunchEnvironment, runRelaunched } = await import('../app/cli/engine-relaunch.ts');
const argv = process.argv.slice(2);
const relaunchEnv = engineRelaunchEnvironment(argv, process.env);
// A child that cannot be started (no memory for another process, say) leaves the command to this one.
let status = relaunchEnv ? await runRelaunched(process.execPath, [...process.execArgv, ...process.argv.slice(1)], relaunchEnv).catch(() => undefined) : undefined;
if (status === undefined) {
  const { runCli } = await import('../app/cli/main.ts');
  const { processIo } = await import('../app/cli/cli-io.ts');
  status = await runCli(argv, processIo());
}
process.exitCode = status;
