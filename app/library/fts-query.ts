// Turns what a person types into an FTS5 query. Every word becomes a quoted phrase (so FTS5 syntax
// characters in the text — quotes, '*', '-', ':', AND/OR/NOT — are taken literally) and the words
// must all match; the last word also matches as a prefix, for search as you type.
// FTS5 query syntax: https://www.sqlite.org/fts5.html#full_text_query_syntax

/** The MATCH expression for `text`, or undefined when it holds no searchable word. */
export function ftsQuery(text: string): string | undefined {
  const words = text
    .split(/\s+/u)
    .map((word) => word.replace(/"/g, ''))
    .filter((word) => /[\p{L}\p{N}]/u.test(word));
  if (words.length === 0) return undefined;
  return words.map((word, i) => `"${word}"${i === words.length - 1 ? ' *' : ''}`).join(' ');
}
