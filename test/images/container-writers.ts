// Writers for the containers generators put their metadata in, built from the specifications (PNG 3rd
// ed., TIFF 6.0 / EXIF 2.32, JPEG T.81, the WebP container) and laid out the way each tool's library
// writes them: piexif (A1111, Forge) — big-endian TIFF, UserComment in the Exif IFD with the
// "UNICODE\0" code and UTF-16BE; Pillow's Image.Exif (ComfyUI, Fooocus) — little-endian TIFF, every
// tag in IFD0, str values as bytes without a character code; ImageSharp (SwarmUI) — little-endian,
// UserComment "UNICODE\0" + UTF-16LE in the Exif IFD.
import { deflateSync } from 'node:zlib';
import { assemblePng, type PngChunk } from '../../app/images/png-chunks.ts';
import { encodeTextChunk, type PngTextChunk } from '../../app/images/png-text.ts';
import { encodePng } from '../../app/images/png.ts';
import { readChunks } from '../../app/images/png-chunks.ts';
import { testImage } from './foreign-fixtures.ts';

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export const ascii = (text: string): Uint8Array => Uint8Array.from(text, (char) => char.charCodeAt(0) & 0xff);
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

export function utf16(text: string, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < text.length; i++) view.setUint16(i * 2, text.charCodeAt(i), littleEndian);
  return out;
}

/** A PNG chunk as raw bytes: for text written the way a tool does it (UTF-8 in tEXt, say). */
export function rawText(type: 'tEXt' | 'zTXt' | 'iTXt', keyword: string, body: Uint8Array): PngChunk {
  if (type === 'tEXt') return { type, data: concat(ascii(keyword), Uint8Array.of(0), body) };
  if (type === 'zTXt') return { type, data: concat(ascii(keyword), Uint8Array.of(0, 0), deflateSync(body)) };
  return { type, data: concat(ascii(keyword), Uint8Array.of(0, 0, 0, 0, 0), body) };
}

/**
 * A real PNG (our encoder's pixels) with `before` chunks after IHDR and `after` chunks between the
 * image data and IEND — text chunks may sit anywhere.
 */
export function pngWithChunks(before: readonly (PngChunk | PngTextChunk)[], after: readonly (PngChunk | PngTextChunk)[] = [], width = 24, height = 16): Uint8Array {
  const base = readChunks(encodePng(testImage(width, height)));
  const asChunk = (chunk: PngChunk | PngTextChunk): PngChunk => ('type' in chunk ? chunk : encodeTextChunk(chunk));
  const [header, ...rest] = base;
  const end = rest.pop()!;
  return assemblePng([header!, ...before.map(asChunk), ...rest, ...after.map(asChunk), end]);
}

export interface TiffValue {
  /** TIFF field type: 2 ASCII, 7 UNDEFINED, 1 BYTE. */
  readonly type: 2 | 7 | 1;
  readonly bytes: Uint8Array;
}

/** An ASCII field as Pillow and piexif write a str: the bytes and a terminating NUL. */
export const asciiField = (text: string): TiffValue => ({ type: 2, bytes: concat(utf8(text), Uint8Array.of(0)) });
export const undefinedField = (bytes: Uint8Array): TiffValue => ({ type: 7, bytes });

/**
 * A TIFF structure ("II"/"MM", 42, IFD0 at 8) with IFD0's tags and, when given, an Exif IFD linked
 * from IFD0 by tag 0x8769. Values longer than 4 bytes follow each IFD, word-aligned.
 */
export function tiff(littleEndian: boolean, ifd0: ReadonlyMap<number, TiffValue>, exifIfd?: ReadonlyMap<number, TiffValue>): Uint8Array {
  const ifdSize = (count: number) => 2 + count * 12 + 4;
  const dataSize = (values: ReadonlyMap<number, TiffValue>) => [...values.values()].reduce((sum, value) => sum + (value.bytes.length > 4 ? value.bytes.length + (value.bytes.length % 2) : 0), 0);
  const ifd0Count = ifd0.size + (exifIfd ? 1 : 0);
  const ifd0Offset = 8;
  const exifOffset = ifd0Offset + ifdSize(ifd0Count) + dataSize(ifd0);
  const total = exifOffset + (exifIfd ? ifdSize(exifIfd.size) + dataSize(exifIfd) : 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(ascii(littleEndian ? 'II' : 'MM'), 0);
  view.setUint16(2, 42, littleEndian);
  view.setUint32(4, ifd0Offset, littleEndian);
  const writeIfd = (offset: number, values: ReadonlyMap<number, TiffValue>, pointer?: number) => {
    const entries = [...values.entries()].map(([tag, value]) => ({ tag, value: value as TiffValue | undefined }));
    if (pointer !== undefined) entries.push({ tag: 0x8769, value: undefined });
    entries.sort((a, b) => a.tag - b.tag);
    view.setUint16(offset, entries.length, littleEndian);
    let data = offset + ifdSize(entries.length);
    entries.forEach(({ tag, value }, i) => {
      const entry = offset + 2 + i * 12;
      view.setUint16(entry, tag, littleEndian);
      if (value === undefined) {
        view.setUint16(entry + 2, 4, littleEndian);
        view.setUint32(entry + 4, 1, littleEndian);
        view.setUint32(entry + 8, pointer!, littleEndian);
        return;
      }
      view.setUint16(entry + 2, value.type, littleEndian);
      view.setUint32(entry + 4, value.bytes.length, littleEndian);
      if (value.bytes.length <= 4) out.set(value.bytes, entry + 8);
      else {
        view.setUint32(entry + 8, data, littleEndian);
        out.set(value.bytes, data);
        data += value.bytes.length + (value.bytes.length % 2);
      }
    });
    view.setUint32(offset + 2 + entries.length * 12, 0, littleEndian);
  };
  writeIfd(ifd0Offset, ifd0, exifIfd ? exifOffset : undefined);
  if (exifIfd) writeIfd(exifOffset, exifIfd);
  return out;
}

/** piexif.helper.UserComment.dump(text, encoding="unicode"): "UNICODE\0" + UTF-16BE. */
export function piexifUnicode(text: string): Uint8Array {
  return concat(ascii('UNICODE\0'), utf16(text, false));
}

/** What A1111 and Forge embed in JPEG and WebP: piexif.dump({"Exif": {UserComment: unicode}}). */
export function a1111Exif(parameters: string): Uint8Array {
  return tiff(false, new Map(), new Map([[0x9286, undefinedField(piexifUnicode(parameters))]]));
}

function segment(marker: number, body: Uint8Array): Uint8Array {
  const header = Uint8Array.of(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff);
  return concat(header, body);
}

export interface JpegParts {
  readonly exif?: Uint8Array;
  readonly xmp?: string;
  readonly comment?: Uint8Array;
  readonly width?: number;
  readonly height?: number;
}

/**
 * A JPEG's marker structure: SOI, APP0 JFIF, APP1 Exif, APP1 XMP, COM, a baseline SOF0 with the size,
 * then SOS and EOI (no entropy-coded data: the readers never decode pixels of these fixtures). With
 * `image`, the parts are spliced after the SOI of a real JPEG instead.
 */
export function jpegWith(parts: JpegParts, image?: Uint8Array): Uint8Array {
  const segments: Uint8Array[] = [];
  if (!image) segments.push(segment(0xe0, concat(ascii('JFIF\0'), Uint8Array.of(1, 1, 0, 0, 1, 0, 1, 0, 0))));
  if (parts.exif) segments.push(segment(0xe1, concat(ascii('Exif\0\0'), parts.exif)));
  if (parts.xmp !== undefined) segments.push(segment(0xe1, concat(ascii('http://ns.adobe.com/xap/1.0/\0'), utf8(parts.xmp))));
  if (parts.comment) segments.push(segment(0xfe, parts.comment));
  if (image) return concat(image.subarray(0, 2), ...segments, image.subarray(2));
  const width = parts.width ?? 64;
  const height = parts.height ?? 48;
  segments.push(segment(0xc0, Uint8Array.of(8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0)));
  segments.push(segment(0xda, Uint8Array.of(1, 1, 0, 0, 63, 0)));
  return concat(Uint8Array.of(0xff, 0xd8), ...segments, Uint8Array.of(0xff, 0xd9));
}

function riffChunk(fourcc: string, data: Uint8Array): Uint8Array {
  const header = new Uint8Array(8);
  header.set(ascii(fourcc), 0);
  new DataView(header.buffer).setUint32(4, data.length, true);
  return concat(header, data, data.length % 2 ? Uint8Array.of(0) : new Uint8Array(0));
}

/**
 * An extended WebP (VP8X) with EXIF and XMP chunks after the image data, as libwebp's muxer (and so
 * Pillow) writes them. `imageChunks` are the VP8/VP8L chunk(s) of a real WebP; without them a stand-in
 * VP8L chunk is written.
 */
export function webpWith(parts: { exif?: Uint8Array; xmp?: string; width?: number; height?: number }, imageChunks?: Uint8Array): Uint8Array {
  const width = parts.width ?? 64;
  const height = parts.height ?? 48;
  const vp8x = new Uint8Array(10);
  vp8x[0] = (parts.exif ? 0x08 : 0) | (parts.xmp !== undefined ? 0x04 : 0);
  const put24 = (offset: number, value: number) => {
    vp8x[offset] = value & 0xff;
    vp8x[offset + 1] = (value >> 8) & 0xff;
    vp8x[offset + 2] = (value >> 16) & 0xff;
  };
  put24(4, width - 1);
  put24(7, height - 1);
  const body = concat(
    ascii('WEBP'),
    riffChunk('VP8X', vp8x),
    imageChunks ?? riffChunk('VP8L', Uint8Array.of(0x2f, 0, 0, 0, 0)),
    parts.exif ? riffChunk('EXIF', parts.exif) : new Uint8Array(0),
    parts.xmp !== undefined ? riffChunk('XMP ', utf8(parts.xmp)) : new Uint8Array(0),
  );
  const header = new Uint8Array(8);
  header.set(ascii('RIFF'), 0);
  new DataView(header.buffer).setUint32(4, body.length, true);
  return concat(header, body);
}

/** The VP8/VP8L/ALPH chunks of a simple WebP file (everything after "RIFF" size "WEBP"). */
export function webpImageChunks(simple: Uint8Array): Uint8Array {
  return simple.subarray(12);
}
