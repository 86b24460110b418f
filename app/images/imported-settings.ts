// What an image's metadata says about how it was made, normalised across tools. Every field is
// optional because every tool leaves different things out.
import type { GenerationSettings } from './generation-settings.ts';

/** The tool whose metadata the settings were read from. */
export type SettingsSource =
  | 'afa-studio'
  | 'automatic1111'
  | 'forge'
  | 'sd-next'
  | 'stability-matrix'
  | 'comfyui'
  | 'invokeai'
  | 'novelai'
  | 'fooocus'
  | 'ruinedfooocus'
  | 'swarmui'
  | 'draw-things'
  | 'diffusionbee';

export const SOURCE_NAMES: Readonly<Record<SettingsSource, string>> = {
  'afa-studio': 'AFA Studio',
  automatic1111: 'AUTOMATIC1111',
  forge: 'Forge',
  'sd-next': 'SD.Next',
  'stability-matrix': 'Stability Matrix',
  comfyui: 'ComfyUI',
  invokeai: 'InvokeAI',
  novelai: 'NovelAI',
  fooocus: 'Fooocus',
  ruinedfooocus: 'RuinedFooocus',
  swarmui: 'SwarmUI',
  'draw-things': 'Draw Things',
  diffusionbee: 'DiffusionBee',
};

/**
 * The model family the settings name, where the metadata says or the model's name makes it plain.
 * Only 'sd1' runs in the studio.
 */
export type ModelFamily = 'sd1' | 'sd2' | 'sdxl' | 'sd3' | 'flux' | 'other';

export interface ImportedLora {
  readonly name: string;
  readonly weight?: number;
  readonly hash?: string;
}

/** A seed: a number when it is a safe integer, else its exact decimal digits (ComfyUI seeds reach 2^64 − 1). */
export type ImportedSeed = number | string;

export interface ImportedSettings {
  readonly source: SettingsSource;
  readonly prompt?: string;
  readonly negativePrompt?: string;
  readonly seed?: ImportedSeed;
  readonly steps?: number;
  /** Classifier-free guidance scale (CFG). */
  readonly guidance?: number;
  /** Our sampler id where the tool's name is known, else the tool's own name. */
  readonly sampler?: string;
  /** The sampler exactly as the tool wrote it. */
  readonly samplerLabel?: string;
  /** The sigma schedule as the tool wrote it ("karras", "Karras", "normal"), where it is written apart. */
  readonly scheduler?: string;
  /** Size of the generation as set in the tool (not of the file's pixels, which may be cropped or upscaled). */
  readonly width?: number;
  readonly height?: number;
  readonly modelName?: string;
  /** As the tool wrote it; for AUTOMATIC1111 ≥ 1.0 this is the AUTOV2 short hash (10 hex digits). */
  readonly modelHash?: string;
  readonly modelFamily?: ModelFamily;
  readonly loras?: readonly ImportedLora[];
  /** Complete settings, only for images made by AFA Studio. */
  readonly settings?: GenerationSettings;
  /** Further key/value pairs the tool recorded that have no field above, as text. */
  readonly other: Readonly<Record<string, string>>;
}

/** A finite number from a JSON value or text, else undefined. */
export function numberFrom(value: unknown): number | undefined {
  const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(number) ? number : undefined;
}

export function integerFrom(value: unknown): number | undefined {
  const number = numberFrom(value);
  return number !== undefined && Number.isSafeInteger(number) ? number : undefined;
}

/** A seed from a JSON number, exact-digit string or text; negative seeds (A1111's -1 "random") are kept. */
export function seedFrom(value: unknown): ImportedSeed | undefined {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!/^-?\d+$/.test(text)) return undefined;
  const big = BigInt(text);
  return Number.isSafeInteger(Number(big)) ? Number(big) : big.toString();
}

export function textFrom(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A JSON value as text for `other`: strings as they are, everything else as JSON. */
export function otherText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Drops undefined fields so results compare and serialise cleanly. */
export function compact(settings: ImportedSettings): ImportedSettings {
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)) as unknown as ImportedSettings;
}

// Names that give the family away: "sd_xl_base_1.0", "ponyDiffusionV6XL", "flux1-dev", "sd3.5_large".
const FAMILY_PATTERNS: readonly (readonly [RegExp, ModelFamily])[] = [
  [/flux/i, 'flux'],
  [/(^|[^a-z])sd[-_ ]?3|stable[-_ ]?diffusion[-_ ]?3/i, 'sd3'],
  [/sd[-_ ]?xl|xl($|[^a-z])|[-_ ]xl|pony|illustrious|noobai|playground|juggernautxl|sdxl|animagine/i, 'sdxl'],
  [/(^|[^a-z0-9])(v2[-_.]|sd[-_ ]?2[-_.]|768-v)/i, 'sd2'],
  [/(^|[^a-z0-9])(v1[-_.]5|sd[-_ ]?1[-_.]?[45]|sd15)/i, 'sd1'],
];

/** The family a model's name gives away, else undefined. */
export function familyFromName(name: string | undefined): ModelFamily | undefined {
  if (!name) return undefined;
  for (const [pattern, family] of FAMILY_PATTERNS) if (pattern.test(name)) return family;
  return undefined;
}
