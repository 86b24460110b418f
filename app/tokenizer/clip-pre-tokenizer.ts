// Everything transformers' slow CLIPTokenizer (4.33) does to a prompt before BPE:
//   1. `tokenize()` cuts the text at the special-token strings (its no-split trie; exact, case-sensitive),
//      which become ids directly; every other piece goes through `_tokenize` on its own;
//   2. `_tokenize`: ftfy.fix_text, `whitespace_clean` (Python `\s+` → ' ', then strip), `lower()`;
//   3. CLIP's pattern (module `regex`, IGNORECASE) splits the piece into pre-tokens:
//      the two special strings, the English contractions 's 't 're 've 'm 'll 'd, runs of letters,
//      single digits, and runs of anything else that is not whitespace.
import { fixText } from './fix-text.ts';
import { PYTHON_SPACE } from './python-character-classes.ts';

/** What `whitespace_clean` collapses: Python's `\s+`. */
const PYTHON_SPACE_RUN = new RegExp(`[${PYTHON_SPACE}]+`, 'g');

/** The `regex` module's `\s` (Unicode White_Space; unlike Python's `re` it leaves out U+1C-U+1F). */
const REGEX_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/**
 * A word matched the way re.IGNORECASE matches it in the `regex` module (simple case folding): each
 * letter in either case, plus 'ſ' for 's' and the Kelvin sign for 'k'.
 */
function caseless(word: string): string {
  return Array.from(word, (char) => {
    if (!/[a-z]/.test(char)) return char.replace(/[|\\^$.*+?()[\]{}]/g, '\\$&');
    const extra = char === 's' ? '\u017f' : char === 'k' ? '\u212a' : '';
    return `[${char}${char.toUpperCase()}${extra}]`;
  }).join('');
}

/**
 * transformers `CLIPTokenizer.pat`. Its re.IGNORECASE is spelled out in `caseless` rather than with the
 * `i` flag: under `i` JavaScript would also treat U+0345 (a combining mark that case-folds to 'ι') as a
 * letter, whereas the `regex` module matches it with neither class, so it is dropped; it is excluded
 * from the "other" class here to the same effect.
 */
const CLIP_PATTERN = new RegExp(
  [
    caseless('<|startoftext|>'),
    caseless('<|endoftext|>'),
    ...['s', 't', 're', 've', 'm', 'll', 'd'].map((ending) => caseless(`'${ending}`)),
    '[\\p{L}]+',
    '[\\p{N}]',
    `[^${REGEX_SPACE}\\p{L}\\p{N}\\u0345]+`,
  ].join('|'),
  'gu',
);

/** transformers `whitespace_clean`. */
export function whitespaceClean(text: string): string {
  const collapsed = text.replace(PYTHON_SPACE_RUN, ' ');
  // Every run is now one ' ', so strip() has at most one space to drop at each end.
  const start = collapsed.startsWith(' ') ? 1 : 0;
  const end = collapsed.length > start && collapsed.endsWith(' ') ? collapsed.length - 1 : collapsed.length;
  return collapsed.slice(start, end);
}

/** The normalized text CLIP's BPE sees: `whitespace_clean(ftfy.fix_text(text)).lower()`. */
export function normalizePrompt(text: string): string {
  return whitespaceClean(fixText(text)).toLowerCase();
}

/** Pre-tokens of normalized text, in order. */
export function preTokenize(normalized: string): string[] {
  return Array.from(normalized.matchAll(CLIP_PATTERN), (match) => match[0]);
}

export interface PromptPiece {
  readonly text: string;
  /** True for an exact special-token string, which maps straight to its id. */
  readonly special: boolean;
}

/**
 * Cuts text at occurrences of the special-token strings (longest first where two start at the same
 * place), dropping empty pieces, like transformers' no-split trie.
 */
export function splitOnSpecialTokens(text: string, specialTokens: readonly string[]): PromptPiece[] {
  const tokens = [...new Set(specialTokens)].filter((token) => token.length > 0).sort((a, b) => b.length - a.length);
  if (!tokens.some((token) => text.includes(token))) return text.length > 0 ? [{ text, special: false }] : [];
  const pieces: PromptPiece[] = [];
  let start = 0;
  let scan = 0;
  while (scan < text.length) {
    const token = tokens.find((candidate) => text.startsWith(candidate, scan));
    if (token === undefined) {
      scan += 1;
      continue;
    }
    if (scan > start) pieces.push({ text: text.slice(start, scan), special: false });
    pieces.push({ text: token, special: true });
    scan += token.length;
    start = scan;
  }
  if (start < text.length) pieces.push({ text: text.slice(start), special: false });
  return pieces;
}
