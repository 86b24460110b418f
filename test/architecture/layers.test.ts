// Enforces the layering of docs/architecture.md by reading every source file's imports:
// app/ is plain Node (no electron, main/ or renderer/); renderer/ sees app/ only as types from app/api/;
// one file owns onnxruntime-node; electron stays in main/; the shared golden data is never imported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findImports } from './imports.ts';
import type { ImportSite } from './imports.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const SOURCE = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;

interface SourceImport extends ImportSite {
  /** Repository-relative path with forward slashes, e.g. 'app/tensor/tensor.ts'. */
  readonly file: string;
  /** Absolute path a relative specifier points to; undefined for packages. */
  readonly target?: string;
}

/** Every import of every source file below the given top-level folders of `root` (missing ones skipped). */
function importsUnder(root: string, folders: readonly string[]): SourceImport[] {
  const found: SourceImport[] = [];
  const visit = (path: string): void => {
    const name = path.slice(path.lastIndexOf(sep) + 1);
    if (name === 'node_modules' || name === 'dist') return;
    if (statSync(path).isDirectory()) {
      for (const child of readdirSync(path).sort()) visit(join(path, child));
      return;
    }
    if (!SOURCE.test(name)) return;
    const file = relative(root, path).split(sep).join('/');
    for (const site of findImports(readFileSync(path, 'utf8'))) {
      const target = site.specifier.startsWith('.') ? resolve(dirname(path), site.specifier) : undefined;
      found.push({ ...site, file, target });
    }
  };
  for (const folder of folders) {
    const path = join(root, folder);
    if (existsSync(path)) visit(path);
  }
  return found;
}

function isPackage(site: SourceImport, name: string): boolean {
  return site.specifier === name || site.specifier.startsWith(`${name}/`);
}

function isInside(target: string | undefined, folder: string): boolean {
  if (target === undefined) return false;
  const inside = relative(folder, target);
  return inside === '' || (!inside.startsWith('..') && !isAbsolute(inside));
}

interface Rule {
  readonly name: string;
  /** Top-level folders whose files the rule reads. */
  readonly folders: readonly string[];
  readonly breaks: (site: SourceImport, root: string) => boolean;
}

const RULES: readonly Rule[] = [
  {
    name: 'app/ is plain Node: it never imports electron, main/ or renderer/',
    folders: ['app'],
    breaks: (site, root) => isPackage(site, 'electron') || isInside(site.target, join(root, 'main')) || isInside(site.target, join(root, 'renderer')),
  },
  {
    name: 'renderer/ imports app/ only with `import type`, and only from app/api/',
    folders: ['renderer'],
    breaks: (site, root) => isInside(site.target, join(root, 'app')) && (!site.typeOnly || !isInside(site.target, join(root, 'app', 'api'))),
  },
  {
    name: 'only app/runtime/onnx-runtime.ts imports onnxruntime-node',
    folders: ['app', 'main', 'renderer', 'bin', 'bench', 'scripts'],
    breaks: (site) => isPackage(site, 'onnxruntime-node') && site.file !== 'app/runtime/onnx-runtime.ts',
  },
  {
    name: 'electron is imported only under main/',
    folders: ['app', 'renderer', 'bin', 'bench', 'scripts'],
    breaks: (site) => isPackage(site, 'electron'),
  },
  {
    name: 'nothing in app/ or renderer/ imports anything under ../shared',
    folders: ['app', 'renderer'],
    breaks: (site, root) => isInside(site.target, resolve(root, '..', 'shared')),
  },
];

function violations(rule: Rule, root: string): SourceImport[] {
  return importsUnder(root, rule.folders).filter((site) => rule.breaks(site, root));
}

function describe(found: readonly SourceImport[], rule: Rule): string {
  const lines = found.map((site) => {
    const specifier = site.dynamic ? `import('${site.specifier}')` : `'${site.specifier}'`;
    return `  ${site.file}:${site.line}  ${specifier}${site.typeOnly ? ' (type-only)' : ''}`;
  });
  return [`${found.length} import(s) break the rule: ${rule.name}`, ...lines].join('\n');
}

for (const rule of RULES) {
  test(rule.name, () => {
    const found = violations(rule, repoRoot);
    if (found.length > 0) assert.fail(describe(found, rule));
  });
}

test('each rule catches its violation in a fake repository (and passes what is allowed)', (t) => {
  const root = join(mkdtempSync(join(tmpdir(), 'layers-')), 'repo');
  t.after(() => rmSync(dirname(root), { recursive: true, force: true }));
  const files: Record<string, string> = {
    'app/engine.ts': "import { x } from '../main/window.ts';\nimport type { BrowserWindow } from 'electron';\nconst ort = await import('onnxruntime-node');\n",
    'app/runtime/onnx-runtime.ts': "import * as ort from 'onnxruntime-node';\n",
    'app/golden.ts': "\n\nimport data from '../../shared/golden/manifest.json';\n",
    'app/api/contract.ts': 'export interface Api {}\n',
    'renderer/ok.tsx': "import type { Api } from '../app/api/contract.ts';\n",
    'renderer/value.tsx': "import { Api } from '../app/api/contract.ts';\n",
    'renderer/deep.tsx': "import type { Tensor } from '../app/tensor/tensor.ts';\n",
    'main/window.ts': "import { app } from 'electron';\nimport { engine } from '../app/engine.ts';\n",
    'scripts/tool.ts': "import 'electron/main';\n",
  };
  for (const [file, source] of Object.entries(files)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), source);
  }
  const where = (rule: Rule) => violations(rule, root).map((site) => `${site.file}:${site.line}`);
  assert.deepEqual(where(RULES[0]!), ['app/engine.ts:1', 'app/engine.ts:2']);
  assert.deepEqual(where(RULES[1]!), ['renderer/deep.tsx:1', 'renderer/value.tsx:1']);
  assert.deepEqual(where(RULES[2]!), ['app/engine.ts:3']);
  assert.deepEqual(where(RULES[3]!), ['app/engine.ts:2', 'scripts/tool.ts:1']);
  assert.deepEqual(where(RULES[4]!), ['app/golden.ts:3']);
  assert.match(describe(violations(RULES[2]!, root), RULES[2]!), /app\/engine\.ts:3  import\('onnxruntime-node'\)/);
});

test('the import scanner sees every form of import, with lines, and ignores comments', () => {
  const source = [
    "import type { A } from '../app/api/a.ts';", // 1
    "import {", // 2
    '  b,', // 3
    "  type C } from '../app/b.ts';", // 4
    "// import x from 'commented-out';", // 5
    "/* import y from 'block-comment'; */ import 'side-effect';", // 6
    "export * as d from './d.ts';", // 7
    "export type { E } from './e.ts';", // 8
    "const f = await import('electron');", // 9
    "const g = require(\"onnxruntime-node\");", // 10
    "const text = 'not // a comment';", // 11
    "import h from '../../shared/golden/x.json';", // 12
  ].join('\n');
  assert.deepEqual(
    findImports(source).map((site) => [site.line, site.specifier, site.typeOnly, site.dynamic]),
    [
      [1, '../app/api/a.ts', true, false],
      [2, '../app/b.ts', false, false],
      [6, 'side-effect', false, false],
      [7, './d.ts', false, false],
      [8, './e.ts', true, false],
      [9, 'electron', false, true],
      [10, 'onnxruntime-node', false, true],
      [12, '../../shared/golden/x.json', false, false],
    ],
  );
});
