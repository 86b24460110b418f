// PNG images: encoding 8-bit RGB/RGBA pixels with text chunks, decoding pixels (through pngjs, which
// handles every colour type, bit depth and interlacing) and reading text chunks from any PNG.
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { deflate, deflateSync } from 'node:zlib';
import { inSlices, pixelsPerSlice } from '../common/slices.ts';
import { PNG } from 'pngjs';
import { UserError } from '../common/errors.ts';
import { assemblePng, isPng, readChunks, type PngChunk } from './png-chunks.ts';
import { decodeTextChunk, encodeTextChunk, isTextChunk, type PngTextChunk } from './png-text.ts';

/** Interleaved 8-bit pixels, row-major: data[(y * width + x) * channels + c]. */
export interface PixelImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
  readonly data: Uint8Array;
}

export interface PngHeader {
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  /** PNG colour type: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
  readonly colorType: number;
}

export function checkPixelImage(image: PixelImage): void {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 65535 || height > 65535) {
    throw new UserError('invalid-argument', `An image of ${width}x${height} pixels cannot be saved.`, 'Width and height must be 1–65535.');
  }
  if (channels !== 3 && channels !== 4) throw new UserError('invalid-argument', `Images have 3 or 4 channels, not ${channels}.`);
  if (data.length !== width * height * channels) {
    throw new UserError('invalid-argument', `A ${width}x${height}x${channels} image needs ${width * height * channels} bytes, got ${data.length}.`);
  }
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Each scanline gets the filter (0 None … 4 Paeth, spec §7.3) whose output has the smallest sum of
// absolute values taken as signed bytes: the heuristic the PNG spec §12.8 recommends for truecolour.
// Filters rows [from, to) of `image` into `out` (height × (1 + stride) bytes).
function filterRows(image: PixelImage, out: Uint8Array, from: number, to: number): void {
  const { width, channels, data } = image;
  const stride = width * channels;
  const candidate = new Uint8Array(stride);
  const zeros = new Uint8Array(stride);
  for (let y = from; y < to; y++) {
    const row = data.subarray(y * stride, (y + 1) * stride);
    const above = y > 0 ? data.subarray((y - 1) * stride, y * stride) : zeros;
    let bestFilter = 0;
    let bestScore = Infinity;
    const target = out.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let filter = 0; filter <= 4; filter++) {
      let score = 0;
      for (let i = 0; i < stride; i++) {
        const left = i >= channels ? row[i - channels] : 0;
        const upLeft = i >= channels ? above[i - channels] : 0;
        let predictor = 0;
        if (filter === 1) predictor = left;
        else if (filter === 2) predictor = above[i];
        else if (filter === 3) predictor = (left + above[i]) >> 1;
        else if (filter === 4) predictor = paeth(left, above[i], upLeft);
        const value = (row[i] - predictor) & 0xff;
        candidate[i] = value;
        score += value < 128 ? value : 256 - value;
        if (score >= bestScore) break;
      }
      if (score < bestScore) {
        bestScore = score;
        bestFilter = filter;
        target.set(candidate);
      }
    }
    out[y * (stride + 1)] = bestFilter;
  }
}

function filterScanlines(image: PixelImage): Uint8Array {
  const out = new Uint8Array(image.height * (image.width * image.channels + 1));
  filterRows(image, out, 0, image.height);
  return out;
}

/** Encodes 8-bit RGB/RGBA pixels as a PNG, with the given text chunks placed before the image data. */
export function encodePng(image: PixelImage, text: readonly PngTextChunk[] = []): Uint8Array {
  checkPixelImage(image);
  return assembleImage(image, text, deflateSync(filterScanlines(image), deflateOptions));
}

const deflateOptions = { level: 6 } as const;
const deflateAsync = promisify(deflate);

function assembleImage(image: PixelImage, text: readonly PngTextChunk[], imageData: Uint8Array): Uint8Array {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, image.width);
  view.setUint32(4, image.height);
  header[8] = 8; // bit depth
  header[9] = image.channels === 4 ? 6 : 2; // colour type RGBA or RGB
  // header[10..12]: compression 0 (deflate), filter method 0, no interlace.
  const chunks: PngChunk[] = [{ type: 'IHDR', data: header }];
  for (const chunk of text) chunks.push(encodeTextChunk(chunk));
  chunks.push({ type: 'IDAT', data: imageData });
  chunks.push({ type: 'IEND', data: new Uint8Array(0) });
  return assemblePng(chunks);
}

/**
 * encodePng without holding the event loop: scanlines are filtered in slices between turns of the loop
 * (app/common/slices.ts) and deflated on libuv's thread pool. The same bytes as encodePng.
 */
export async function encodePngInSlices(image: PixelImage, text: readonly PngTextChunk[] = []): Promise<Uint8Array> {
  checkPixelImage(image);
  const stride = image.width * image.channels;
  const filtered = new Uint8Array(image.height * (stride + 1));
  await inSlices(image.height, pixelsPerSlice / image.width, (from, to) => filterRows(image, filtered, from, to));
  return assembleImage(image, text, await deflateAsync(filtered, deflateOptions));
}

export function readPngHeader(bytes: Uint8Array): PngHeader {
  // The IHDR chunk must come first (spec §5.6): 8-byte signature, then length 13 and type "IHDR".
  if (!isPng(bytes)) throw new UserError('corrupt-file', 'This file is not a PNG image (the PNG signature is missing).');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 33 || view.getUint32(8) !== 13 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') {
    throw new UserError('corrupt-file', 'The PNG image has no valid IHDR header.');
  }
  return { width: view.getUint32(16), height: view.getUint32(20), bitDepth: bytes[24], colorType: bytes[25] };
}

/** Decodes any PNG to 8-bit RGBA pixels. */
export function decodePng(bytes: Uint8Array): PixelImage {
  readChunks(bytes); // checks the signature and chunk structure with clear messages first
  let png: { width: number; height: number; data: Uint8Array };
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new UserError('corrupt-file', `The PNG image cannot be decoded: ${(error as Error).message}.`);
  }
  return { width: png.width, height: png.height, channels: 4, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
}

function bytesOf(source: string | Uint8Array): Uint8Array {
  return typeof source === 'string' ? readFileSync(source) : source;
}

/** Every well-formed text chunk, in file order; malformed or damaged ones are skipped. */
export function readPngTextChunks(source: string | Uint8Array): PngTextChunk[] {
  const out: PngTextChunk[] = [];
  for (const chunk of readChunks(bytesOf(source), { onBadCrc: 'skip' })) {
    if (!isTextChunk(chunk)) continue;
    try {
      out.push(decodeTextChunk(chunk));
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
    }
  }
  return out;
}

/** Text chunks by keyword; where a keyword repeats, the first one wins (as PIL reads them). */
export function readPngText(source: string | Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  for (const chunk of readPngTextChunks(source)) if (!out.has(chunk.keyword)) out.set(chunk.keyword, chunk.text);
  return out;
}
