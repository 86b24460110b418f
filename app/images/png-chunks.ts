// PNG at the chunk level (PNG spec, 3rd ed., §5): the 8-byte signature, then chunks of
// `length (u32 BE) | type (4 ASCII) | data | CRC-32 of type+data (u32 BE)`.
// Pixels are not this file's business; text chunks (tEXt, zTXt, iTXt) are in png-text.ts.
import { UserError } from '../common/errors.ts';

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

export interface PngChunk {
  readonly type: string;
  readonly data: Uint8Array;
}

// CRC-32 with the polynomial of ISO 3309 / ITU-T V.42, as PNG spec Annex D computes it.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(...parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) c = CRC_TABLE[(c ^ part[i]) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

export function isPng(bytes: Uint8Array): boolean {
  if (bytes.length < PNG_SIGNATURE.length) return false;
  return PNG_SIGNATURE.every((byte, i) => bytes[i] === byte);
}

function typeBytes(type: string): Uint8Array {
  if (!/^[A-Za-z]{4}$/.test(type)) throw new Error(`invalid PNG chunk type ${JSON.stringify(type)}`);
  return Uint8Array.from(type, (char) => char.charCodeAt(0));
}

/** One chunk, serialised with its length and CRC. */
export function encodeChunk(chunk: PngChunk): Uint8Array {
  const type = typeBytes(chunk.type);
  const out = new Uint8Array(12 + chunk.data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, chunk.data.length);
  out.set(type, 4);
  out.set(chunk.data, 8);
  view.setUint32(8 + chunk.data.length, crc32(type, chunk.data));
  return out;
}

export interface ReadChunksOptions {
  /** Where a chunk's CRC is wrong: 'throw' (our own files) or 'skip' (foreign files, read leniently). */
  readonly onBadCrc?: 'throw' | 'skip';
}

/**
 * Splits a PNG file into chunks, stopping after IEND. Throws UserError('corrupt-file') for a missing
 * signature or a chunk that runs past the end of the file.
 */
export function readChunks(bytes: Uint8Array, options: ReadChunksOptions = {}): PngChunk[] {
  if (!isPng(bytes)) throw new UserError('corrupt-file', 'This file is not a PNG image (the PNG signature is missing).');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: PngChunk[] = [];
  let offset = PNG_SIGNATURE.length;
  while (offset + 12 <= bytes.length) {
    const length = view.getUint32(offset);
    const end = offset + 12 + length;
    if (length > 0x7fffffff || end > bytes.length) {
      throw new UserError('corrupt-file', `The PNG image is truncated: a chunk at byte ${offset} runs past the end of the file.`);
    }
    const typeArray = bytes.subarray(offset + 4, offset + 8);
    const type = String.fromCharCode(...typeArray);
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    const stored = view.getUint32(offset + 8 + length);
    if (stored !== crc32(typeArray, data)) {
      if (options.onBadCrc !== 'skip') {
        throw new UserError('corrupt-file', `The PNG image is damaged: the ${type} chunk at byte ${offset} fails its CRC check.`);
      }
    } else {
      chunks.push({ type, data });
    }
    offset = end;
    if (type === 'IEND') return chunks;
  }
  throw new UserError('corrupt-file', 'The PNG image is truncated: it ends before its IEND chunk.');
}

/** Signature + chunks, in order. */
export function assemblePng(chunks: readonly PngChunk[]): Uint8Array {
  const encoded = chunks.map(encodeChunk);
  const out = new Uint8Array(PNG_SIGNATURE.length + encoded.reduce((sum, chunk) => sum + chunk.length, 0));
  out.set(PNG_SIGNATURE, 0);
  let offset = PNG_SIGNATURE.length;
  for (const chunk of encoded) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
