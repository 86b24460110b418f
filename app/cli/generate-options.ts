// The options of `afa generate`, in three groups, each declared once (parser and help read them):
// - TARGET_OPTIONS: what to generate with. Each entry owns its options and turns them into a
//   GenerationTarget; exactly one entry may match. app/ensemble adds its `--recipe/--models/--method`
//   entry to this list (see app/cli/README.md) and the command needs no other change.
// - SETTINGS_OPTIONS: prompt, sampler, size, … → GenerationInput (validated by app/pipeline).
// - OUTPUT_OPTIONS: where the image goes and how progress shows.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../common/errors.ts';
import { listStoredModels } from '../checkpoints/model-store.ts';
import { readImageSettings } from '../images/metadata.ts';
import { inputOfRecord, targetOfSnapshot } from '../pipeline/generation-record.ts';
import { SAMPLERS, type GenerationInput, type SamplerName } from '../pipeline/generation-request.ts';
import type { GenerationTarget } from '../pipeline/generation-target.ts';
import type { CliArguments, OptionSpec } from './cli-arguments.ts';
import { findModel } from './model-reference.ts';
import { inlineRecipeTargetOptions, recipeTargetOptions } from './recipe-options.ts';

export interface TargetOptions {
  readonly options: readonly OptionSpec[];
  /** The target these options name, or undefined when none of them was given. Throws UserError. */
  target(args: CliArguments, home: string): GenerationTarget | undefined;
}

export const modelTargetOptions: TargetOptions = {
  options: [{ name: 'model', short: 'm', kind: 'string', value: '<id|name>', description: 'The imported model: its id, 6+ first characters of it, or its name (see `afa models`)' }],
  target(args, home) {
    const reference = args.string('model');
    return reference === undefined ? undefined : { kind: 'model', modelId: findModel(home, reference).id };
  },
};

/** Every way to name what to generate with; the command refuses a request that uses two. */
export const TARGET_OPTIONS: readonly TargetOptions[] = [modelTargetOptions, recipeTargetOptions, inlineRecipeTargetOptions];

export const SETTINGS_OPTIONS: readonly OptionSpec[] = [
  { name: 'prompt', short: 'p', kind: 'string', value: '<text>', description: 'What the image shows (CLIP reads the first 75 tokens)' },
  { name: 'negative', short: 'n', kind: 'string', value: '<text>', description: 'What to steer away from (negative prompt; default none)' },
  { name: 'steps', kind: 'integer', value: '<n>', description: 'Denoising steps, 1–500 (default 25)' },
  { name: 'cfg', kind: 'number', value: '<scale>', description: 'Guidance scale, 0–50 (default 7.5; 1 or less turns guidance off)' },
  { name: 'sampler', kind: 'string', value: '<name>', description: `${SAMPLERS.join(' | ')} (default ddim)` },
  { name: 'eta', kind: 'number', value: '<0..1>', description: 'DDIM’s η: 0 deterministic (default), 1 adds noise each step' },
  { name: 'seed', kind: 'integer', value: '<n>', description: 'Seed, 0 … 9007199254740991 (default random; always reported)' },
  { name: 'size', kind: 'string', value: '<W>x<H>', description: 'Size in pixels, multiples of 8, 64–2048 (default 512x512)' },
  { name: 'batch', kind: 'integer', value: '<n>', description: 'Images to make one after another, 1–64; image i uses seed + i (default 1)' },
  { name: 'from', kind: 'string', value: '<image.png>', description: 'Reuse the settings stored in an image (options given here win)' },
];

export const OUTPUT_OPTIONS: readonly OptionSpec[] = [
  { name: 'out', short: 'o', kind: 'string', value: '<file.png>', description: 'Also write the image here (a batch writes file-1.png, file-2.png, …)' },
  { name: 'maps', kind: 'string', value: '<folder>', description: 'AFA: write each image’s contribution maps (which model dominated where, per step) as PNGs + JSON' },
  { name: 'progress', kind: 'string', value: 'bar|lines|json|none', description: 'Progress on stderr (default: bar on a terminal, else lines)' },
  { name: 'threads', kind: 'integer', value: '<n>', description: 'CPU threads for onnxruntime (default: all available)' },
  { name: 'backend', kind: 'string', value: '<name>', description: 'Execution provider: auto (default: the fastest working one, measured once per machine), cpu, webgpu, cuda, dml, coreml where available' },
  { name: 'precision', kind: 'string', value: 'auto|fp32|fp16', description: 'What the models compute in: auto (default: fp16 on a GPU provider, fp32 on the CPU), fp32, or fp16' },
];

/** The one target the arguments name (undefined when none); two at once is a usage error. */
export function targetOf(args: CliArguments, home: string): GenerationTarget | undefined {
  const named = TARGET_OPTIONS.filter((entry) => entry.options.some((option) => args.has(option.name)));
  if (named.length > 1) {
    const flags = named.map((entry) => entry.options.map((option) => `--${option.name}`).join('/')).join(' and ');
    throw new UserError('invalid-argument', `Give either ${flags}, not both.`);
  }
  return named[0]?.target(args, home);
}

export function parseSize(text: string): { width: number; height: number } {
  const match = /^\s*(\d+)\s*[xX×]\s*(\d+)\s*$/.exec(text);
  if (!match) throw new UserError('invalid-argument', `--size must look like 512x768 (width x height in pixels); got '${text}'.`);
  return { width: Number(match[1]), height: Number(match[2]) };
}

/**
 * Settings and target recorded in an image: our own complete record, else what another tool's settings
 * give (PNG, JPEG or WebP), with `notes` saying what could not be used (a seed beyond 2^53, a model the
 * studio cannot run) and `missingModel` naming the model the image was made with when it is not imported.
 */
export function settingsFromImage(
  path: string,
  home: string,
): {
  input: Partial<GenerationInput>;
  target?: GenerationTarget;
  notes: string[];
  /** The model the image names, when it is not imported. */
  missingModel?: { readonly name?: string; readonly hash?: string };
} {
  const absolute = resolve(path);
  if (!existsSync(absolute)) throw new UserError('not-found', `--from ${absolute} does not exist.`);
  const imported = readImageSettings(absolute);
  if (!imported) throw new UserError('invalid-argument', `${absolute} carries no generation settings.`, 'Pass the settings as options instead.');
  if (imported.settings) return { input: inputOfRecord(imported.settings), target: targetOfSnapshot(imported.settings.recipe), notes: [] };
  const byHash = imported.modelHash === undefined ? undefined : listStoredModels(home).find((model) => model.shortHash === imported.modelHash?.toLowerCase());
  const sampler = (SAMPLERS as readonly string[]).includes(imported.sampler ?? '') ? (imported.sampler as SamplerName) : undefined;
  const notes: string[] = [];
  // The studio's seeds are 0 … 2^53 − 1; a larger or negative ("random") seed cannot be reproduced here.
  const seedUsable = typeof imported.seed === 'number' && imported.seed >= 0;
  if (imported.seed !== undefined && !seedUsable) notes.push(`the image's seed ${imported.seed} cannot be used here (the studio's seeds are 0 to 2^53 - 1)`);
  if (imported.samplerLabel !== undefined && sampler === undefined) notes.push(`the image's sampler "${imported.samplerLabel}" has no counterpart in the studio`);
  if (imported.modelFamily !== undefined && imported.modelFamily !== 'sd1') notes.push(`the image was made with a ${imported.modelFamily} model (${imported.modelName ?? 'unnamed'}), which the studio cannot run`);
  const input: Partial<GenerationInput> = {
    ...(imported.prompt === undefined ? {} : { prompt: imported.prompt }),
    ...(imported.negativePrompt === undefined ? {} : { negativePrompt: imported.negativePrompt }),
    ...(seedUsable ? { seed: imported.seed as number } : {}),
    ...(imported.steps === undefined ? {} : { steps: imported.steps }),
    ...(imported.guidance === undefined ? {} : { guidance: imported.guidance }),
    ...(sampler === undefined ? {} : { sampler }),
    ...(imported.width === undefined ? {} : { width: imported.width }),
    ...(imported.height === undefined ? {} : { height: imported.height }),
  };
  const named = imported.modelName !== undefined || imported.modelHash !== undefined;
  return {
    input,
    notes,
    ...(byHash ? { target: { kind: 'model', modelId: byHash.id } as const } : {}),
    ...(!byHash && named ? { missingModel: { ...(imported.modelName ? { name: imported.modelName } : {}), ...(imported.modelHash ? { hash: imported.modelHash } : {}) } } : {}),
  };
}

/** The request's settings: the image's (--from) under the options given here. */
export function settingsInput(args: CliArguments, base: Partial<GenerationInput> = {}): GenerationInput {
  const prompt = args.string('prompt') ?? base.prompt;
  if (prompt === undefined) throw new UserError('invalid-argument', '--prompt is required.', 'Example: afa generate --model <id> --prompt "a lighthouse at night"');
  const size = args.string('size');
  const { width, height } = size === undefined ? { width: base.width, height: base.height } : parseSize(size);
  const pick = <T>(value: T | undefined, fallback: T | undefined): T | undefined => (value === undefined ? fallback : value);
  const fields = {
    prompt,
    negativePrompt: pick(args.string('negative'), base.negativePrompt),
    steps: pick(args.number('steps'), base.steps),
    guidance: pick(args.number('cfg'), base.guidance),
    sampler: pick(args.string('sampler') as SamplerName | undefined, base.sampler),
    eta: pick(args.number('eta'), base.eta),
    seed: pick(args.number('seed'), base.seed),
    width,
    height,
    batchCount: pick(args.number('batch'), base.batchCount),
  };
  // Leave out what nobody gave, so validateGenerationInput applies its defaults.
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as unknown as GenerationInput;
}
