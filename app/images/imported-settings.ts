// What an image's metadata says about how it was made, normalised across tools. Every field is
// optional because every tool leaves different things out.
import type { GenerationSettings } from './generation-settings.ts';

export type SettingsSource = 'afa-studio' | 'automatic1111' | 'invokeai' | 'comfyui';

export interface ImportedSettings {
  readonly source: SettingsSource;
  readonly prompt?: string;
  readonly negativePrompt?: string;
  readonly seed?: number;
  readonly steps?: number;
  readonly guidance?: number;
  /** Our sampler id where the tool's name is known, else the tool's own name. */
  readonly sampler?: string;
  /** The sampler exactly as the tool wrote it. */
  readonly samplerLabel?: string;
  readonly width?: number;
  readonly height?: number;
  readonly modelName?: string;
  /** As the tool wrote it; for AUTOMATIC1111 ≥ 1.0 this is the AUTOV2 short hash (10 hex digits). */
  readonly modelHash?: string;
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

export function textFrom(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Drops undefined fields so results compare and serialise cleanly. */
export function compact(settings: ImportedSettings): ImportedSettings {
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)) as unknown as ImportedSettings;
}
