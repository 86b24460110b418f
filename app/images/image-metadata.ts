// Where images keep their text metadata, across the three formats generators save:
// - PNG: tEXt, zTXt and iTXt chunks anywhere in the file (PNG 3rd ed. §11.3.3), eXIf (EXIF in PNG),
//   and XMP in the iTXt chunk "XML:com.adobe.xmp";
// - JPEG: APP1 "Exif\0\0" (TIFF/EXIF), APP1 "http://ns.adobe.com/xap/1.0/\0" (XMP), COM segments;
// - WebP: the RIFF chunks "EXIF" and "XMP " of the extended format (VP8X).
// Reading never throws for damaged or truncated files: what could be read is returned and what was
// wrong is listed in `problems`, so that a caller can say what the file holds.
import { UserError } from '../common/errors.ts';
import { decodeEightBit, readExifText } from './exif.ts';
import { crc32, isPng, PNG_SIGNATURE } from './png-chunks.ts';
import { decodeTextChunk, isTextChunk } from './png-text.ts';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

/** Where one piece of text came from: a PNG text chunk type, an EXIF tag, an XMP packet or a JPEG comment. */
export type MetadataContainer = 'tEXt' | 'zTXt' | 'iTXt' | 'EXIF' | 'XMP' | 'COM';

export interface MetadataEntry {
  readonly container: MetadataContainer;
  /** The PNG keyword, the EXIF tag name ("UserComment", "Make"), or "XMP" / "Comment". */
  readonly key: string;
  readonly text: string;
}

export interface ImageMetadata {
  readonly format: ImageFormat | 'unknown';
  /** Pixel size from the file header, when the header could be read. */
  readonly width?: number;
  readonly height?: number;
  readonly entries: MetadataEntry[];
  /** Damage found while reading, in words. */
  readonly problems: string[];
}

export const XMP_KEYWORD = 'XML:com.adobe.xmp';
const XMP_JPEG_SIGNATURE = 'http://ns.adobe.com/xap/1.0/\0';

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

function addExif(block: Uint8Array, entries: MetadataEntry[], problems: string[]): void {
  const exif = readExifText(block);
  for (const { tag, text } of exif.texts) entries.push({ container: 'EXIF', key: tag, text });
  problems.push(...exif.problems);
}

function readPng(bytes: Uint8Array): ImageMetadata {
  const entries: MetadataEntry[] = [];
  const problems: string[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width: number | undefined;
  let height: number | undefined;
  let offset = PNG_SIGNATURE.length;
  let ended = false;
  while (offset + 12 <= bytes.length) {
    const length = view.getUint32(offset);
    const type = ascii(bytes, offset + 4, 4);
    if (length > 0x7fffffff || offset + 12 + length > bytes.length) {
      problems.push(`The file is truncated: its ${JSON.stringify(type)} chunk at byte ${offset} runs past the end of the file.`);
      break;
    }
    const typeBytes = bytes.subarray(offset + 4, offset + 8);
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    const crcOk = view.getUint32(offset + 8 + length) === crc32(typeBytes, data);
    offset += 12 + length;
    if (type === 'IHDR' && length >= 8) {
      width = view.getUint32(offset - 12 - length + 8);
      height = view.getUint32(offset - 12 - length + 12);
    }
    if (type === 'IEND') {
      ended = true;
      break;
    }
    if (!isTextChunk({ type, data }) && type !== 'eXIf') continue;
    // A damaged CRC is noted; the text is still read when it decodes (a wrong CRC is often all that differs).
    if (!crcOk) problems.push(`The ${type} chunk at byte ${offset - 12 - length} fails its CRC check.`);
    if (type === 'eXIf') {
      addExif(data, entries, problems);
      continue;
    }
    try {
      const chunk = decodeTextChunk({ type, data });
      if (chunk.keyword === XMP_KEYWORD) entries.push({ container: 'XMP', key: 'XMP', text: chunk.text });
      else entries.push({ container: type as MetadataContainer, key: chunk.keyword, text: chunk.text });
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      problems.push(error.message);
    }
  }
  if (!ended && problems.every((problem) => !problem.startsWith('The file is truncated'))) {
    problems.push('The file is truncated: it ends before its IEND chunk.');
  }
  return { format: 'png', ...(width === undefined ? {} : { width, height }), entries, problems };
}

// JPEG markers (ITU T.81 Annex B): SOI, then segments `FF xx length(u16 BE, includes itself) data`
// until SOS, after which entropy-coded data follows. SOF0–SOF15 (except DHT C4, JPG C8, DAC CC) carry the size.
function readJpeg(bytes: Uint8Array): ImageMetadata {
  const entries: MetadataEntry[] = [];
  const problems: string[] = [];
  let width: number | undefined;
  let height: number | undefined;
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) {
      problems.push(`The JPEG structure is damaged at byte ${offset} (no segment marker).`);
      break;
    }
    const marker = bytes[offset + 1]!;
    if (marker === 0xff) {
      offset++;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2;
      continue;
    }
    const length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    if (length < 2 || offset + 2 + length > bytes.length) {
      problems.push(`The file is truncated: a JPEG segment at byte ${offset} runs past the end of the file.`);
      break;
    }
    const data = bytes.subarray(offset + 4, offset + 2 + length);
    if (marker === 0xe1 && ascii(data, 0, 6) === 'Exif\0\0') addExif(data.subarray(6), entries, problems);
    else if (marker === 0xe1 && ascii(data, 0, XMP_JPEG_SIGNATURE.length) === XMP_JPEG_SIGNATURE) {
      entries.push({ container: 'XMP', key: 'XMP', text: new TextDecoder().decode(data.subarray(XMP_JPEG_SIGNATURE.length)) });
    } else if (marker === 0xfe) {
      const text = decodeEightBit(data).replace(/\0+$/, '');
      if (text !== '') entries.push({ container: 'COM', key: 'Comment', text });
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc && data.length >= 5) {
      height = (data[1]! << 8) | data[2]!;
      width = (data[3]! << 8) | data[4]!;
    }
    offset += 2 + length;
  }
  return { format: 'jpeg', ...(width === undefined ? {} : { width, height }), entries, problems };
}

// WebP (RIFF container, Google's WebP container specification): "RIFF" size "WEBP", then chunks of
// `fourcc | size (u32 LE) | data | pad to even`. VP8X holds the canvas size minus one as 24-bit values.
function readWebp(bytes: Uint8Array): ImageMetadata {
  const entries: MetadataEntry[] = [];
  const problems: string[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width: number | undefined;
  let height: number | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const fourcc = ascii(bytes, offset, 4);
    const size = view.getUint32(offset + 4, true);
    if (offset + 8 + size > bytes.length) {
      problems.push(`The file is truncated: its ${JSON.stringify(fourcc)} chunk at byte ${offset} runs past the end of the file.`);
      break;
    }
    const data = bytes.subarray(offset + 8, offset + 8 + size);
    if (fourcc === 'VP8X' && size >= 10) {
      width = 1 + (data[4]! | (data[5]! << 8) | (data[6]! << 16));
      height = 1 + (data[7]! | (data[8]! << 8) | (data[9]! << 16));
    } else if (fourcc === 'VP8 ' && size >= 10 && width === undefined) {
      width = (data[6]! | (data[7]! << 8)) & 0x3fff;
      height = (data[8]! | (data[9]! << 8)) & 0x3fff;
    } else if (fourcc === 'VP8L' && size >= 5 && width === undefined) {
      const bits = data[1]! | (data[2]! << 8) | (data[3]! << 16) | (data[4]! << 24);
      width = (bits & 0x3fff) + 1;
      height = ((bits >>> 14) & 0x3fff) + 1;
    } else if (fourcc === 'EXIF') addExif(data, entries, problems);
    else if (fourcc === 'XMP ') entries.push({ container: 'XMP', key: 'XMP', text: new TextDecoder().decode(data) });
    offset += 8 + size + (size % 2);
  }
  return { format: 'webp', ...(width === undefined ? {} : { width, height }), entries, problems };
}

export function imageFormatOf(bytes: Uint8Array): ImageFormat | undefined {
  if (isPng(bytes)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return 'webp';
  return undefined;
}

/** Every piece of text metadata in a PNG, JPEG or WebP file, in file order. Never throws. */
export function readImageMetadata(bytes: Uint8Array): ImageMetadata {
  switch (imageFormatOf(bytes)) {
    case 'png':
      return readPng(bytes);
    case 'jpeg':
      return readJpeg(bytes);
    case 'webp':
      return readWebp(bytes);
    default:
      return { format: 'unknown', entries: [], problems: ['The file is not a PNG, JPEG or WebP image.'] };
  }
}

// "workflow:{...}" / "prompt:{...}": how ComfyUI's savers put one extra_pnginfo key per EXIF tag.
const KEYED_JSON = /^([A-Za-z_][\w-]*):\s*([{[][\s\S]*)$/;

/**
 * The texts by the keyword each tool's reader looks for, PNG keywords as they are and the other
 * containers mapped onto them: EXIF UserComment → "parameters" (where A1111, Forge, SwarmUI and
 * Fooocus write what a PNG keeps in "parameters"), ComfyUI's "key:json" EXIF values → their key,
 * MakerNote "fooocus"/"a1111" → "fooocus_scheme", XMP → "XML:com.adobe.xmp". The first text of a
 * keyword wins, as PIL reads PNGs.
 */
export function metadataTexts(entries: readonly MetadataEntry[]): Map<string, string> {
  const out = new Map<string, string>();
  const set = (key: string, text: string) => {
    if (!out.has(key)) out.set(key, text);
  };
  for (const entry of entries) {
    if (entry.container === 'tEXt' || entry.container === 'zTXt' || entry.container === 'iTXt') set(entry.key, entry.text);
  }
  for (const entry of entries) {
    if (entry.container === 'XMP') set(XMP_KEYWORD, entry.text);
    else if (entry.container === 'COM') set('Comment', entry.text);
    else if (entry.container === 'EXIF') {
      const keyed = KEYED_JSON.exec(entry.text);
      if (keyed && entry.key !== 'UserComment') set(keyed[1]!, keyed[2]!);
      else if (entry.key === 'UserComment' || entry.key === 'XPComment') set('parameters', entry.text);
      else if (entry.key === 'MakerNote' && /^(fooocus|a1111)$/.test(entry.text.trim())) set('fooocus_scheme', entry.text.trim());
      else if (entry.key === 'ImageDescription') set('Description', entry.text);
      else set(entry.key, entry.text);
    }
  }
  return out;
}
