// JSON.parse keeps the last of two equal keys without a word. A safetensors header with a key twice is
// ambiguous (two readers may pick different tensors), so the reader rejects it; this finds such a key.

interface Container {
  readonly keys?: Set<string>;
  expectKey: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * Returns the first key that occurs twice in one object of `text`, or undefined.
 * `text` must already be valid JSON (parse it first): this scanner does not validate.
 */
export function findDuplicateKey(text: string): string | undefined {
  const stack: Container[] = [];
  let index = 0;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (code === QUOTE) {
      const end = closingQuote(text, index);
      const top = stack.at(-1);
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(index, end + 1)) as string;
        if (top.keys.has(key)) return key;
        top.keys.add(key);
        top.expectKey = false;
      }
      index = end + 1;
      continue;
    }
    if (code === OPEN_OBJECT) stack.push({ keys: new Set(), expectKey: true });
    else if (code === OPEN_ARRAY) stack.push({ expectKey: false });
    else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) stack.pop();
    else if (code === COMMA) {
      const top = stack.at(-1);
      if (top?.keys) top.expectKey = true;
    }
    index++;
  }
  return undefined;
}

/** Index of the quote that closes the string opening at `start` (skips escaped quotes). */
function closingQuote(text: string, start: number): number {
  let index = start + 1;
  for (;;) {
    const quote = text.indexOf('"', index);
    if (quote < 0) return text.length - 1;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    index = quote + 1;
  }
}
