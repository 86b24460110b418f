// `afa models`: the imported models (the model store of the studio home), newest first.
import { existsSync } from 'node:fs';
import { listStoredModels, type ModelManifest } from '../checkpoints/model-store.ts';
import { studioPaths } from '../common/paths.ts';
import { Library } from '../library/library.ts';
import type { CliCommand } from './cli-command.ts';
import { EXIT_OK } from './exit-codes.ts';
import { formatBytes } from './progress-reporter.ts';

export function modelJson(model: ModelManifest, demo = false) {
  return {
    id: model.id,
    name: model.name,
    shortHash: model.shortHash,
    architecture: model.architecture,
    prediction: model.prediction,
    precision: model.precision,
    sourcePrecision: model.sourcePrecision,
    sourceFormat: model.sourceFormat,
    sourcePath: model.sourcePath,
    tokenizer: model.tokenizer,
    sizeBytes: model.sizeBytes,
    importedAt: model.importedAt,
    /** One of the built-in demo's models (app/demo). */
    demo,
  };
}

/** Ids of the demo's models on this home; nothing when the home has no library yet. */
function demoModelIds(home: string): ReadonlySet<string> {
  if (!existsSync(studioPaths(home).database)) return new Set();
  const library = Library.open({ home });
  try {
    return library.demoItems.installed('model');
  } finally {
    library.close();
  }
}

export const modelsCommand: CliCommand = {
  name: 'models',
  summary: 'List the imported models and their ids',
  usage: 'afa models [options]',
  description: [
    'Lists the checkpoints imported into the studio home, newest first. Pass a model to',
    '`afa generate --model` by its id, by the first 6 or more characters of it, or by its name.',
    'The built-in demo models (set up on a new home) are marked [demo].',
  ].join('\n'),
  setsUpDemo: true,
  options: [],
  examples: ['afa models', 'afa models --json | jq -r ".models[].id"'],
  async run(_args, context) {
    const models = listStoredModels(context.home).sort((a, b) => b.importedAt.localeCompare(a.importedAt));
    const demo = demoModelIds(context.home);
    if (context.json) {
      context.io.stdout.write(`${JSON.stringify({ ok: true, models: models.map((model) => modelJson(model, demo.has(model.id))) }, null, 2)}\n`);
      return EXIT_OK;
    }
    if (models.length === 0) {
      context.io.stdout.write(`No models imported in ${context.home} yet. Import one with: afa import <checkpoint.safetensors | diffusers folder>\n`);
      return EXIT_OK;
    }
    const rows = models.map((model) => [model.id.slice(0, 12), `${model.name}${demo.has(model.id) ? ' [demo]' : ''}`, model.precision, formatBytes(model.sizeBytes), model.importedAt.slice(0, 10)]);
    const header = ['ID', 'NAME', 'PRECISION', 'SIZE', 'IMPORTED'];
    const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
    const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
    context.io.stdout.write(`${[line(header), ...rows.map(line)].join('\n')}\n`);
    return EXIT_OK;
  },
};
