// `afa import <file|folder>`: converts checkpoints once into the studio's model store (app/checkpoints)
// and registers them in the library's catalog. A folder is either a diffusers pipeline folder (one
// model) or a folder of .safetensors checkpoints (each imported in turn).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { UserError } from '../common/errors.ts';
import type { Progress } from '../common/progress.ts';
import type { ComponentConfig, ComponentName, ConfigOverrides } from '../checkpoints/component-config.ts';
import { importCheckpoint, type ImportedModel } from '../checkpoints/import-checkpoint.ts';
import type { StoredPrecision } from '../checkpoints/model-store.ts';
import { isDiffusersFolder } from '../checkpoints/open-diffusers-folder.ts';
import { Library } from '../library/library.ts';
import type { CliCommand } from './cli-command.ts';
import { EXIT_OK } from './exit-codes.ts';
import { modelJson } from './models-command.ts';
import { formatBytes, progressModeOf, ProgressReporter } from './progress-reporter.ts';

const COMPONENT_FOLDERS: Readonly<Record<ComponentName, string>> = { unet: 'unet', textEncoder: 'text_encoder', vae: 'vae' };

const PHASE_LABELS: Readonly<Record<string, string>> = {
  hash: 'Hashing',
  convert: 'Converting weights',
  'hash-vae': 'Hashing the VAE',
  graphs: 'Writing graphs',
};

/** `<dir>/{unet,text_encoder,vae}/config.json`, those present (at least one). */
export function readConfigDirectory(directory: string): ConfigOverrides {
  const root = resolve(directory);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UserError('not-found', `--config-dir ${root} is not a folder.`);
  const overrides: Partial<Record<ComponentName, ComponentConfig>> = {};
  for (const [component, folder] of Object.entries(COMPONENT_FOLDERS) as [ComponentName, string][]) {
    const path = join(root, folder, 'config.json');
    if (!existsSync(path)) continue;
    try {
      overrides[component] = JSON.parse(readFileSync(path, 'utf8')) as ComponentConfig;
    } catch (error) {
      throw new UserError('corrupt-file', `${path} is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (Object.keys(overrides).length === 0) {
    throw new UserError('invalid-argument', `--config-dir ${root} has none of unet/config.json, text_encoder/config.json, vae/config.json.`, 'Point it at a diffusers-style folder of configs.');
  }
  return overrides;
}

/** The checkpoints a path names: itself (a file or a diffusers folder) or the .safetensors files in a folder. */
function sourcesOf(path: string): string[] {
  const absolute = resolve(path);
  if (!existsSync(absolute)) throw new UserError('not-found', `${absolute} does not exist.`, 'Check the path of the checkpoint.');
  if (!statSync(absolute).isDirectory() || isDiffusersFolder(absolute)) return [absolute];
  const files = readdirSync(absolute)
    .filter((name) => extname(name).toLowerCase() === '.safetensors')
    .sort()
    .map((name) => join(absolute, name));
  if (files.length === 0) {
    throw new UserError(
      'invalid-argument',
      `${absolute} is neither a diffusers model folder nor a folder of .safetensors checkpoints.`,
      'Point at a .safetensors file, a diffusers folder (with model_index.json), or a folder of .safetensors files.',
    );
  }
  return files;
}

function precisionOf(value: string | undefined): StoredPrecision | undefined {
  if (value === undefined || value === 'fp32' || value === 'fp16') return value;
  throw new UserError('invalid-argument', `--precision must be fp32 or fp16; got '${value}'.`);
}

export const importCommand: CliCommand = {
  name: 'import',
  summary: 'Import a checkpoint (.safetensors file, diffusers folder, or a folder of files)',
  usage: 'afa import <file|folder> [options]',
  description: [
    'Converts a Stable Diffusion 1.x checkpoint once into the studio’s model store (ONNX graphs next to the',
    'weights) and lists it in the library. Importing the same file again does nothing. Pickle files',
    '(.ckpt, .pt, .bin) are refused: they can run code; use the .safetensors version.',
    'A checkpoint that is not the standard SD1.5 size needs its configs: --config-dir <folder> with',
    'unet/config.json (and text_encoder/, vae/) as in a diffusers folder.',
  ].join('\n'),
  options: [
    { name: 'name', kind: 'string', value: '<text>', description: 'Display name (default: the file name)' },
    { name: 'config-dir', kind: 'string', value: '<folder>', description: 'Folder with unet/, text_encoder/, vae/ config.json for non-SD1.5 architectures (and tokenizer/ when the checkpoint needs its own)' },
    { name: 'precision', kind: 'string', value: 'fp32|fp16', description: 'Stored precision (default: fp16 for fp16 files, else fp32)' },
    { name: 'progress', kind: 'string', value: 'bar|lines|json|none', description: 'Progress on stderr (default: bar on a terminal, else lines)' },
  ],
  examples: ['afa import ~/models/dreamshaper_8.safetensors', 'afa import ./stable-diffusion-v1-5 --name "SD 1.5"', 'afa import ./checkpoints/   # every .safetensors in the folder'],
  async run(args, context) {
    if (args.positionals.length !== 1) {
      throw new UserError('invalid-argument', `afa import takes one file or folder; got ${args.positionals.length}.`, "Run 'afa import --help' for the usage.");
    }
    const sources = sourcesOf(args.positionals[0]!);
    const configDir = args.string('config-dir');
    const configOverrides = configDir === undefined ? undefined : readConfigDirectory(configDir);
    // A config folder laid out like a diffusers pipeline may bring the tokenizer the checkpoint needs.
    const tokenizerDirectory = configDir !== undefined && existsSync(join(resolve(configDir), 'tokenizer', 'vocab.json')) ? join(resolve(configDir), 'tokenizer') : undefined;
    const precision = precisionOf(args.string('precision'));
    const name = args.string('name');
    if (name !== undefined && sources.length > 1) throw new UserError('invalid-argument', '--name names one model; the folder holds several checkpoints.');
    const progress = new ProgressReporter(context.io.stderr, progressModeOf(args.string('progress'), context.io.stderr));
    const library = Library.open({ home: context.home });
    const imported: ImportedModel[] = [];
    try {
      for (const source of sources) {
        progress.note(`Importing ${source}`);
        const result = await importCheckpoint(
          source,
          { home: context.home, catalog: library.models, ...(name ? { name } : {}), ...(configOverrides ? { configOverrides } : {}), ...(tokenizerDirectory ? { tokenizerDirectory } : {}), ...(precision ? { precision } : {}) },
          {
            signal: context.io.interrupt,
            onProgress: (update: Progress) =>
              progress.update({
                label: PHASE_LABELS[update.phase] ?? update.phase,
                done: update.unit === 'bytes' ? Math.round(update.done / 1024 ** 2) : update.done,
                total: update.unit === 'bytes' ? Math.round(update.total / 1024 ** 2) : update.total,
                ...(update.unit === 'bytes' ? { detail: 'MB' } : {}),
                event: { source, ...update },
              }),
          },
        );
        progress.finish();
        imported.push(result);
        const { manifest } = result;
        progress.note(
          result.alreadyImported
            ? `Already imported: ${manifest.name} (${manifest.id.slice(0, 12)})`
            : `Imported ${manifest.name}: ${manifest.precision}, ${formatBytes(manifest.sizeBytes)}, tokenizer ${manifest.tokenizer}`,
        );
      }
    } finally {
      progress.finish();
      library.close();
    }
    if (context.json) {
      const models = imported.map((result) => ({ ...modelJson(result.manifest), alreadyImported: result.alreadyImported }));
      context.io.stdout.write(`${JSON.stringify({ ok: true, models }, null, 2)}\n`);
    } else {
      for (const { manifest } of imported) context.io.stdout.write(`${manifest.id}  ${manifest.name}\n`);
    }
    return EXIT_OK;
  },
};
