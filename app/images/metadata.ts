// The settings an image carries. Our PNGs hold them twice:
// - `parameters`: AUTOMATIC1111's infotext (a1111-parameters.ts), so other tools and image viewers
//   show prompt, seed and sampler;
// - `afa-studio`: a compressed iTXt chunk with the complete JSON record (schema-versioned), from which
//   the image can be reproduced exactly, ensemble recipe included.
// Reading falls back to the other tools' formats for images made elsewhere.
import { readPngText } from './png.ts';
import type { PngTextChunk } from './png-text.ts';
import { a1111ParametersFor, importedFromA1111 } from './a1111-parameters.ts';
import { importedFromComfyUi } from './comfyui-metadata.ts';
import { importedFromInvokeAi } from './invokeai-metadata.ts';
import { checkGenerationSettings, type GenerationSettings, type GenerationTimings } from './generation-settings.ts';
import { compact, type ImportedSettings } from './imported-settings.ts';

export const STUDIO_CHUNK_KEYWORD = 'afa-studio';
export const A1111_CHUNK_KEYWORD = 'parameters';
/** Bumped when a field changes meaning; readers accept older versions and read newer ones best-effort. */
export const STUDIO_METADATA_VERSION = 1;

export interface StudioMetadata {
  readonly schema: 'afa-studio/generation';
  readonly version: number;
  readonly appVersion?: string;
  readonly generationId?: string;
  /** ms since the epoch. */
  readonly createdAt?: number;
  readonly settings: GenerationSettings;
  readonly timings?: GenerationTimings;
}

export interface StudioMetadataInput {
  readonly settings: GenerationSettings;
  readonly timings?: GenerationTimings;
  readonly generationId?: string;
  readonly createdAt?: number;
  readonly appVersion?: string;
}

/** The two text chunks to embed in a generated image. */
export function studioTextChunks(input: StudioMetadataInput): PngTextChunk[] {
  checkGenerationSettings(input.settings);
  const metadata: StudioMetadata = {
    schema: 'afa-studio/generation',
    version: STUDIO_METADATA_VERSION,
    ...(input.appVersion === undefined ? {} : { appVersion: input.appVersion }),
    ...(input.generationId === undefined ? {} : { generationId: input.generationId }),
    ...(input.createdAt === undefined ? {} : { createdAt: input.createdAt }),
    settings: input.settings,
    ...(input.timings === undefined ? {} : { timings: input.timings }),
  };
  const version = input.appVersion ? `AFA Studio ${input.appVersion}` : undefined;
  return [
    { keyword: A1111_CHUNK_KEYWORD, text: a1111ParametersFor(input.settings, version) },
    { keyword: STUDIO_CHUNK_KEYWORD, kind: 'iTXt', compressed: true, text: JSON.stringify(metadata) },
  ];
}

/** Our JSON record, when present and well formed. */
export function readStudioMetadata(text: ReadonlyMap<string, string>): StudioMetadata | undefined {
  const raw = text.get(STUDIO_CHUNK_KEYWORD);
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const metadata = value as Partial<StudioMetadata> | null;
  if (metadata?.schema !== 'afa-studio/generation' || typeof metadata.version !== 'number' || !metadata.settings) return undefined;
  try {
    checkGenerationSettings(metadata.settings);
  } catch {
    return undefined;
  }
  return metadata as StudioMetadata;
}

function fromStudio(metadata: StudioMetadata): ImportedSettings {
  const { settings } = metadata;
  const single = settings.recipe.members.length === 1 ? settings.recipe.members[0] : undefined;
  return compact({
    source: 'afa-studio',
    prompt: settings.prompt,
    negativePrompt: settings.negativePrompt,
    seed: settings.seed,
    steps: settings.steps,
    guidance: settings.guidance,
    sampler: settings.sampler,
    samplerLabel: settings.sampler,
    width: settings.width,
    height: settings.height,
    modelName: single?.name ?? settings.recipe.name ?? undefined,
    modelHash: single?.shortHash ?? undefined,
    settings,
    other: {},
  });
}

/**
 * What the image says about how it was made, from the best source present: our own record, then
 * AUTOMATIC1111's `parameters`, then InvokeAI's and ComfyUI's chunks. Undefined when there is none.
 */
export function readImageSettings(source: string | Uint8Array | ReadonlyMap<string, string>): ImportedSettings | undefined {
  const text = source instanceof Map ? (source as ReadonlyMap<string, string>) : readPngText(source as string | Uint8Array);
  const studio = readStudioMetadata(text);
  if (studio) return fromStudio(studio);
  const parameters = text.get(A1111_CHUNK_KEYWORD);
  if (parameters !== undefined && parameters.trim() !== '') return importedFromA1111(parameters);
  return importedFromInvokeAi(text) ?? importedFromComfyUi(text);
}
