// Finds the module specifiers a source file imports: static `import ... from`, side-effect `import '…'`,
// `export ... from`, dynamic `import('…')` and `require('…')`, with their line and whether the
// statement is type-only (`import type` / `export type`, which TypeScript erases; an inline
// `import { type X }` is not, since verbatimModuleSyntax keeps the import).

export interface ImportSite {
  readonly specifier: string;
  /** 1-based line of the statement's start. */
  readonly line: number;
  readonly typeOnly: boolean;
  readonly dynamic: boolean;
}

/** Replaces comments with spaces (keeping newlines, so offsets and lines stay valid); strings are kept. */
export function blankComments(source: string): string {
  let out = '';
  let index = 0;
  while (index < source.length) {
    const char = source[index]!;
    const next = source[index + 1];
    if (char === '/' && next === '/') {
      const end = source.indexOf('\n', index);
      const stop = end < 0 ? source.length : end;
      out += ' '.repeat(stop - index);
      index = stop;
    } else if (char === '/' && next === '*') {
      const end = source.indexOf('*/', index + 2);
      const stop = end < 0 ? source.length : end + 2;
      out += source.slice(index, stop).replace(/[^\n]/g, ' ');
      index = stop;
    } else if (char === '"' || char === "'" || char === '`') {
      const stop = endOfString(source, index);
      out += source.slice(index, stop);
      index = stop;
    } else {
      out += char;
      index++;
    }
  }
  return out;
}

function endOfString(source: string, start: number): number {
  const quote = source[start];
  let index = start + 1;
  while (index < source.length) {
    const char = source[index];
    if (char === '\\') index += 2;
    else if (char === quote) return index + 1;
    else if (char === '\n' && quote !== '`') return index; // unterminated: stop at the line end
    else index++;
  }
  return index;
}

// `import|export [type] <clause> from '<specifier>'`; the clause holds identifiers, braces, commas, `*`.
const FROM = /\b(import|export)(\s+type)?\s+([\w$*{},\s]*?)\s*from\s*(['"])([^'"\n]+)\4/g;
const SIDE_EFFECT = /\bimport\s*(['"])([^'"\n]+)\1/g;
const DYNAMIC = /\b(import|require)\s*\(\s*(['"`])([^'"`\n]+)\2\s*\)/g;

export function findImports(source: string): ImportSite[] {
  const text = blankComments(source);
  const lineAt = (offset: number) => text.slice(0, offset).split('\n').length;
  const sites: ImportSite[] = [];
  for (const match of text.matchAll(FROM)) {
    sites.push({ specifier: match[5]!, line: lineAt(match.index!), typeOnly: match[2] !== undefined, dynamic: false });
  }
  for (const match of text.matchAll(SIDE_EFFECT)) {
    sites.push({ specifier: match[2]!, line: lineAt(match.index!), typeOnly: false, dynamic: false });
  }
  for (const match of text.matchAll(DYNAMIC)) {
    sites.push({ specifier: match[3]!, line: lineAt(match.index!), typeOnly: false, dynamic: true });
  }
  return sites.sort((a, b) => a.line - b.line);
}
