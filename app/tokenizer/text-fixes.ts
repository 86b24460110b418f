// The small, independent fixers of ftfy 6.1.1 (`ftfy.fixes`) that `fix_text` applies on every pass.
// Each takes and returns a string and changes nothing when there is nothing to fix.
import { htmlEntityTable } from './html-entities.ts';
import { decodeSingleByte } from './single-byte-codecs.ts';

/** `&name;`, `&#123;`, `&#x1F600;`: names of at most 24 ASCII letters/digits (ftfy `HTML_ENTITY_RE`). */
const HTML_ENTITY = /&#?[0-9A-Za-z]{1,24};/g;

/** Code points that CPython's `html.unescape` turns into '' (controls and noncharacters). */
function isInvalidCodePoint(codePoint: number): boolean {
  return (
    (codePoint >= 0x1 && codePoint <= 0x8) ||
    codePoint === 0xb ||
    (codePoint >= 0xe && codePoint <= 0x1f) ||
    (codePoint >= 0x7f && codePoint <= 0x9f) ||
    (codePoint >= 0xfdd0 && codePoint <= 0xfdef) ||
    (codePoint & 0xfffe) === 0xfffe
  );
}

/**
 * A numeric reference the way CPython's `html.unescape` reads it (HTML5 rules): 0 → U+FFFD, 0x0D → CR,
 * 0x80-0x9F → their Windows-1252 characters, surrogates and values past U+10FFFF → U+FFFD, controls and
 * noncharacters → ''. ftfy keeps the reference as written unless its whole body is a number.
 */
function unescapeNumeric(reference: string): string {
  const body = reference.slice(2, -1);
  let codePoint: number;
  if (/^[0-9]+$/.test(body)) codePoint = Number.parseInt(body, 10);
  else if (/^[xX][0-9a-fA-F]+$/.test(body)) codePoint = Number.parseInt(body.slice(1), 16);
  else return reference;
  if (codePoint === 0) return '\ufffd';
  if (codePoint === 0x0d) return '\r';
  if (codePoint >= 0x80 && codePoint <= 0x9f) return decodeSingleByte(Uint8Array.of(codePoint), 'sloppy-windows-1252');
  if ((codePoint >= 0xd800 && codePoint <= 0xdfff) || codePoint > 0x10ffff) return '\ufffd';
  if (isInvalidCodePoint(codePoint)) return '';
  return String.fromCodePoint(codePoint);
}

/**
 * Decodes HTML entities that end in ';' (all HTML5 names, all-caps Latin ones, numeric references),
 * never the ambiguous semicolon-less forms ("this&not that" stays). ftfy `unescape_html`.
 */
export function unescapeHtml(text: string): string {
  const entities = htmlEntityTable();
  return text.replace(HTML_ENTITY, (reference) => {
    const named = entities.get(reference);
    if (named !== undefined) return named;
    return reference.startsWith('&#') ? unescapeNumeric(reference) : reference;
  });
}

/** ANSI terminal escapes such as colour codes: ESC '[' digits/';' letter (ftfy `ANSI_RE`). */
const ANSI_ESCAPE = /\x1b\[(?:\p{Nd}|;)*[a-zA-Z]/gu;

export function removeTerminalEscapes(text: string): string {
  return text.replace(ANSI_ESCAPE, '');
}

/** ‘ ’ ‚ ‛ and ʼ (modifier apostrophe) → ', “ ” „ ‟ → " (ftfy `uncurl_quotes`). */
export function uncurlQuotes(text: string): string {
  return text.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'");
}

/**
 * Latin typographic ligatures and the legacy digraph code points, which in plain text are copy-paste
 * accidents (ftfy `LIGATURES`); ligatures of other scripts are left alone.
 */
const LIGATURES: ReadonlyMap<string, string> = new Map([
  ['\u0132', 'IJ'], ['\u0133', 'ij'], ['\u0149', '\u02bcn'],
  ['\u01f1', 'DZ'], ['\u01f2', 'Dz'], ['\u01f3', 'dz'],
  ['\u01c4', 'D\u017d'], ['\u01c5', 'D\u017e'], ['\u01c6', 'd\u017e'],
  ['\u01c7', 'LJ'], ['\u01c8', 'Lj'], ['\u01c9', 'lj'],
  ['\u01ca', 'NJ'], ['\u01cb', 'Nj'], ['\u01cc', 'nj'],
  ['\ufb00', 'ff'], ['\ufb01', 'fi'], ['\ufb02', 'fl'], ['\ufb03', 'ffi'], ['\ufb04', 'ffl'],
  ['\ufb05', '\u017ft'], ['\ufb06', 'st'],
]);
const LIGATURE = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g;

export function fixLatinLigatures(text: string): string {
  return text.replace(LIGATURE, (ligature) => LIGATURES.get(ligature) ?? ligature);
}

/**
 * Fullwidth Latin/digits and halfwidth katakana/hangul (U+FF01-U+FFEF) → their NFKC form, and the
 * ideographic space U+3000 → ' ' (ftfy `WIDTH_MAP`).
 */
const WIDTH_FORM = /[\u3000\uff01-\uffef]/g;

export function fixCharacterWidth(text: string): string {
  return text.replace(WIDTH_FORM, (character) => (character === '\u3000' ? ' ' : character.normalize('NFKC')));
}

/** CRLF, CR, U+2028, U+2029 and NEL (U+0085) → '\n' (ftfy `fix_line_breaks`). */
export function fixLineBreaks(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(/[\r\u2028\u2029\u0085]/g, '\n');
}

/**
 * Unpaired UTF-16 surrogates → U+FFFD (ftfy `fix_surrogates`). Properly paired surrogates, which a Python
 * string would hold as two code points, are already one character in a JavaScript string.
 */
export function fixSurrogates(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/**
 * Control characters with no visible effect (ftfy `CONTROL_CHARS`): C0 controls except tab, LF, FF, CR;
 * DEL; deprecated Arabic format controls U+206A-206F; the byte-order mark; interlinear annotation marks
 * and the object replacement character U+FFF9-FFFC. Joiners, bidi marks and C1 controls are kept.
 */
const CONTROL_CHARACTER = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

export function removeControlChars(text: string): string {
  return text.replace(CONTROL_CHARACTER, '');
}
