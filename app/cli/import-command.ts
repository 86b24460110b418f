// `afa import <file|folder>`: converts checkpoints once into the studio's model store (app/checkpoints)
// and registers them in the library's catalog. What a path imports is decided by the shared import rules
// (app/checkpoints/import-request.ts), the same the Models screen uses; this command passes options.
import { UserError } from '../common/errors.ts';
import type { Progress } from '../common/progress.ts';
import type { ImportedModel } from '../checkpoints/import-checkpoint.ts';
import { planImport, runImportPlan } from '../checkpoints/import-request.ts';
import type { ModelManifest, StoredPrecision } from '../checkpoints/model-store.ts';
import { Library } from '../library/library.ts';
import type { CliCommand } from './cli-command.ts';
import { EXIT_OK } from './exit-codes.ts';
import { modelJson } from './models-command.ts';
import { formatBytes, progressModeOf, ProgressReporter } from './progress-reporter.ts';
import { aggregatorFor } from './recipe-options.ts';

const PHASE_LABELS: Readonly<Record<string, string>> = {
  hash: 'Hashing',
  convert: 'Converting weights',
  'hash-vae': 'Hashing the VAE',
  graphs: 'Writing graphs',
};

function precisionOf(value: string | undefined): StoredPrecision | undefined {
  if (value === undefined || value === 'fp32' || value === 'fp16') return value;
  throw new UserError('invalid-argument', `--precision must be fp32 or fp16; got '${value}'.`);
}

/** "its own tokenizer" or "the bundled SD1.x tokenizer", for the import summary. */
export function tokenizerLabel(manifest: ModelManifest): string {
  return manifest.tokenizer === 'default' ? 'the bundled SD1.x tokenizer' : 'its own tokenizer';
}

export const importCommand: CliCommand = {
  name: 'import',
  writesHome: true,
  summary: 'Import a checkpoint (.safetensors file, diffusers folder, or a folder of files)',
  usage: 'afa import <file|folder> [options]',
  description: [
    'Converts a Stable Diffusion 1.x checkpoint once into the studio’s model store (ONNX graphs next to the',
    'weights) and lists it in the library. Importing the same file again does nothing. Pickle files',
    '(.ckpt, .pt, .bin) are refused: they can run code; use the .safetensors version.',
    'A checkpoint that is not the standard SD1.5 size needs its configs: --config-dir <folder> with',
    'unet/config.json (and text_encoder/, vae/) as in a diffusers folder.',
    'An official AFA folder (additional_unet_k/ beside unet/) imports every expert, named "<folder> 1", "<folder> 2", …;',
    'with --aggregators its trained aggregators too.',
  ].join('\n'),
  options: [
    { name: 'name', kind: 'string', value: '<text>', description: 'Display name (default: the file name)' },
    { name: 'config-dir', kind: 'string', value: '<folder>', description: 'Folder with unet/, text_encoder/, vae/ config.json for non-SD1.5 architectures (and tokenizer/ when the checkpoint needs its own)' },
    { name: 'precision', kind: 'string', value: 'fp32|fp16', description: 'Stored precision (default fp32 for every file; fp16 halves the disk, loads slower)' },
    { name: 'aggregators', kind: 'flag', description: 'An official AFA folder: also import its trained aggregators, bound to its experts in order' },
    { name: 'progress', kind: 'string', value: 'bar|lines|json|none', description: 'Progress on stderr (default: bar on a terminal, else lines)' },
  ],
  examples: ['afa import ~/models/dreamshaper_8.safetensors', 'afa import ./afa-run --aggregators   # every expert of an AFA folder + its aggregators', 'afa import ./stable-diffusion-v1-5 --name "SD 1.5"', 'afa import ./checkpoints/   # every .safetensors in the folder'],
  async run(args, context) {
    if (args.positionals.length !== 1) {
      throw new UserError('invalid-argument', `afa import takes one file or folder; got ${args.positionals.length}.`, "Run 'afa import --help' for the usage.");
    }
    const configDirectory = args.string('config-dir');
    const name = args.string('name');
    const precision = precisionOf(args.string('precision'));
    const plan = planImport(args.positionals[0]!, { ...(name !== undefined ? { name } : {}), ...(configDirectory !== undefined ? { configDirectory } : {}), ...(precision ? { precision } : {}) });
    const progress = new ProgressReporter(context.io.stderr, progressModeOf(args.string('progress'), context.io.stderr));
    const library = Library.open({ home: context.home });
    let imported: ImportedModel[];
    let aggregatorId: string | undefined;
    try {
      let source = '';
      imported = await runImportPlan(plan, { home: context.home, catalog: library.models }, {
        signal: context.io.interrupt,
        onItem: (item) => {
          progress.finish();
          source = item.source;
          progress.note(`Importing ${item.source}${item.subfolders?.unet ? ` (${item.subfolders.unet}/)` : ''}`);
        },
        onProgress: (update: Progress) =>
          progress.update({
            label: PHASE_LABELS[update.phase] ?? update.phase,
            done: update.unit === 'bytes' ? Math.round(update.done / 1024 ** 2) : update.done,
            total: update.unit === 'bytes' ? Math.round(update.total / 1024 ** 2) : update.total,
            ...(update.unit === 'bytes' ? { detail: 'MB' } : {}),
            event: { source, ...update },
          }),
      });
      progress.finish();
      for (const result of imported) {
        const { manifest } = result;
        progress.note(
          result.alreadyImported
            ? `Already imported: ${manifest.name} (${manifest.id.slice(0, 12)})`
            : `Imported ${manifest.name}: ${manifest.precision}, ${formatBytes(manifest.sizeBytes)}, ${tokenizerLabel(manifest)}`,
        );
      }
      if (plan.aggregatorsFolder) {
        const ids = imported.map((result) => result.manifest.id);
        if (args.has('aggregators')) {
          aggregatorId = aggregatorFor(plan.aggregatorsFolder, ids, context.home);
          progress.note(`Imported its aggregators ${aggregatorId} for these ${ids.length} experts, in this order.`);
        } else {
          // Said even with --progress none: it is what to do next, not progress.
          progress.finish();
          context.io.stderr.write(
            `The folder also holds trained AFA aggregators for exactly these ${ids.length} experts. Import them with: ` +
              `afa aggregators import ${plan.aggregatorsFolder} --models ${ids.map((id) => id.slice(0, 12)).join(',')}  (or import again with --aggregators)\n`,
          );
        }
      }
    } finally {
      progress.finish();
      library.close();
    }
    if (context.json) {
      const models = imported.map((result) => ({ ...modelJson(result.manifest), alreadyImported: result.alreadyImported }));
      context.io.stdout.write(`${JSON.stringify({ ok: true, models, ...(aggregatorId ? { aggregatorId } : {}), ...(plan.aggregatorsFolder ? { aggregatorsFolder: plan.aggregatorsFolder } : {}) }, null, 2)}\n`);
    } else {
      for (const { manifest } of imported) context.io.stdout.write(`${manifest.id}  ${manifest.name}\n`);
    }
    return EXIT_OK;
  },
};
