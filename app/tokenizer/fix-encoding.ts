// ftfy 6.1.1's `fix_encoding`: undo mojibake, i.e. UTF-8 bytes that were decoded with a single-byte code
// page ("cafÃ©" → "café", "doesnâ€™t" → "doesn’t"). Only text that `isBad` flags is touched. One step
// (`_fix_encoding_one_step_and_explain`) tries, in order:
//   1. re-encode the whole text with each code page that can represent it and decode the bytes as UTF-8,
//      after putting back 0xA0 bytes that became spaces (`restore_byte_a0`) and, in the sloppy code pages,
//      replacing sequences whose bytes were lost to U+FFFD (`replace_lossy_sequences`);
//   2. fix UTF-8-looking runs inside otherwise consistent text (`decode_inconsistent_utf8`);
//   3. read Latin-1 text as Windows-1252 (C1 controls → punctuation) when that decodes strictly;
//   4. replace remaining C1 controls one by one (`fix_c1_controls`).
// Steps repeat until the text stops changing, so doubly-encoded text is fixed too.
import { isBad } from './mojibake-badness.ts';
import {
  canEncode,
  CHARMAP_ENCODINGS,
  decodeSingleByte,
  decodeTable,
  encodeSingleByte,
} from './single-byte-codecs.ts';
import type { SingleByteEncoding } from './single-byte-codecs.ts';
import { binaryToBytes, bytesToBinary, decodeUtf8Strict } from './utf8.ts';

/**
 * UTF-8 sequences that would be valid if a 0xA0 byte had not been turned into a space by software that
 * treated it as one (ftfy `ALTERED_UTF8_RE`). Only lead bytes that give likely characters are accepted.
 */
const ALTERED_UTF8 = new RegExp(
  [
    '[\\xc2\\xc3\\xc5\\xce\\xd0\\xd9] ',
    '[\\xe2\\xe3] [\\x80-\\x84\\x86-\\x9f\\xa1-\\xbf]',
    '[\\xe0-\\xe3][\\x80-\\x84\\x86-\\x9f\\xa1-\\xbf] ',
    '\\xf0 [\\x80-\\xbf][\\x80-\\xbf]',
    '\\xf0[\\x80-\\xbf] [\\x80-\\xbf]',
    '\\xf0[\\x80-\\xbf][\\x80-\\xbf] ',
  ].join('|'),
  'g',
);
const ALTERED_UTF8_TEST = new RegExp(ALTERED_UTF8.source);

/**
 * "Ã " as a word is far more often "à " whose two spaces were coalesced than the start of the next word,
 * except in the Portuguese contractions às, àquele, àquela, àquilo (ftfy `A_GRAVE_WORD_RE`).
 */
const A_GRAVE_WORD = /\xc3 (?! |quele|quela|quilo|s )/g;

/**
 * UTF-8 (and CESU-8) sequences where continuation bytes were lost: 0x1A stands for a byte that became
 * U+FFFD in a sloppy code page, '?' for one that became a question mark (ftfy `LOSSY_UTF8_RE`).
 */
const LOSSY_UTF8 = new RegExp(
  [
    '[\\xc2-\\xdf]\\x1a',
    '[\\xc2-\\xc3]\\?',
    '\\xed[\\xa0-\\xaf][\\x1a?]\\xed[\\xb0-\\xbf][\\x1a?\\x80-\\xbf]',
    '\\xed[\\xa0-\\xaf][\\x1a?\\x80-\\xbf]\\xed[\\xb0-\\xbf][\\x1a?]',
    '[\\xe0-\\xef][\\x1a?][\\x1a\\x80-\\xbf]',
    '[\\xe0-\\xef][\\x1a\\x80-\\xbf][\\x1a?]',
    '[\\xf0-\\xf4][\\x1a?][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf]',
    '[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a?][\\x1a\\x80-\\xbf]',
    '[\\xf0-\\xf4][\\x1a\\x80-\\xbf][\\x1a\\x80-\\xbf][\\x1a?]',
    '\\x1a',
  ].join('|'),
  'g',
);

/** U+FFFD as UTF-8 bytes, in binary-string form. */
const REPLACEMENT_UTF8 = '\xef\xbf\xbd';

const C1_CONTROL = /[\x80-\x9f]/;
const C1_CONTROLS = /[\x80-\x9f]/g;

/** Windows-1252 positions that the strict codec leaves unassigned (CPython raises on them). */
const WINDOWS_1252_UNASSIGNED = new Set([0x81, 0x8d, 0x8f, 0x90, 0x9d]);

/** Puts back 0xA0 bytes that became spaces inside otherwise valid UTF-8 sequences (binary strings). */
export function restoreByteA0(binary: string): string {
  return binary
    .replace(A_GRAVE_WORD, '\xc3\xa0 ')
    .replace(ALTERED_UTF8, (sequence) => sequence.replaceAll(' ', '\xa0'));
}

/** Replaces UTF-8 sequences with lost bytes by the UTF-8 of U+FFFD (binary strings). */
export function replaceLossySequences(binary: string): string {
  return binary.replace(LOSSY_UTF8, REPLACEMENT_UTF8);
}

/** C1 control characters read as what the same byte means in Windows-1252, as browsers do. */
export function fixC1Controls(text: string): string {
  return text.replace(C1_CONTROLS, (control) => decodeSingleByte(Uint8Array.of(control.charCodeAt(0)), 'sloppy-windows-1252'));
}

/** Undoes mojibake until the text stops changing (ftfy `fix_encoding`). */
export function fixEncoding(text: string): string {
  for (;;) {
    const fixed = fixEncodingOneStep(text);
    if (fixed === text) return text;
    text = fixed;
  }
}

function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}

function fixEncodingOneStep(text: string): string {
  if (text.length === 0 || isAscii(text) || !isBad(text)) return text;

  const possible: SingleByteEncoding[] = [];
  for (const encoding of CHARMAP_ENCODINGS) {
    if (!canEncode(text, encoding)) continue;
    possible.push(encoding);
    let binary = bytesToBinary(encodeSingleByte(text, encoding));
    if (ALTERED_UTF8_TEST.test(binary)) binary = restoreByteA0(binary);
    if (encoding.startsWith('sloppy-')) binary = replaceLossySequences(binary);
    const variants = binary.includes('\xed') || binary.includes('\xc0');
    const fixed = decodeUtf8Strict(binaryToBytes(binary), variants);
    if (fixed !== undefined) return fixed;
  }

  if (UTF8_DETECTOR_TEST.test(text)) {
    const fixed = decodeInconsistentUtf8(text);
    if (fixed !== text) return fixed;
  }

  // ftfy's next check asks whether 'windows-1252' is among the possible encodings, but that list only
  // ever holds 'sloppy-windows-1252', so Latin-1 text always goes on to a strict Windows-1252 decode.
  if (possible.includes('latin-1')) {
    const bytes = encodeSingleByte(text, 'latin-1');
    if (!bytes.some((byte) => WINDOWS_1252_UNASSIGNED.has(byte))) {
      const fixed = decodeSingleByte(bytes, 'sloppy-windows-1252');
      if (fixed !== text) return fixed;
    }
  }

  if (C1_CONTROL.test(text)) return fixC1Controls(text);
  return text;
}

// --- decode_inconsistent_utf8: runs of UTF-8 mojibake embedded in text that is otherwise fine ---

/** Code pages whose high half looks like Latin-1 ("Latin-1-like"), from which ftfy derives its clues. */
const LATIN_1_LIKE: readonly SingleByteEncoding[] = [
  'latin-1',
  'sloppy-windows-1252',
  'sloppy-windows-1251',
  'sloppy-windows-1250',
  'sloppy-windows-1253',
  'sloppy-windows-1254',
];

/** Every character that one of the given bytes decodes to in a Latin-1-like code page. */
function decodedByAny(bytes: readonly number[]): Set<string> {
  const characters = new Set<string>();
  for (const encoding of LATIN_1_LIKE) {
    const table = decodeTable(encoding);
    for (const byte of bytes) characters.add(table[byte]);
  }
  return characters;
}

function byteRange(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, index) => first + index);
}

/** Characters for a regex class; the few syntax characters among them are escaped. */
function classOf(characters: Iterable<string>): string {
  let body = '';
  for (const character of characters) body += /[\\\]\[^-]/.test(character) ? `\\${character}` : character;
  return body;
}

/**
 * ftfy `UTF8_CLUES`: characters that bytes 0xC2-0xDF, 0xE0-0xEF, 0xF0/0xF3 and 0x80-0xBF decode to in
 * the Latin-1-like code pages. Continuations may be spaces (standing for 0xA0); the strict set, used to
 * see that a run does not start in the middle of a larger garble, leaves out the characters that often
 * stand for themselves next to mojibake: spaces, dashes, quotation marks and the ellipsis.
 */
function buildUtf8Detector(): RegExp {
  const continuation = new Set([...decodedByAny(byteRange(0x80, 0xbf))].filter((c) => c.charCodeAt(0) > 0xbf));
  const selfStanding = new Set(['\u2013', '\u2014', '\u2015', '\u2018', '\u2019', '\u201a', '\u201c', '\u201d', '\u201e', '\u2026']);
  const strict = [...continuation].filter((character) => !selfStanding.has(character));
  const firstOf2 = classOf(decodedByAny(byteRange(0xc2, 0xdf)));
  const firstOf3 = classOf(decodedByAny(byteRange(0xe0, 0xef)));
  const firstOf4 = classOf(decodedByAny([0xf0, 0xf3]));
  const continuationClass = `[\\x80-\\xbf ${classOf(continuation)}]`;
  const strictClass = `[\\x80-\\xbf${classOf(strict)}]`;
  return new RegExp(
    `(?<!${strictClass})(?:[${firstOf2}]${continuationClass}|[${firstOf3}]${continuationClass}{2}|[${firstOf4}]${continuationClass}{3})+`,
    'g',
  );
}

const UTF8_DETECTOR = buildUtf8Detector();
const UTF8_DETECTOR_TEST = new RegExp(UTF8_DETECTOR.source);

/** Fixes each UTF-8-looking run that looks bad on its own, leaving the rest of the text alone. */
export function decodeInconsistentUtf8(text: string): string {
  return text.replace(UTF8_DETECTOR, (run) => (run.length < text.length && isBad(run) ? fixEncoding(run) : run));
}
