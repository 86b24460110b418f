// `fixText` behaves like `ftfy.fix_text(text)` of ftfy 6.1.1 with its default configuration, which is what
// transformers' CLIPTokenizer (and so every diffusers SD1.x pipeline) runs on a prompt before BPE when
// ftfy is installed. Defaults reproduced: unescape_html='auto', remove_terminal_escapes, fix_encoding
// (with restore_byte_a0, replace_lossy_sequences, decode_inconsistent_utf8), fix_c1_controls,
// fix_latin_ligatures, fix_character_width, uncurl_quotes, fix_line_breaks, fix_surrogates,
// remove_control_chars, normalization='NFC', max_decode_length=1_000_000.
import { fixC1Controls, fixEncoding } from './fix-encoding.ts';
import {
  fixCharacterWidth,
  fixLatinLigatures,
  fixLineBreaks,
  fixSurrogates,
  removeControlChars,
  removeTerminalEscapes,
  uncurlQuotes,
  unescapeHtml,
} from './text-fixes.ts';

/** ftfy fixes text in segments of at most this many characters when a line is longer. */
const MAX_DECODE_LENGTH = 1_000_000;

/** The fixers run after fix_encoding on every pass, in ftfy's order. */
const PASS_FIXERS: readonly ((text: string) => string)[] = [
  fixC1Controls,
  fixLatinLigatures,
  fixCharacterWidth,
  uncurlQuotes,
  fixLineBreaks,
  fixSurrogates,
  removeTerminalEscapes,
  removeControlChars,
];

/**
 * One segment (ftfy `fix_and_explain`): passes of every fixer until a pass changes nothing, so that
 * the result is a fixed point ("&amp;amp;" → "&").
 */
function fixSegment(text: string, unescapeEntities: boolean): string {
  for (;;) {
    const original = text;
    if (unescapeEntities) text = unescapeHtml(text);
    text = fixEncoding(text);
    for (const fixer of PASS_FIXERS) text = fixer(text);
    text = text.normalize('NFC');
    if (text === original) return text;
  }
}

/** Index just after the segment starting at `start`: its first '\n' included, or the length limit. */
function segmentEnd(text: string, start: number): number {
  const newline = text.indexOf('\n', start);
  let end = newline === -1 ? text.length : newline + 1;
  if (end - start > MAX_DECODE_LENGTH) {
    end = start + MAX_DECODE_LENGTH;
    // ftfy counts code points; never split a surrogate pair here.
    if (/[\ud800-\udbff]/.test(text[end - 1])) end -= 1;
  }
  return end;
}

/**
 * Fixes mojibake, HTML entities (only while no '<' has been seen, since real HTML keeps its entities),
 * terminal escapes, C1 controls, Latin ligatures, full/halfwidth forms, curly quotes, line breaks,
 * unpaired surrogates and invisible control characters, then NFC-normalizes. Line by line, as ftfy does.
 */
export function fixText(text: string): string {
  let unescapeEntities = true;
  let fixed = '';
  let start = 0;
  while (start < text.length) {
    const end = segmentEnd(text, start);
    const segment = text.slice(start, end);
    // 'auto': once a segment contains '<', this and all later segments keep their entities.
    if (segment.includes('<')) unescapeEntities = false;
    fixed += fixSegment(segment, unescapeEntities);
    start = end;
  }
  return fixed;
}
