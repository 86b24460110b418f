// UTF-8 encoding and the strict decoding that ftfy relies on: a byte sequence either decodes completely
// (CPython's strict 'utf-8' codec: no overlongs, no surrogates, nothing above U+10FFFF, no truncated
// sequence) or the candidate fix is rejected. With `variants` it also accepts what ftfy's
// 'utf-8-variants' codec accepts: CESU-8 surrogate pairs (ED A0-AF xx ED B0-BF xx, as Java and some
// databases write astral characters) and Java's two-byte null C0 80.

const encoder = new TextEncoder();

export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}

function isContinuation(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x80 && byte <= 0xbf;
}

/** Returns the decoded text, or undefined where CPython's strict decoder would raise. */
export function decodeUtf8Strict(bytes: Uint8Array, variants = false): string | undefined {
  const codePoints: number[] = [];
  let index = 0;
  while (index < bytes.length) {
    const lead = bytes[index];
    if (lead < 0x80) {
      codePoints.push(lead);
      index += 1;
      continue;
    }
    if (variants) {
      if (lead === 0xc0 && bytes[index + 1] === 0x80) {
        codePoints.push(0);
        index += 2;
        continue;
      }
      const second = bytes[index + 1];
      const fourth = bytes[index + 4];
      if (
        lead === 0xed &&
        second >= 0xa0 &&
        second <= 0xaf &&
        isContinuation(bytes[index + 2]) &&
        bytes[index + 3] === 0xed &&
        fourth >= 0xb0 &&
        fourth <= 0xbf &&
        isContinuation(bytes[index + 5])
      ) {
        const high = 0xd000 | ((second & 0x3f) << 6) | (bytes[index + 2] & 0x3f);
        const low = 0xd000 | ((fourth & 0x3f) << 6) | (bytes[index + 5] & 0x3f);
        codePoints.push(0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00));
        index += 6;
        continue;
      }
    }
    // [length, lowest allowed second byte, highest allowed second byte] per lead byte (RFC 3629 table).
    let length: number;
    let secondLow = 0x80;
    let secondHigh = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) secondLow = 0xa0;
      if (lead === 0xed) secondHigh = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) secondLow = 0x90;
      if (lead === 0xf4) secondHigh = 0x8f;
    } else return undefined;
    if (index + length > bytes.length) return undefined;
    const second = bytes[index + 1];
    if (second < secondLow || second > secondHigh) return undefined;
    let codePoint = lead & (0xff >> (length + 1));
    for (let offset = 1; offset < length; offset += 1) {
      const byte = bytes[index + offset];
      if (!isContinuation(byte)) return undefined;
      codePoint = (codePoint << 6) | (byte & 0x3f);
    }
    codePoints.push(codePoint);
    index += length;
  }
  let text = '';
  for (let start = 0; start < codePoints.length; start += 4096) {
    text += String.fromCodePoint(...codePoints.slice(start, start + 4096));
  }
  return text;
}

/** Bytes as a "binary string" (one character per byte), so byte-level regular expressions can run. */
export function bytesToBinary(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return binary;
}

export function binaryToBytes(binary: string): Uint8Array {
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index += 1) bytes[index] = binary.charCodeAt(index);
  return bytes;
}
