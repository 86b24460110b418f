#!/usr/bin/env node
// The `afa` command (package.json "bin"). The CLI is TypeScript run in place: tsx's loader is registered
// first, then app/cli/main.ts does the rest (`afa --help`).
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../app/cli/main.ts');
const { processIo } = await import('../app/cli/cli-io.ts');
process.exitCode = await runCli(process.argv.slice(2), processIo());
