// EXIF as generators use it: a TIFF structure (TIFF 6.0 §2; EXIF 2.32 §4.6) whose text tags carry
// the settings. Only the text tags are read:
// - UserComment (0x9286), where AUTOMATIC1111/Forge (piexif), SwarmUI and Fooocus write their
//   parameters. It starts with an 8-byte character code: "UNICODE\0" (UTF-16 in the TIFF byte order —
//   piexif writes big-endian "MM" with UTF-16BE), "ASCII\0\0\0", eight zero bytes (undefined), or, as
//   Pillow writes a str set on the tag (Fooocus), no code at all.
// - ImageDescription, Make, Model, Software, Artist, Copyright, MakerNote: ComfyUI's WebP/JPEG savers
//   put "workflow:<json>" in Make (0x010F) and "prompt:<json>" in Model (0x0110); Fooocus writes its
//   metadata scheme into MakerNote.
// - XPComment (0x9C9C): Windows Explorer's comment, UTF-16LE.
// Tags may sit in IFD0 (Pillow puts every tag set directly on Image.Exif there) or in the Exif IFD.

export interface ExifText {
  readonly tag: string;
  readonly text: string;
}

export interface ExifReadResult {
  readonly texts: ExifText[];
  /** What was wrong with the structure, in words; the tags read before it are kept. */
  readonly problems: string[];
}

const TEXT_TAGS: ReadonlyMap<number, string> = new Map([
  [0x010e, 'ImageDescription'],
  [0x010f, 'Make'],
  [0x0110, 'Model'],
  [0x0131, 'Software'],
  [0x013b, 'Artist'],
  [0x8298, 'Copyright'],
  [0x9286, 'UserComment'],
  [0x927c, 'MakerNote'],
  [0x9c9c, 'XPComment'],
]);

const EXIF_IFD_POINTER = 0x8769;
// Bytes per value of each TIFF field type (1 BYTE … 12 DOUBLE).
const TYPE_SIZES = [0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8];

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function latin1(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
}

/** UTF-8 where the bytes are valid UTF-8, else Latin-1 (the same rule as PNG tEXt). */
export function decodeEightBit(bytes: Uint8Array): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    return latin1(bytes);
  }
}

function trimNuls(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return bytes.subarray(0, end);
}

function decodeUtf16(bytes: Uint8Array, littleEndian: boolean): string {
  const even = bytes.length - (bytes.length % 2);
  let body = bytes.subarray(0, even);
  // A byte-order mark overrides the TIFF byte order.
  if (body[0] === 0xfe && body[1] === 0xff) [littleEndian, body] = [false, body.subarray(2)];
  else if (body[0] === 0xff && body[1] === 0xfe) [littleEndian, body] = [true, body.subarray(2)];
  else {
    // Some writers ignore the TIFF byte order. Text that is mostly ASCII has its zero bytes in the
    // high half of each code unit; when they are clearly in the other half, the order is the other one.
    let zeroHigh = 0;
    let zeroLow = 0;
    for (let i = 0; i + 1 < body.length; i += 2) {
      const [first, second] = [body[i]!, body[i + 1]!];
      if ((littleEndian ? second : first) === 0 && (littleEndian ? first : second) !== 0) zeroHigh++;
      if ((littleEndian ? first : second) === 0 && (littleEndian ? second : first) !== 0) zeroLow++;
    }
    if (zeroLow > 4 * Math.max(zeroHigh, 1)) littleEndian = !littleEndian;
  }
  let text = new TextDecoder(littleEndian ? 'utf-16le' : 'utf-16be').decode(body);
  while (text.endsWith('\0')) text = text.slice(0, -1);
  return text;
}

/** Decodes a UserComment value by its 8-byte character code (EXIF 2.32 Table 9). */
export function decodeUserComment(bytes: Uint8Array, littleEndian: boolean): string {
  const prefix = latin1(bytes.subarray(0, 8));
  if (prefix === 'UNICODE\0') return decodeUtf16(bytes.subarray(8), littleEndian);
  if (prefix === 'ASCII\0\0\0') return decodeEightBit(trimNuls(bytes.subarray(8)));
  if (prefix === 'JIS\0\0\0\0\0') return decodeEightBit(trimNuls(bytes.subarray(8)));
  if (bytes.length >= 8 && bytes.subarray(0, 8).every((byte) => byte === 0)) return decodeEightBit(trimNuls(bytes.subarray(8)));
  return decodeEightBit(trimNuls(bytes));
}

/**
 * The text tags of a TIFF/EXIF block (starting at its "II"/"MM" byte-order mark; a leading
 * "Exif\0\0" is skipped). Never throws: a damaged structure ends the walk with a problem noted.
 */
export function readExifText(block: Uint8Array): ExifReadResult {
  const texts: ExifText[] = [];
  const problems: string[] = [];
  let tiff = block;
  if (latin1(tiff.subarray(0, 6)) === 'Exif\0\0') tiff = tiff.subarray(6);
  const order = latin1(tiff.subarray(0, 2));
  if (tiff.length < 8 || (order !== 'II' && order !== 'MM')) {
    return { texts, problems: ['The EXIF block has no TIFF header.'] };
  }
  const littleEndian = order === 'II';
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  if (view.getUint16(2, littleEndian) !== 42) return { texts, problems: ['The EXIF block has a damaged TIFF header.'] };
  const visited = new Set<number>();
  const walk = (offset: number, name: string): void => {
    if (visited.has(offset)) return;
    visited.add(offset);
    if (offset + 2 > tiff.length) {
      problems.push(`The EXIF ${name} lies past the end of the block (truncated).`);
      return;
    }
    const count = view.getUint16(offset, littleEndian);
    for (let i = 0; i < count; i++) {
      const entry = offset + 2 + i * 12;
      if (entry + 12 > tiff.length) {
        problems.push(`The EXIF ${name} is truncated after ${i} of its ${count} entries.`);
        return;
      }
      const tag = view.getUint16(entry, littleEndian);
      const type = view.getUint16(entry + 2, littleEndian);
      const values = view.getUint32(entry + 4, littleEndian);
      if (tag === EXIF_IFD_POINTER) {
        walk(view.getUint32(entry + 8, littleEndian), 'Exif IFD');
        continue;
      }
      const tagName = TEXT_TAGS.get(tag);
      if (tagName === undefined) continue;
      const size = (TYPE_SIZES[type] ?? 1) * values;
      const start = size <= 4 ? entry + 8 : view.getUint32(entry + 8, littleEndian);
      if (start + size > tiff.length) {
        problems.push(`The EXIF ${tagName} value runs past the end of the block (truncated).`);
        continue;
      }
      const bytes = tiff.subarray(start, start + size);
      let text: string;
      if (tag === 0x9286) text = decodeUserComment(bytes, littleEndian);
      else if (tag === 0x9c9c) text = decodeUtf16(bytes, true);
      else text = decodeEightBit(trimNuls(bytes));
      if (text !== '') texts.push({ tag: tagName, text });
    }
  };
  walk(view.getUint32(4, littleEndian), 'IFD0');
  return { texts, problems };
}
