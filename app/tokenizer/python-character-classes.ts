// Character classes of Python's `re` module on str patterns, as regex-class bodies (without brackets) for
// JavaScript `u` regexes. They differ from JavaScript's own `\s` and `\w`, and both ftfy's heuristic and
// transformers' whitespace_clean are written with Python's.

/** `\s` = str.isspace(): unlike JavaScript, it includes U+001C-U+001F and U+0085 but not U+FEFF. */
export const PYTHON_SPACE = '\\t\\n\\v\\f\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/** `\w`: every letter and number (categories L and N) and '_', not just ASCII. */
export const PYTHON_WORD = '\\p{L}\\p{N}_';
