// The commands of `afa`, in the order `afa --help` lists them. A new command is a file exporting a
// CliCommand plus one line here (app/cli/README.md).
import type { CliCommand } from './cli-command.ts';
import { generateCommand } from './generate-command.ts';
import { importCommand } from './import-command.ts';
import { modelsCommand } from './models-command.ts';
import { serveEntry } from './serve-entry.ts';

export const COMMANDS: readonly CliCommand[] = [importCommand, modelsCommand, generateCommand, serveEntry];
