// GPT-2/CLIP byte-level alphabet (`bytes_to_unicode` in openai/CLIP and transformers): every byte gets a
// printable character so BPE never sees whitespace or control characters. Printable Latin-1 bytes
// ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 bytes map, in byte order, to
// U+0100, U+0101, ... A pre-token's UTF-8 bytes are spelled in this alphabet before BPE.

function buildByteAlphabet(): { readonly byteToChar: readonly string[]; readonly order: readonly number[] } {
  const order: number[] = [];
  for (let byte = 0x21; byte <= 0x7e; byte += 1) order.push(byte);
  for (let byte = 0xa1; byte <= 0xac; byte += 1) order.push(byte);
  for (let byte = 0xae; byte <= 0xff; byte += 1) order.push(byte);
  const byteToChar: string[] = new Array(256);
  for (const byte of order) byteToChar[byte] = String.fromCharCode(byte);
  let next = 0;
  for (let byte = 0; byte < 256; byte += 1) {
    if (byteToChar[byte] !== undefined) continue;
    order.push(byte);
    byteToChar[byte] = String.fromCharCode(256 + next);
    next += 1;
  }
  return { byteToChar, order };
}

const ALPHABET = buildByteAlphabet();
const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(ALPHABET.byteToChar.map((char, byte) => [char, byte]));

/**
 * The 256 alphabet characters in the order openai/CLIP lists them (`bytes_to_unicode().values()`), which
 * is the order of the first 256 vocabulary entries.
 */
export const BYTE_ALPHABET: readonly string[] = ALPHABET.order.map((byte) => ALPHABET.byteToChar[byte]);

/**
 * A pre-token's UTF-8 bytes spelled in the byte alphabet. The bytes are computed inline: a TextEncoder
 * call per pre-token would cost more than the whole BPE of a cached word.
 */
export function toByteAlphabet(text: string): string {
  const chars = ALPHABET.byteToChar;
  let spelled = '';
  for (let index = 0; index < text.length; index += 1) {
    let codePoint = text.charCodeAt(index);
    if (codePoint < 0x80) {
      spelled += chars[codePoint];
      continue;
    }
    if (codePoint >= 0xd800 && codePoint <= 0xdbff && index + 1 < text.length) {
      const low = text.charCodeAt(index + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        codePoint = 0x10000 + ((codePoint - 0xd800) << 10) + (low - 0xdc00);
        index += 1;
      }
    }
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) {
      // A lone surrogate (ftfy already replaced them): what TextEncoder writes, U+FFFD.
      codePoint = 0xfffd;
    }
    if (codePoint < 0x800) {
      spelled += chars[0xc0 | (codePoint >> 6)] + chars[0x80 | (codePoint & 0x3f)];
    } else if (codePoint < 0x10000) {
      spelled += chars[0xe0 | (codePoint >> 12)] + chars[0x80 | ((codePoint >> 6) & 0x3f)] + chars[0x80 | (codePoint & 0x3f)];
    } else {
      spelled +=
        chars[0xf0 | (codePoint >> 18)] +
        chars[0x80 | ((codePoint >> 12) & 0x3f)] +
        chars[0x80 | ((codePoint >> 6) & 0x3f)] +
        chars[0x80 | (codePoint & 0x3f)];
    }
  }
  return spelled;
}

/** The bytes that alphabet characters stand for; characters outside the alphabet are skipped. */
export function fromByteAlphabet(spelled: string): Uint8Array {
  const bytes: number[] = [];
  for (const char of spelled) {
    const byte = CHAR_TO_BYTE.get(char);
    if (byte !== undefined) bytes.push(byte);
  }
  return Uint8Array.from(bytes);
}
