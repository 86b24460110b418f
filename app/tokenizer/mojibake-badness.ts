// ftfy 6.1.1's heuristic for "this text looks like mojibake" (`ftfy.badness`): about 400 characters that
// show up when UTF-8 is decoded with a single-byte code page are sorted into categories, and a list of
// improbable juxtapositions of those categories (an accented lowercase letter followed by a currency sign,
// a box-drawing character next to an accented capital, 'Ã' followed by '©', ...) is counted.
// `isBad(text)` gates every attempt to re-decode text, so it must agree with ftfy exactly: the categories
// and sequences below are ftfy's, written out as JavaScript character classes.
import { PYTHON_SPACE, PYTHON_WORD } from './python-character-classes.ts';

// Character categories. Strings are spliced into `[...]` classes, so 'a-b' pairs are ranges.
const COMMON = '\u00a0\u00ad\u00b7\u00b4\u2013\u2014\u2015\u2026\u2019'; // nbsp, soft hyphen, ·, ´, – — ―, …, ’
const C1 = '\u0080-\u009f';
/** Characters that occur almost only in mojibake: ¦ ¤ ¨ ¬ ¯ ¶ § ¸ ƒ ˆ ˇ ˘ ˛ ˜ † ‡ ‰ ⌐ ◊ � ª º */
const BAD =
  '\u00a6\u00a4\u00a8\u00ac\u00af\u00b6\u00a7\u00b8\u0192\u02c6\u02c7\u02d8\u02db\u02dc' +
  '\u2020\u2021\u2030\u2310\u25ca\ufffd\u00aa\u00ba';
const CURRENCY = '\u00a2\u00a3\u00a5\u20a7\u20ac'; // ¢ £ ¥ ₧ €
/** ¡ « ¿ © ΄ ΅ ‘ ‚ “ „ • ‹ and U+F8FF (the Apple logo in MacRoman) */
const START_PUNCTUATION = '\u00a1\u00ab\u00bf\u00a9\u0384\u0385\u2018\u201a\u201c\u201e\u2022\u2039\uf8ff';
const END_PUNCTUATION = '\u00ae\u00bb\u02dd\u201d\u203a\u2122'; // ® » ˝ ” › ™
/** ² ³ ¹ ± ¼ ½ ¾ × µ ÷ ⁄ ∂ ∆ ∏ ∑ √ ∞ ∩ ∫ ≈ ≠ ≡ ≤ ≥ № */
const NUMERIC =
  '\u00b2\u00b3\u00b9\u00b1\u00bc\u00bd\u00be\u00d7\u00b5\u00f7\u2044\u2202\u2206\u220f\u2211' +
  '\u221a\u221e\u2229\u222b\u2248\u2260\u2261\u2264\u2265\u2116';
/** Letters that make emoticon faces (Ò-Ö Ù-Ü ò-ö ø-ü Ő °), so they may sit in odd places legitimately. */
const KAOMOJI = '\u00d2-\u00d6\u00d9-\u00dc\u00f2-\u00f6\u00f8-\u00fc\u0150\u00b0';
/** À-Ñ Ø Ü Ý Ă Ą Ć Č Ď Đ Ę Ě Ğ İ Ĺ Ľ Ł Ń Ň Œ Ř Ś Ş Š Ţ Ť Ů Ű Ÿ Ź Ż Ž Ґ */
const UPPER_ACCENTED =
  '\u00c0-\u00d1\u00d8\u00dc\u00dd\u0102\u0104\u0106\u010c\u010e\u0110\u0118\u011a\u011e\u0130' +
  '\u0139\u013d\u0141\u0143\u0147\u0152\u0158\u015a\u015e\u0160\u0162\u0164\u016e\u0170\u0178' +
  '\u0179\u017b\u017d\u0490';
/** ß à-ñ ă ą ć č ď đ ę ě ğ ĺ ľ ł œ ŕ ś ş š ť ü ź ż ž ґ ﬁ ﬂ */
const LOWER_ACCENTED =
  '\u00df\u00e0-\u00f1\u0103\u0105\u0107\u010d\u010f\u0111\u0119\u011b\u011f\u013a\u013e\u0142' +
  '\u0153\u0155\u015b\u015f\u0161\u0165\u00fc\u017a\u017c\u017e\u0491\ufb01\ufb02';
/** Þ, Greek capitals (with tonos/dialytika), Cyrillic Ё-Я */
const UPPER_COMMON =
  '\u00de\u0391-\u03a9\u0386\u0388\u0389\u038a\u038c\u038e\u038f\u03aa\u03ab\u0401-\u042f';
/** Greek lowercase (with tonos), Cyrillic а-џ */
const LOWER_COMMON = '\u03b1-\u03c9\u03ac\u03ad\u03ae\u03af\u03b0\u0430-\u045f';
/** │ ┌ ┐ ┘ ├ ┤ ┬ ┼ ═-╬ ▀ ▄ █ ▌ ▐ ░ ▒ ▓ (not ─, which kaomoji use) */
const BOX =
  '\u2502\u250c\u2510\u2518\u251c\u2524\u252c\u253c\u2550-\u256c\u2580\u2584\u2588\u258c\u2590' +
  '\u2591\u2592\u2593';


const SEQUENCES: readonly string[] = [
  `[${C1}]`,
  `[${BAD}${LOWER_ACCENTED}${UPPER_ACCENTED}${BOX}${START_PUNCTUATION}${END_PUNCTUATION}${CURRENCY}${NUMERIC}][${BAD}]`,
  `[a-zA-Z][${LOWER_COMMON}${UPPER_COMMON}][${BAD}]`,
  `[${BAD}][${LOWER_ACCENTED}${UPPER_ACCENTED}${BOX}${START_PUNCTUATION}${END_PUNCTUATION}${CURRENCY}${NUMERIC}]`,
  `[${LOWER_ACCENTED}${LOWER_COMMON}${BOX}${END_PUNCTUATION}${CURRENCY}${NUMERIC}][${UPPER_ACCENTED}]`,
  `[${BOX}${END_PUNCTUATION}${CURRENCY}${NUMERIC}][${LOWER_ACCENTED}]`,
  // [upper_accented][currency] is left out: it occurs in leetspeak-like writing.
  `[${LOWER_ACCENTED}${BOX}${END_PUNCTUATION}][${CURRENCY}]`,
  `[${PYTHON_SPACE}][${UPPER_ACCENTED}][${CURRENCY}]`,
  `[${UPPER_ACCENTED}${BOX}][${NUMERIC}]`,
  `[${LOWER_ACCENTED}${UPPER_ACCENTED}${BOX}${CURRENCY}${END_PUNCTUATION}][${START_PUNCTUATION}][${NUMERIC}]`,
  `[${LOWER_ACCENTED}${UPPER_ACCENTED}${CURRENCY}${NUMERIC}${BOX}][${END_PUNCTUATION}][${START_PUNCTUATION}]`,
  `[${CURRENCY}${NUMERIC}${BOX}][${START_PUNCTUATION}]`,
  `[a-z][${UPPER_ACCENTED}][${START_PUNCTUATION}${CURRENCY}]`,
  `[${BOX}][${KAOMOJI}]`,
  `[${LOWER_ACCENTED}${UPPER_ACCENTED}${CURRENCY}${NUMERIC}${START_PUNCTUATION}${END_PUNCTUATION}][${BOX}]`,
  `[${BOX}][${END_PUNCTUATION}]`,
  `[${LOWER_ACCENTED}${UPPER_ACCENTED}][${END_PUNCTUATION}][${PYTHON_WORD}]`,
  // The ligature œ not followed by an unaccented Latin letter.
  '[\u0152\u0153][^A-Za-z]',
  // Common Windows-1252 two-character mojibake: [ÂÃÎÐ] + € Š š ¢ £ Ÿ ž nbsp shy ® © ° · » – — ´ ...
  `[\u00c2\u00c3\u00ce\u00d0][\u20ac\u0160\u0161\u00a2\u00a3\u0178\u017e\u00a0\u00ad\u00ae\u00a9\u00b0\u00b7\u00bb${START_PUNCTUATION}${END_PUNCTUATION}\u2013\u2014\u00b4]`,
  '\u00d7[\u00b2\u00b3]', // × followed by ² or ³
  // Windows-1252 mojibake of Arabic: four characters, because it involves the 'common' ones.
  `[\u00d8\u00d9][${COMMON}${CURRENCY}${BAD}${NUMERIC}${START_PUNCTUATION}\u0178\u0160\u00ae\u00b0\u00b5\u00bb]` +
    `[\u00d8\u00d9][${COMMON}${CURRENCY}${BAD}${NUMERIC}${START_PUNCTUATION}\u0178\u0160\u00ae\u00b0\u00b5\u00bb]`,
  '\u00e0[\u00b2\u00b5\u00b9\u00bc\u00bd\u00be]', // à + ² µ ¹ ¼ ½ ¾: starts of South Asian scripts
  // MacRoman mojibake: √ + ± ∂ † ≠ ® ™ ´ ≤ ≥ ¥ µ ø; ≈ + ° ¢; ‚Ä + ...; ‚ + â ó + ...
  '\u221a[\u00b1\u2202\u2020\u2260\u00ae\u2122\u00b4\u2264\u2265\u00a5\u00b5\u00f8]',
  '\u2248[\u00b0\u00a2]',
  '\u201a\u00c4[\u00ec\u00ee\u00ef\u00f2\u00f4\u00fa\u00f9\u00fb\u2020\u00b0\u00a2\u03c0]',
  '\u201a[\u00e2\u00f3][\u00e0\u00e4\u00b0\u00ea]',
  '\u0432\u0402', // вЂ: Windows-1251 mojibake of U+2000-range punctuation
  // Windows-1251 mojibake of Latin-1 or Cyrillic: a three-character sequence [ВГРС] x [ВГРС].
  `[\u0412\u0413\u0420\u0421][${C1}${BAD}${START_PUNCTUATION}${END_PUNCTUATION}${CURRENCY}\u00b0\u00b5][\u0412\u0413\u0420\u0421]`,
  // ГўВЂВ: Windows-1251 over Latin-1 over Windows-1252 punctuation, next to a Latin letter.
  '\u0413\u045e\u0412\u0402\u0412[^\\n][A-Za-z ]',
  // Windows-1252 encodings of 'à', 'á' and of U+A0 itself.
  '\u00c3[\u00a0\u00a1]',
  `[a-z][${PYTHON_SPACE}]?[\u00c3\u00c2] `,
  '^[\u00c3\u00c2] ',
  // Â encoding the very character that follows it.
  `[a-z.,?!${END_PUNCTUATION}]\u00c2[ ${START_PUNCTUATION}${END_PUNCTUATION}]`,
  '\u03b2\u20ac[\u2122\u00a0\u0386\u00ad\u00ae\u00b0]', // β€: Windows-1253 mojibake of U+2000-range punctuation
  // Windows-1253 mojibake of Latin-1 or Greek: [ΒΓΞΟ] x [ΒΓΞΟ].
  `[\u0392\u0393\u039e\u039f][${C1}${BAD}${START_PUNCTUATION}${END_PUNCTUATION}${CURRENCY}\u00b0][\u0392\u0393\u039e\u039f]`,
];

const BADNESS_SOURCE = SEQUENCES.join('|');
const BADNESS_TEST = new RegExp(BADNESS_SOURCE, 'u');
const BADNESS_ALL = new RegExp(BADNESS_SOURCE, 'gu');

/** The number of improbable sequences (ftfy's `badness`); > 0 means the text looks like mojibake. */
export function badness(text: string): number {
  let count = 0;
  for (const _match of text.matchAll(BADNESS_ALL)) count += 1;
  return count;
}

/** ftfy's `is_bad`: whether any improbable sequence occurs. */
export function isBad(text: string): boolean {
  return BADNESS_TEST.test(text);
}
