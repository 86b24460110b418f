// The settings an image carries. Our PNGs hold them twice:
// - `parameters`: AUTOMATIC1111's infotext (a1111-parameters.ts), so other tools and image viewers
//   show prompt, seed and sampler;
// - `afa-studio`: a compressed iTXt chunk with the complete JSON record (schema-versioned), from which
//   the image can be reproduced exactly, ensemble recipe included.
// Reading falls back to the other tools' formats for images made elsewhere (PNG, JPEG or WebP).
import { readFileSync } from 'node:fs';
import type { PngTextChunk } from './png-text.ts';
import { a1111ParametersFor, importedFromA1111, parseA1111Parameters } from './a1111-parameters.ts';
import { importedFromComfyUi } from './comfyui-metadata.ts';
import { importedFromDiffusionBee } from './diffusionbee-metadata.ts';
import { importedFromDrawThings } from './draw-things-metadata.ts';
import { importedFromFooocus } from './fooocus-metadata.ts';
import { importedFromInvokeAi } from './invokeai-metadata.ts';
import { importedFromNovelAi } from './novelai-metadata.ts';
import { importedFromStabilityMatrix } from './stability-matrix-metadata.ts';
import { importedFromSwarmUi } from './swarmui-metadata.ts';
import { checkGenerationSettings, type GenerationSettings, type GenerationTimings } from './generation-settings.ts';
import { metadataTexts, readImageMetadata } from './image-metadata.ts';
import { compact, type ImportedSettings, type SettingsSource } from './imported-settings.ts';

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

/** `primary` with the fields it lacks taken from `secondary`; `other` keys of both, primary's winning. */
function fillFrom(primary: ImportedSettings, secondary: ImportedSettings | undefined, source: SettingsSource = primary.source): ImportedSettings {
  if (!secondary) return { ...primary, source };
  return compact({ ...secondary, ...primary, source, other: { ...secondary.other, ...primary.other } });
}

function isInfotext(text: string | undefined): text is string {
  if (text === undefined || text.trim() === '' || text.trim().startsWith('{')) return false;
  return parseA1111Parameters(text).params.size >= 3;
}

/**
 * What the texts say about how the image was made, from the best source present: our own record, then
 * the tools whose chunks name them (NovelAI, SwarmUI, Fooocus, RuinedFooocus, InvokeAI, Stability
 * Matrix), then A1111-style `parameters` (with a ComfyUI graph beside it: SaveImageWithMetaData), then
 * ComfyUI's graphs, Draw Things' XMP and DiffusionBee's options. Undefined when there is none.
 */
export function settingsFromTexts(text: ReadonlyMap<string, string>): ImportedSettings | undefined {
  const studio = readStudioMetadata(text);
  if (studio) return fromStudio(studio);
  const named = importedFromNovelAi(text) ?? importedFromSwarmUi(text) ?? importedFromFooocus(text) ?? importedFromInvokeAi(text);
  if (named) return named;
  const parameters = text.get(A1111_CHUNK_KEYWORD);
  const infotext = isInfotext(parameters) ? importedFromA1111(parameters) : undefined;
  const matrix = importedFromStabilityMatrix(text);
  if (matrix) return fillFrom(matrix, infotext);
  const comfy = importedFromComfyUi(text);
  if (infotext) {
    if (text.get('fooocus_scheme') === 'a1111') return { ...infotext, source: 'fooocus' };
    // ComfyUI's SaveImageWithMetaData writes A1111's infotext next to the graphs.
    return comfy ? fillFrom(infotext, comfy, 'comfyui') : infotext;
  }
  const rest = comfy ?? importedFromDrawThings(text) ?? importedFromDiffusionBee(text);
  if (rest) return rest;
  // A plain-text parameters chunk with fewer than three settings is still a prompt (A1111 writes that
  // for images whose settings were stripped down); JPEG comments sometimes carry the infotext too.
  if (parameters !== undefined && parameters.trim() !== '' && !parameters.trim().startsWith('{')) return importedFromA1111(parameters);
  const comment = text.get('Comment');
  return isInfotext(comment) ? importedFromA1111(comment) : undefined;
}

/**
 * What the image says about how it was made (a PNG, JPEG or WebP file, its bytes, or its texts by
 * keyword). Undefined when it carries no settings; damaged metadata never throws.
 */
export function readImageSettings(source: string | Uint8Array | ReadonlyMap<string, string>): ImportedSettings | undefined {
  if (source instanceof Map) return settingsFromTexts(source as ReadonlyMap<string, string>);
  const bytes = typeof source === 'string' ? readFileSync(source) : (source as Uint8Array);
  return settingsFromTexts(metadataTexts(readImageMetadata(bytes).entries));
}
