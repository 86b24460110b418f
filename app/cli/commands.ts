// The commands of `afa`, in the order `afa --help` lists them. A new command is a file exporting a
// CliCommand plus one line here (app/cli/README.md).
import type { CliCommand } from './cli-command.ts';
import { generateCommand } from './generate-command.ts';
import { importCommand } from './import-command.ts';
import { infoCommand } from './info-command.ts';
import { modelsCommand } from './models-command.ts';
import { serveEntry } from './serve-entry.ts';
import { ensembleCommand } from './ensemble-command.ts';
import { aggregatorsCommand } from './aggregators-command.ts';
import { mergeCommand } from './merge-command.ts';
import { trainCommand } from './train-command.ts';

export const COMMANDS: readonly CliCommand[] = [importCommand, modelsCommand, generateCommand, infoCommand, ensembleCommand, aggregatorsCommand, mergeCommand, trainCommand, serveEntry];
