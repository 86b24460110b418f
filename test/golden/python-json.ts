// The golden manifest is written by Python's json module, which emits the non-standard tokens NaN,
// Infinity and -Infinity for non-finite floats (e.g. DPMSolver's `lambda_min_clipped: -Infinity`).
// JSON.parse rejects them, so they are rewritten (outside strings only) to marker strings and revived.

const MARKER = '\u0000python-float:';
/** The marker as it is spelled inside a JSON string literal (a raw control character is invalid JSON). */
const ESCAPED_MARKER = '\\u0000python-float:';

const NON_FINITE: Readonly<Record<string, number>> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
};

export function parsePythonJson(text: string): unknown {
  let rewritten = '';
  let copied = 0;
  let index = 0;
  while (index < text.length) {
    const char = text[index];
    if (char === '"') {
      index = skipString(text, index);
      continue;
    }
    if (char === 'N' || char === 'I' || char === '-') {
      const token = ['-Infinity', 'Infinity', 'NaN'].find((candidate) => text.startsWith(candidate, index));
      if (token) {
        rewritten += `${text.slice(copied, index)}"${ESCAPED_MARKER}${token}"`;
        index += token.length;
        copied = index;
        continue;
      }
    }
    index++;
  }
  rewritten += text.slice(copied);
  return JSON.parse(rewritten, (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(MARKER) ? NON_FINITE[value.slice(MARKER.length)] : value,
  );
}

/** Index just past the string literal that opens at `start`. */
function skipString(text: string, start: number): number {
  let index = start + 1;
  while (index < text.length) {
    const char = text[index];
    if (char === '\\') index += 2;
    else if (char === '"') return index + 1;
    else index++;
  }
  return index;
}
