// PNG text chunks (PNG spec, 3rd ed., §11.3.3): tEXt (Latin-1), zTXt (zlib-compressed Latin-1) and
// iTXt (UTF-8, optionally compressed, with a language tag and a translated keyword).
import { deflateSync, inflateSync } from 'node:zlib';
import { UserError } from '../common/errors.ts';
import type { PngChunk } from './png-chunks.ts';

export type PngTextKind = 'tEXt' | 'zTXt' | 'iTXt';

export interface PngTextChunk {
  readonly keyword: string;
  readonly text: string;
  /** Left out when writing: tEXt where the text is Latin-1, iTXt otherwise (what PIL's add_text does). */
  readonly kind?: PngTextKind;
  /** iTXt only: zlib-compress the text. */
  readonly compressed?: boolean;
  readonly languageTag?: string;
  readonly translatedKeyword?: string;
}

// A decompressed text chunk may not exceed this (bytes): a guard against zlib bombs in foreign files.
const MAX_TEXT_BYTES = 16 * 1024 * 1024;

const TEXT_KINDS: readonly string[] = ['tEXt', 'zTXt', 'iTXt'];

export function isTextChunk(chunk: PngChunk): boolean {
  return TEXT_KINDS.includes(chunk.type);
}

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

function latin1Bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

function latin1String(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextDecoder('utf-8');

// tEXt is Latin-1 by the spec, but several tools write UTF-8 there. Bytes that decode as valid UTF-8
// with at least one multi-byte sequence are almost never intended Latin-1 (that would need pairs
// like "Ã©"), so such text is read as UTF-8 and everything else as Latin-1.
function decodeLatin1Text(bytes: Uint8Array): string {
  if (bytes.every((byte) => byte < 0x80)) return latin1String(bytes);
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return latin1String(bytes);
  }
}

function checkKeyword(keyword: string): void {
  // §11.3.3.2: 1–79 printable Latin-1 characters, no leading, trailing or consecutive spaces.
  const printable = [...keyword].every((char) => {
    const code = char.charCodeAt(0);
    return (code >= 32 && code <= 126) || (code >= 161 && code <= 255);
  });
  if (keyword.length < 1 || keyword.length > 79 || !printable || /^ | $| {2}/.test(keyword)) {
    throw new UserError('invalid-argument', `"${keyword}" is not a valid PNG text keyword.`, 'Use 1–79 printable Latin-1 characters.');
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const ZERO = Uint8Array.of(0);

export function encodeTextChunk(chunk: PngTextChunk): PngChunk {
  checkKeyword(chunk.keyword);
  const kind = chunk.kind ?? (isLatin1(chunk.text) ? 'tEXt' : 'iTXt');
  const keyword = latin1Bytes(chunk.keyword);
  switch (kind) {
    case 'tEXt':
    case 'zTXt': {
      if (!isLatin1(chunk.text)) {
        throw new UserError('invalid-argument', `The ${kind} chunk "${chunk.keyword}" can only hold Latin-1 text.`, 'Write it as iTXt.');
      }
      const text = latin1Bytes(chunk.text);
      if (kind === 'tEXt') return { type: kind, data: concat([keyword, ZERO, text]) };
      return { type: kind, data: concat([keyword, ZERO, ZERO, deflateSync(text)]) };
    }
    case 'iTXt': {
      const raw = new TextEncoder().encode(chunk.text);
      const text = chunk.compressed ? deflateSync(raw) : raw;
      return {
        type: kind,
        data: concat([
          keyword,
          ZERO,
          Uint8Array.of(chunk.compressed ? 1 : 0, 0),
          latin1Bytes(chunk.languageTag ?? ''),
          ZERO,
          new TextEncoder().encode(chunk.translatedKeyword ?? ''),
          ZERO,
          text,
        ]),
      };
    }
  }
}

function inflate(data: Uint8Array, keyword: string): Uint8Array {
  try {
    return inflateSync(data, { maxOutputLength: MAX_TEXT_BYTES });
  } catch (error) {
    throw new UserError('corrupt-file', `The PNG text chunk "${keyword}" cannot be decompressed: ${(error as Error).message}.`);
  }
}

/** Decodes a tEXt/zTXt/iTXt chunk; throws UserError('corrupt-file') for a malformed one. */
export function decodeTextChunk(chunk: PngChunk): PngTextChunk {
  const data = chunk.data;
  const keywordEnd = data.indexOf(0);
  if (keywordEnd < 1) throw new UserError('corrupt-file', `A PNG ${chunk.type} chunk has no keyword.`);
  const keyword = latin1String(data.subarray(0, keywordEnd));
  switch (chunk.type) {
    case 'tEXt':
      return { keyword, kind: 'tEXt', text: decodeLatin1Text(data.subarray(keywordEnd + 1)) };
    case 'zTXt':
      return { keyword, kind: 'zTXt', text: decodeLatin1Text(inflate(data.subarray(keywordEnd + 2), keyword)) };
    case 'iTXt': {
      const compressed = data[keywordEnd + 1] === 1;
      const languageStart = keywordEnd + 3;
      const languageEnd = data.indexOf(0, languageStart);
      const translatedEnd = languageEnd < 0 ? -1 : data.indexOf(0, languageEnd + 1);
      if (translatedEnd < 0) throw new UserError('corrupt-file', `The PNG iTXt chunk "${keyword}" is malformed.`);
      const body = data.subarray(translatedEnd + 1);
      return {
        keyword,
        kind: 'iTXt',
        compressed,
        languageTag: latin1String(data.subarray(languageStart, languageEnd)),
        translatedKeyword: utf8.decode(data.subarray(languageEnd + 1, translatedEnd)),
        text: utf8.decode(compressed ? inflate(body, keyword) : body),
      };
    }
    default:
      throw new Error(`${chunk.type} is not a PNG text chunk`);
  }
}
