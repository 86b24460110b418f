// What a person asks for when they press Generate, validated once at the boundary so the engine can
// trust it. Every field is plain JSON: the validated request is stored in history and embedded in the PNG.
import { UserError } from '../common/errors.ts';

export const SAMPLERS = ['ddim', 'euler', 'euler-a', 'dpmpp-2m', 'dpmpp-2m-karras', 'pndm', 'lms'] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export interface GenerationSettings {
  readonly prompt: string;
  readonly negativePrompt: string;
  /** Pixels; multiples of 8 (the VAE downsamples by 8). */
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  /** Classifier-free guidance scale g: eps = eps_u + g·(eps_c − eps_u); g ≤ 1 disables guidance. */
  readonly guidance: number;
  readonly sampler: SamplerName;
  /** DDIM's η (0 = deterministic DDIM, the paper's sampler). Ignored by other samplers. */
  readonly eta: number;
  /** The seed of the first image; image i of a batch uses seed + i. */
  readonly seed: number;
  /** How many images one request makes, one after another. */
  readonly batchCount: number;
}

export type GenerationInput = Partial<GenerationSettings> & { readonly prompt: string };

export const DEFAULT_SETTINGS = Object.freeze({
  negativePrompt: '',
  width: 512,
  height: 512,
  steps: 25,
  guidance: 7.5,
  sampler: 'ddim' as SamplerName,
  eta: 0,
  batchCount: 1,
});

/** Largest seed: seeds are stored as JSON numbers and SQLite integers, so stay within 2^53. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

function invalid(message: string, hint?: string): UserError {
  return new UserError('invalid-argument', message, hint);
}

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be a whole number from ${min} to ${max}; got ${value}.`);
  }
  return value;
}

/** A fresh random seed (used when the request names none; the seed used is always reported). */
export function randomSeed(): number {
  const bytes = crypto.getRandomValues(new Uint32Array(2));
  // 53 random bits: 21 from the high word, 32 from the low word.
  return (bytes[0]! & 0x1fffff) * 2 ** 32 + bytes[1]!;
}

export function validateGenerationInput(input: GenerationInput): GenerationSettings {
  if (typeof input.prompt !== 'string') throw invalid('The prompt must be text.');
  const width = input.width ?? DEFAULT_SETTINGS.width;
  const height = input.height ?? DEFAULT_SETTINGS.height;
  for (const [name, value] of [['width', width], ['height', height]] as const) {
    integerIn(name, value, 64, 2048);
    if (value % 8 !== 0) {
      const lower = Math.floor(value / 8) * 8;
      throw invalid(
        `The ${name} must be a multiple of 8 (the image is encoded in 8×8 pixel cells); got ${value}.`,
        `Try ${lower} or ${lower + 8}.`,
      );
    }
  }
  const sampler = input.sampler ?? DEFAULT_SETTINGS.sampler;
  if (!SAMPLERS.includes(sampler)) {
    throw invalid(`Unknown sampler '${String(sampler)}'.`, `Choose one of: ${SAMPLERS.join(', ')}.`);
  }
  const guidance = input.guidance ?? DEFAULT_SETTINGS.guidance;
  if (!Number.isFinite(guidance) || guidance < 0 || guidance > 50) {
    throw invalid(`The guidance scale must be between 0 and 50; got ${guidance}.`);
  }
  const eta = input.eta ?? DEFAULT_SETTINGS.eta;
  if (!Number.isFinite(eta) || eta < 0 || eta > 1) throw invalid(`η (eta) must be between 0 and 1; got ${eta}.`);
  const negativePrompt = input.negativePrompt ?? DEFAULT_SETTINGS.negativePrompt;
  if (typeof negativePrompt !== 'string') throw invalid('The negative prompt must be text.');
  const batchCount = integerIn('batch count', input.batchCount ?? DEFAULT_SETTINGS.batchCount, 1, 64);
  const seed = input.seed === undefined ? randomSeed() % (MAX_SEED - batchCount + 2) : integerIn('seed', input.seed, 0, MAX_SEED);
  if (seed > MAX_SEED - (batchCount - 1)) {
    throw invalid(`Seed ${seed} is too large for a batch of ${batchCount}: image i uses seed + i, which must stay ≤ ${MAX_SEED}.`, 'Pick a smaller seed.');
  }
  return Object.freeze({
    prompt: input.prompt,
    negativePrompt,
    width,
    height,
    steps: integerIn('steps', input.steps ?? DEFAULT_SETTINGS.steps, 1, 500),
    guidance,
    sampler,
    eta,
    seed,
    batchCount,
  });
}

/** The seed of image `index` of a batch (the rule the PNG and history record per image). */
export function imageSeed(settings: GenerationSettings, index: number): number {
  return settings.seed + index;
}
