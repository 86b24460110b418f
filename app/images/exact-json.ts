// JSON.parse turns integers beyond 2^53 into the nearest double, and seeds from ComfyUI (u64),
// Stability Matrix (ulong) or A1111 forks routinely exceed that. Before parsing, integer literals that
// are not safe integers are rewritten as strings holding their exact digits; everything else parses
// as JSON.parse would. (Node 20 has no JSON.parse source-text access, which would do this natively.)
// Python's json.dumps writes NaN, Infinity and -Infinity for such floats (ComfyUI graphs can hold
// them); they are read as null rather than failing the whole document.

/** JSON.parse, with unsafe integer literals kept exact as decimal strings. Throws SyntaxError as JSON.parse does. */
export function parseJsonExact(text: string): unknown {
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    const char = text.charCodeAt(i);
    if (char === 0x22) {
      // Skip a string literal, escapes included.
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
      i++;
    } else if (text.startsWith('NaN', i) || text.startsWith('Infinity', i) || text.startsWith('-Infinity', i)) {
      const length = text.startsWith('NaN', i) ? 3 : text.startsWith('Infinity', i) ? 8 : 9;
      out += `${text.slice(copied, i)}null`;
      i += length;
      copied = i;
    } else if (char === 0x2d || (char >= 0x30 && char <= 0x39)) {
      const start = i;
      i++;
      while (i < text.length && /[0-9.eE+-]/.test(text[i]!)) i++;
      const token = text.slice(start, i);
      if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(copied, start)}"${token}"`;
        copied = i;
      }
    } else {
      i++;
    }
  }
  return JSON.parse(copied === 0 ? text : out + text.slice(copied));
}

/** A JSON object parsed exactly, or undefined when the text is not one. */
export function parseJsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value = parseJsonExact(trimmed);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
