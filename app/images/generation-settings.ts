// Everything needed to reproduce one image. This record is what the `afa-studio` PNG chunk carries and
// what the library stores per generation; it is plain JSON so it survives both without conversion.
import { UserError } from '../common/errors.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface RecipeMemberSnapshot {
  /** The model's catalog id (its SHA-256); null when imported from another tool and not in the catalog. */
  readonly modelId: string | null;
  /** AUTOMATIC1111's AUTOV2 hash: the first 10 hex digits of the checkpoint file's SHA-256. */
  readonly shortHash: string | null;
  readonly name: string;
  /** Static weight, for weighted-average baselines; AFA's weights are per pixel and come from the aggregator. */
  readonly weight?: number;
}

/**
 * The recipe as it was when the image was made — a copy, not a reference, so that history stays true
 * after the recipe is edited or deleted.
 */
export interface RecipeSnapshot {
  readonly recipeId: string | null;
  readonly name: string | null;
  /** 'single' for one model; the ensemble methods ('afa', 'average', ...) are named by app/ensemble. */
  readonly method: string;
  readonly members: readonly RecipeMemberSnapshot[];
  /** The trained SABW aggregator used by 'afa', by its catalog id. */
  readonly aggregatorId: string | null;
  /** The full recipe document as app/ensemble saved it, for anything the fields above leave out. */
  readonly document?: JsonValue;
}

export interface GenerationSettings {
  readonly prompt: string;
  readonly negativePrompt: string;
  /** Integer in [0, 2^53 − 1]. */
  readonly seed: number;
  readonly steps: number;
  /** Classifier-free guidance scale (A1111's "CFG scale"). */
  readonly guidance: number;
  /** Sampler id as app/schedulers names it, e.g. 'ddim', 'euler-a', 'dpmpp-2m-karras'. */
  readonly sampler: string;
  /** Output size in pixels. */
  readonly width: number;
  readonly height: number;
  /** Position of this image in its batch; how it combines with `seed` is app/pipeline's rule. */
  readonly batchIndex: number;
  readonly recipe: RecipeSnapshot;
  /** Further settings the pipeline wants reproduced (eta, clip skip, ...), as plain JSON. */
  readonly extra?: { readonly [key: string]: JsonValue };
}

export interface GenerationTimings {
  readonly totalMs: number;
  /** Wall time of each denoising step in ms, in order. */
  readonly stepMs: readonly number[];
  /** Other phases in ms, e.g. { encodePrompt: 40, decode: 310 }. */
  readonly phases?: { readonly [phase: string]: number };
  /** Large host↔device copies on a GPU provider (app/runtime/device-tensor.ts); absent on the CPU. */
  readonly copies?: GenerationCopies;
}

export interface GenerationCopies {
  /** True when the latents stayed on the device between steps (device-resident loop). */
  readonly deviceResident: boolean;
  /** Copies of each step's work, both directions, previews excluded (0 on the device-resident loop). */
  readonly perStep: readonly number[];
  /** Latent read-backs for previews. */
  readonly previews: number;
  /** Every copy of the image, by direction. */
  readonly hostToDevice: number;
  readonly deviceToHost: number;
}

function invalid(field: string, why: string): UserError {
  return new UserError('invalid-argument', `Generation setting "${field}" ${why}.`);
}

function checkInteger(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
}

/** Throws UserError('invalid-argument') naming the first field that is wrong. */
export function checkGenerationSettings(settings: GenerationSettings): void {
  if (typeof settings.prompt !== 'string') throw invalid('prompt', 'must be text');
  if (typeof settings.negativePrompt !== 'string') throw invalid('negativePrompt', 'must be text');
  checkInteger('seed', settings.seed, 0, Number.MAX_SAFE_INTEGER);
  checkInteger('steps', settings.steps, 1, 10000);
  if (typeof settings.guidance !== 'number' || !Number.isFinite(settings.guidance)) throw invalid('guidance', 'must be a finite number');
  if (typeof settings.sampler !== 'string' || settings.sampler === '') throw invalid('sampler', 'must name a sampler');
  checkInteger('width', settings.width, 1, 65535);
  checkInteger('height', settings.height, 1, 65535);
  checkInteger('batchIndex', settings.batchIndex, 0, Number.MAX_SAFE_INTEGER);
  const recipe = settings.recipe;
  if (recipe === null || typeof recipe !== 'object') throw invalid('recipe', 'must be a recipe snapshot');
  if (typeof recipe.method !== 'string' || recipe.method === '') throw invalid('recipe.method', 'must name a method');
  if (!Array.isArray(recipe.members) || recipe.members.length === 0) throw invalid('recipe.members', 'must list at least one model');
  for (const member of recipe.members) {
    if (typeof member?.name !== 'string') throw invalid('recipe.members[].name', 'must be text');
  }
}
