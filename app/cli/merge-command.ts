// `afa merge`: exports a weighted merge or an MBW merge of imported models as a single-file checkpoint
// (LDM key layout, so other tools load it). The only way the studio writes a merged checkpoint: running a
// merge recipe computes the merge into its compiled cache and never produces a file you did not ask for.
import { existsSync, statSync } from 'node:fs';
import type { ComponentConfig } from '../checkpoints/component-config.ts';
import { storedModelFiles } from '../checkpoints/model-store.ts';
import type { Progress } from '../common/progress.ts';
import { UserError } from '../common/errors.ts';
import { exportMerged, type ExportMember } from '../ensemble/merge-export.ts';
import { mergeMethodOf } from '../ensemble/merge-method.ts';
import { SafetensorsFile } from '../tensor/safetensors.ts';
import type { CliCommand } from './cli-command.ts';
import { EXIT_OK } from './exit-codes.ts';
import { findModel } from './model-reference.ts';
import { ProgressReporter, progressModeOf } from './progress-reporter.ts';
import { RECIPE_BUILD_OPTIONS, recipeFromOptions } from './recipe-options.ts';

const MERGE_OPTIONS = RECIPE_BUILD_OPTIONS.filter((option) => ['models', 'weights', 'mbw-blocks', 'mbw-base'].includes(option.name));

export const mergeCommand: CliCommand = {
  name: 'merge',
  summary: 'Export a merged checkpoint (weighted merge or MBW) as .safetensors',
  usage: 'afa merge --models a,b[,c…] [--method merge|mbw] [--weights …] [--mbw-blocks …] [--mbw-base α] --out <file.safetensors>',
  description: [
    'Computes θ = Σ wᵢθᵢ (merge) or θ = (1 − α)·θ_A + α·θ_B per block (mbw) over the U-Net, text encoder and',
    'VAE of imported models and writes one single-file checkpoint, tensor by tensor (memory stays at one',
    'tensor per model). The file appears whole or not at all; Ctrl+C leaves nothing.',
  ].join('\n'),
  options: [
    { name: 'method', kind: 'string', value: 'merge|mbw', description: 'merge (θ = Σ wᵢθᵢ, the default) or mbw (merge block weighted, 2 models)' },
    ...MERGE_OPTIONS,
    { name: 'out', short: 'o', kind: 'string', value: '<file.safetensors>', description: 'Where to write the merged checkpoint' },
    { name: 'precision', kind: 'string', value: 'fp32|fp16', description: 'Stored dtype (default fp32; fp16 halves the file)' },
    { name: 'overwrite', kind: 'flag', description: 'Replace an existing file at --out' },
    { name: 'progress', kind: 'string', value: 'bar|lines|json|none', description: 'Progress on stderr' },
  ],
  examples: ['afa merge --models dreamshaper,realistic --weights 0.6,0.4 --out blend.safetensors', 'afa merge --models a1b2c3,d4e5f6 --method mbw --mbw-base 0.3 --out mbw.safetensors --precision fp16'],
  async run(args, context) {
    const out = args.string('out');
    if (!out) throw new UserError('invalid-argument', 'Say where to write the merged checkpoint with --out <file.safetensors>.');
    const method = args.string('method') ?? 'merge';
    if (method !== 'merge' && method !== 'mbw') throw new UserError('invalid-argument', `afa merge exports 'merge' or 'mbw' merges; got '${method}'.`);
    const precision = args.string('precision') ?? 'fp32';
    if (precision !== 'fp32' && precision !== 'fp16') throw new UserError('invalid-argument', `--precision must be fp32 or fp16; got '${precision}'.`);
    if (!args.has('overwrite') && existsSync(out) && statSync(out).isFile()) {
      throw new UserError('conflict', `${out} already exists.`, 'Add --overwrite to replace it, or choose another file name with --out.');
    }
    const recipe = recipeFromOptions(args, context.home, method);
    const files: SafetensorsFile[] = [];
    const open = (path: string) => {
      const file = SafetensorsFile.open(path);
      files.push(file);
      return file;
    };
    const progress = new ProgressReporter(context.io.stderr, progressModeOf(args.string('progress'), context.io.stderr));
    try {
      const members: ExportMember[] = recipe.members.map((member) => {
        const manifest = findModel(context.home, member.modelId);
        const stored = storedModelFiles(context.home, manifest);
        const component = (config: unknown, path: string) => ({ config: config as ComponentConfig, weights: open(path) });
        return {
          name: manifest.name,
          components: {
            unet: component(manifest.configs.unet, stored.unetWeights),
            textEncoder: component(manifest.configs.textEncoder, stored.textEncoderWeights),
            vae: component(manifest.configs.vae, stored.vaeWeights),
          },
        };
      });
      const exported = exportMerged(
        members,
        mergeMethodOf(recipe),
        out,
        {
          signal: context.io.interrupt,
          onProgress: (update: Progress) =>
            progress.update({ label: 'Merging', done: Math.round(update.done / 1024 ** 2), total: Math.round(update.total / 1024 ** 2), detail: 'MB', event: update }),
        },
        { precision, overwrite: args.has('overwrite') },
      );
      progress.finish();
      context.io.stdout.write(context.json ? `${JSON.stringify({ ok: true, ...exported }, null, 2)}\n` : `${exported.path}  (${exported.tensors} tensors)\n`);
      return EXIT_OK;
    } finally {
      progress.finish();
      for (const file of files) file.close();
    }
  },
};
