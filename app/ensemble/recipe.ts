// An ensemble recipe: which imported checkpoints, how they are combined, and the sampler defaults.
// It is a small JSON document the library stores, the UI edits, and every generation snapshots into
// its history row and PNG, so a picture can be reproduced from the file alone.
import { UserError } from '../common/errors.ts';
import { SAMPLERS, type SamplerName } from '../pipeline/generation-request.ts';
import { resolveMagicFusionSettings, type MagicFusionSettings } from './magic-fusion.ts';

export const METHODS = ['single', 'afa', 'feature-average', 'output-average', 'merge', 'mbw', 'magicfusion'] as const;
export type EnsembleMethod = (typeof METHODS)[number];

/** MBW block names in sd-webui-merge-block-weighted order (the golden README documents the key rule). */
export const MBW_BLOCKS = [
  'IN00', 'IN01', 'IN02', 'IN03', 'IN04', 'IN05', 'IN06', 'IN07', 'IN08', 'IN09', 'IN10', 'IN11',
  'M00',
  'OUT00', 'OUT01', 'OUT02', 'OUT03', 'OUT04', 'OUT05', 'OUT06', 'OUT07', 'OUT08', 'OUT09', 'OUT10', 'OUT11',
] as const;

export interface RecipeMember {
  /** The imported model's id (its checkpoint SHA-256). */
  readonly modelId: string;
  /** Display name and AUTOV2 short hash at the time the recipe was saved (history stays readable). */
  readonly name?: string;
  readonly shortHash?: string;
}

export interface MbwSettings {
  /** α per block IN00…OUT11 (25 values): θ = (1 − α)·θ_A + α·θ_B. */
  readonly blocks: readonly number[];
  /** α for every U-Net key outside the 25 blocks (and for VAE/text encoder when merged). */
  readonly base: number;
}

export interface Recipe {
  readonly version: 1;
  readonly name: string;
  readonly method: EnsembleMethod;
  readonly members: readonly RecipeMember[];
  /** Per-member weights for output-average and merge (normalised to sum 1 unless `normalize` is false). */
  readonly weights?: readonly number[];
  readonly mbw?: MbwSettings;
  readonly magicFusion?: MagicFusionSettings;
  /** Id of a trained aggregator set (AFA); without one AFA runs untrained, i.e. as feature-average. */
  readonly aggregatorId?: string;
  /**
   * Settings offered when the recipe is picked: the sampler's, and for a recipe made to show something
   * (the built-in demo's) a prompt that works with it and the size and seed it was tuned at.
   */
  readonly defaults?: RecipeDefaults;
}

export interface RecipeDefaults {
  readonly sampler?: SamplerName;
  readonly steps?: number;
  readonly guidance?: number;
  readonly prompt?: string;
  readonly negativePrompt?: string;
  /** Pixels, multiples of 8. */
  readonly width?: number;
  readonly height?: number;
  readonly seed?: number;
}

const MEMBER_LIMITS: Readonly<Record<EnsembleMethod, readonly [number, number]>> = {
  single: [1, 1],
  afa: [2, 6],
  'feature-average': [2, 6],
  'output-average': [2, 6],
  merge: [2, 6],
  mbw: [2, 2],
  magicfusion: [2, 2],
};

function invalid(message: string, hint?: string): UserError {
  return new UserError('invalid-argument', message, hint);
}

function finiteList(name: string, values: unknown, length: number): number[] {
  if (!Array.isArray(values) || values.length !== length || values.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    throw invalid(`${name} must be a list of ${length} numbers.`);
  }
  return values as number[];
}

/** Validates an untrusted recipe document (from the UI, the CLI or a file) and returns a frozen copy. */
export function validateRecipe(input: unknown): Recipe {
  if (typeof input !== 'object' || input === null) throw invalid('A recipe must be a JSON object.');
  const raw = input as Record<string, unknown>;
  const name = typeof raw.name === 'string' ? raw.name.trim() : '';
  if (!name) throw invalid('A recipe needs a name.');
  const method = raw.method as EnsembleMethod;
  if (!METHODS.includes(method)) throw invalid(`Unknown method '${String(raw.method)}'.`, `Choose one of: ${METHODS.join(', ')}.`);
  if (!Array.isArray(raw.members)) throw invalid('A recipe needs a list of members (imported models).');
  const members = raw.members.map((member, index): RecipeMember => {
    const m = member as Record<string, unknown>;
    if (typeof m?.modelId !== 'string' || !m.modelId) throw invalid(`Member ${index + 1} has no model id.`);
    return Object.freeze({
      modelId: m.modelId,
      ...(typeof m.name === 'string' ? { name: m.name } : {}),
      ...(typeof m.shortHash === 'string' ? { shortHash: m.shortHash } : {}),
    });
  });
  const [min, max] = MEMBER_LIMITS[method];
  if (members.length < min || members.length > max) {
    throw invalid(
      min === max
        ? `The ${method} method takes exactly ${min} model${min === 1 ? '' : 's'}; the recipe has ${members.length}.`
        : `The ${method} method takes ${min} to ${max} models; the recipe has ${members.length}.`,
    );
  }
  if (new Set(members.map((m) => m.modelId)).size !== members.length) {
    throw invalid('A model appears twice in the recipe.', 'Each member must be a different checkpoint.');
  }
  const recipe: Record<string, unknown> = { version: 1, name, method, members: Object.freeze(members) };
  if (raw.weights !== undefined) {
    const weights = finiteList('weights', raw.weights, members.length);
    if (weights.some((w) => w < 0)) throw invalid('Member weights must not be negative.');
    if (weights.every((w) => w === 0)) throw invalid('At least one member weight must be above 0.');
    recipe.weights = Object.freeze(weights);
  }
  if (method === 'mbw') {
    const mbw = (raw.mbw ?? {}) as Record<string, unknown>;
    const blocks = finiteList(`MBW block weights (${MBW_BLOCKS.join(', ')})`, mbw.blocks, MBW_BLOCKS.length);
    const base = typeof mbw.base === 'number' && Number.isFinite(mbw.base) ? mbw.base : NaN;
    if (Number.isNaN(base)) throw invalid('MBW needs a base weight (the α for keys outside the 25 blocks).');
    if ([...blocks, base].some((alpha) => alpha < 0 || alpha > 1)) throw invalid('MBW weights are α between 0 (model A) and 1 (model B).');
    recipe.mbw = Object.freeze({ blocks: Object.freeze(blocks), base });
  }
  if (method === 'magicfusion' && raw.magicFusion !== undefined) {
    if (typeof raw.magicFusion !== 'object' || raw.magicFusion === null) throw invalid('MagicFusion settings must be an object.');
    resolveMagicFusionSettings(raw.magicFusion as MagicFusionSettings);
    recipe.magicFusion = Object.freeze({ ...(raw.magicFusion as MagicFusionSettings) });
  }
  if (raw.aggregatorId !== undefined) {
    if (method !== 'afa') throw invalid('Only AFA recipes take an aggregator.');
    if (typeof raw.aggregatorId !== 'string' || !raw.aggregatorId) throw invalid('The aggregator id must be text.');
    recipe.aggregatorId = raw.aggregatorId;
  }
  if (raw.defaults !== undefined) recipe.defaults = validateDefaults(raw.defaults);
  return Object.freeze(recipe) as unknown as Recipe;
}

function validateDefaults(input: unknown): RecipeDefaults {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('The recipe defaults must be a JSON object.');
  const d = input as Record<string, unknown>;
  if (d.sampler !== undefined && !SAMPLERS.includes(d.sampler as SamplerName)) throw invalid(`Unknown sampler '${String(d.sampler)}'.`);
  const whole = (key: string, min: number, max: number, multiple = 1) => {
    const value = d[key];
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max || value % multiple !== 0)) {
      throw invalid(`The default ${key} must be a whole number from ${min} to ${max}${multiple > 1 ? `, a multiple of ${multiple}` : ''}.`);
    }
  };
  whole('steps', 1, 500);
  whole('width', 64, 2048, 8);
  whole('height', 64, 2048, 8);
  whole('seed', 0, Number.MAX_SAFE_INTEGER);
  if (d.guidance !== undefined && (typeof d.guidance !== 'number' || !(d.guidance >= 0 && d.guidance <= 50))) throw invalid('The default guidance must be from 0 to 50.');
  for (const key of ['prompt', 'negativePrompt']) {
    if (d[key] !== undefined && typeof d[key] !== 'string') throw invalid(`The default ${key} must be text.`);
  }
  return Object.freeze({ ...d }) as RecipeDefaults;
}

/** Weights normalised to sum 1 (uniform when absent). */
export function memberWeights(recipe: Recipe): number[] {
  const weights = recipe.weights ?? recipe.members.map(() => 1);
  const total = weights.reduce((sum, w) => sum + w, 0);
  return weights.map((w) => w / total);
}
