// "How was this made": an image's settings as `afa info` and the UI show them — the normalised fields,
// the tool's other keys, every metadata text as found (the raw chunks), and what was wrong with the file.
import { readFileSync } from 'node:fs';
import { readImageMetadata, metadataTexts, type ImageFormat, type MetadataEntry } from './image-metadata.ts';
import { SOURCE_NAMES, type ImportedSettings } from './imported-settings.ts';
import { settingsFromTexts } from './metadata.ts';

export interface ImageInfo {
  readonly format: ImageFormat | 'unknown';
  /** Pixel size of the file (which may differ from the generation size in `settings`). */
  readonly pixelWidth?: number;
  readonly pixelHeight?: number;
  /** Undefined when the file carries no settings the studio recognises. */
  readonly settings?: ImportedSettings;
  readonly chunks: readonly MetadataEntry[];
  readonly problems: readonly string[];
}

export function readImageInfo(source: string | Uint8Array): ImageInfo {
  const bytes = typeof source === 'string' ? readFileSync(source) : source;
  const metadata = readImageMetadata(bytes);
  const settings = settingsFromTexts(metadataTexts(metadata.entries));
  return {
    format: metadata.format,
    ...(metadata.width === undefined ? {} : { pixelWidth: metadata.width, pixelHeight: metadata.height }),
    ...(settings ? { settings } : {}),
    chunks: metadata.entries,
    problems: metadata.problems,
  };
}

const FORMAT_NAMES: Readonly<Record<ImageFormat, string>> = { png: 'PNG', jpeg: 'JPEG', webp: 'WebP' };

/** What a file holds, in words, for when it carries no settings: "a PNG image (512x512) with text chunks Title, Software". */
export function describeContents(info: ImageInfo): string {
  if (info.format === 'unknown') return 'it is not a PNG, JPEG or WebP image';
  const size = info.pixelWidth === undefined ? '' : ` (${info.pixelWidth}x${info.pixelHeight})`;
  const keys = [...new Set(info.chunks.map((chunk) => (chunk.container === 'EXIF' ? `EXIF ${chunk.key}` : chunk.container === 'XMP' || chunk.container === 'COM' ? chunk.key : chunk.key)))];
  const holds = keys.length === 0 ? 'no text metadata' : `metadata ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? `, and ${keys.length - 8} more` : ''}, none of it generation settings the studio recognises`;
  const damage = info.problems.length > 0 ? `; ${info.problems.join(' ')}` : '';
  return `it is a ${FORMAT_NAMES[info.format]} image${size} with ${holds}${damage}`;
}

export function toolName(settings: ImportedSettings): string {
  return SOURCE_NAMES[settings.source];
}
