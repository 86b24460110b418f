// Typed loading of a golden directory: `<dir>/manifest.json` (validated) and the files it names —
// tensors (one open SafetensorsFile per file, tensors cached until `clearCache()`), JSON with selectors
// and PNGs. Paths in the manifest are relative to the directory and may not leave it.
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';
import { describeShape } from '../../app/tensor/tensor.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import type { ManifestCase, ManifestEntry } from './case-kind.ts';
import { selectJson } from './json-path.ts';
import { parsePythonJson } from './python-json.ts';

/** Manifest schemas this runner understands: `sd-afa-golden/1`. */
export const SUPPORTED_SCHEMA = /^sd-afa-golden\/1(\.\d+)*$/;

const ENTRY_TYPES: ReadonlySet<string> = new Set(['tensor', 'tensor_set', 'value', 'png', 'json', 'same_as']);

export interface GoldenManifest {
  /** Absolute path of the golden directory. */
  readonly dir: string;
  readonly schema: string;
  readonly cases: readonly ManifestCase[];
  /** Every top-level field as written (conventions, config, seeds, ...). */
  readonly fields: Readonly<Record<string, unknown>>;
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

export function loadManifest(dir: string): GoldenManifest {
  const absolute = resolve(dir);
  const path = resolve(absolute, 'manifest.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ManifestError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parsePythonJson(text);
  } catch (error) {
    throw new ManifestError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (!isRecord(parsed)) throw new ManifestError(`${path} is not a JSON object`);
  const { schema, cases } = parsed;
  if (typeof schema !== 'string' || !SUPPORTED_SCHEMA.test(schema)) {
    throw new ManifestError(`${path}: schema ${JSON.stringify(schema)} is not supported (expected sd-afa-golden/1)`);
  }
  if (!Array.isArray(cases)) throw new ManifestError(`${path}: 'cases' is not an array`);
  const seen = new Set<string>();
  const checked = cases.map((item, index) => {
    const testCase = checkCase(item, `${path}: cases[${index}]`);
    if (seen.has(testCase.id)) throw new ManifestError(`${path}: case id '${testCase.id}' appears twice`);
    seen.add(testCase.id);
    return testCase;
  });
  return { dir: absolute, schema, cases: checked, fields: parsed };
}

function checkCase(item: unknown, where: string): ManifestCase {
  if (!isRecord(item)) throw new ManifestError(`${where} is not an object`);
  if (typeof item.id !== 'string' || item.id.length === 0) throw new ManifestError(`${where} has no id`);
  const at = `${where} ('${item.id}')`;
  if (typeof item.kind !== 'string' || item.kind.length === 0) throw new ManifestError(`${at} has no kind`);
  if (!isRecord(item.outputs)) throw new ManifestError(`${at} has no outputs object`);
  for (const section of ['inputs', 'outputs'] as const) {
    const entries = item[section];
    if (entries === undefined) continue;
    if (!isRecord(entries)) throw new ManifestError(`${at}: ${section} is not an object`);
    for (const [name, entry] of Object.entries(entries)) checkEntry(entry, `${at} ${section}.${name}`);
  }
  for (const field of ['model', 'params'] as const) {
    if (item[field] !== undefined && !isRecord(item[field])) throw new ManifestError(`${at}: ${field} is not an object`);
  }
  return item as unknown as ManifestCase;
}

function checkEntry(entry: unknown, where: string): void {
  if (!isRecord(entry)) throw new ManifestError(`${where} is not an object`);
  if (typeof entry.type !== 'string' || !ENTRY_TYPES.has(entry.type)) {
    throw new ManifestError(`${where} has unknown type ${JSON.stringify(entry.type)}`);
  }
  const needs = (field: string, type: string) => {
    if (typeof entry[field] !== type) throw new ManifestError(`${where} (${String(entry.type)}) needs '${field}'`);
  };
  switch (entry.type) {
    case 'tensor':
      needs('file', 'string');
      needs('tensor', 'string');
      break;
    case 'tensor_set':
    case 'png':
      needs('file', 'string');
      break;
    case 'json':
      needs('file', 'string');
      break;
    case 'same_as':
      needs('case', 'string');
      needs('output', 'string');
      break;
    case 'value':
      if (!('value' in entry)) throw new ManifestError(`${where} (value) needs 'value'`);
      break;
  }
  for (const field of ['atol', 'rtol'] as const) {
    const value = entry[field];
    if (value !== undefined && (typeof value !== 'number' || !(value >= 0))) {
      throw new ManifestError(`${where}: ${field} must be a non-negative number`);
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads the files of a golden directory. One instance per run; `close()` releases the open files. */
export class GoldenFiles {
  private readonly files = new Map<string, SafetensorsFile>();
  private readonly tensors = new Map<string, Map<string, Tensor>>();

  constructor(readonly dir: string) {}

  /** Absolute path of a file named relative to the golden directory (which it may not leave). */
  resolve(relativePath: string): string {
    const path = resolve(this.dir, relativePath);
    const inside = relative(this.dir, path);
    if (inside.startsWith('..') || isAbsolute(inside)) throw new ManifestError(`'${relativePath}' points outside ${this.dir}`);
    return path;
  }

  /** The safetensors file `relativePath`, opened once per run. */
  safetensors(relativePath: string): SafetensorsFile {
    const path = this.resolve(relativePath);
    let file = this.files.get(path);
    if (!file) {
      file = SafetensorsFile.open(path);
      this.files.set(path, file);
    }
    return file;
  }

  /** A `tensor` entry's tensor, checked against the dtype and shape the manifest declares. */
  readTensor(entry: ManifestEntry): Tensor {
    if (typeof entry.file !== 'string' || typeof entry.tensor !== 'string') {
      throw new ManifestError(`entry of type '${entry.type}' does not name a file and tensor`);
    }
    const file = this.safetensors(entry.file);
    const cache = this.cacheOf(file.path);
    const cached = cache.get(entry.tensor);
    if (cached) return cached;
    const stored = file.entry(entry.tensor);
    if (entry.dtype !== undefined && entry.dtype !== stored.dtype) {
      throw new ManifestError(`${entry.file}:${entry.tensor} is ${stored.dtype} but the manifest says ${entry.dtype}`);
    }
    if (entry.shape !== undefined && describeShape(entry.shape) !== describeShape(stored.shape)) {
      throw new ManifestError(
        `${entry.file}:${entry.tensor} has shape ${describeShape(stored.shape)} but the manifest says ${describeShape(entry.shape)}`,
      );
    }
    const tensor = file.read(entry.tensor);
    cache.set(entry.tensor, tensor);
    return tensor;
  }

  /** Every tensor of a `tensor_set` entry's file, in file order. */
  readTensorSet(entry: ManifestEntry): ReadonlyMap<string, Tensor> {
    if (typeof entry.file !== 'string') throw new ManifestError(`entry of type '${entry.type}' does not name a file`);
    const file = this.safetensors(entry.file);
    const set = new Map<string, Tensor>();
    for (const name of file.names()) set.set(name, this.readTensor({ type: 'tensor', file: entry.file, tensor: name }));
    return set;
  }

  /** A `json` entry's file with its `json_path` applied. */
  readJson(entry: ManifestEntry): unknown {
    if (typeof entry.file !== 'string') throw new ManifestError(`entry of type '${entry.type}' does not name a file`);
    const value = parsePythonJson(readFileSync(this.resolve(entry.file), 'utf8'));
    return typeof entry.json_path === 'string' ? selectJson(value, entry.json_path) : value;
  }

  /** A `png` entry's image as 8-bit RGB (alpha dropped). */
  readPng(entry: ManifestEntry): { width: number; height: number; rgb: Uint8Array } {
    if (typeof entry.file !== 'string') throw new ManifestError(`entry of type '${entry.type}' does not name a file`);
    const png = PNG.sync.read(readFileSync(this.resolve(entry.file)));
    const rgb = new Uint8Array(png.width * png.height * 3);
    for (let pixel = 0; pixel < png.width * png.height; pixel++) {
      rgb[pixel * 3] = png.data[pixel * 4]!;
      rgb[pixel * 3 + 1] = png.data[pixel * 4 + 1]!;
      rgb[pixel * 3 + 2] = png.data[pixel * 4 + 2]!;
    }
    return { width: png.width, height: png.height, rgb };
  }

  /** Drops cached tensor data (open files stay open); the runner calls it between cases. */
  clearCache(): void {
    this.tensors.clear();
  }

  close(): void {
    for (const file of this.files.values()) file.close();
    this.files.clear();
    this.tensors.clear();
  }

  private cacheOf(path: string): Map<string, Tensor> {
    let cache = this.tensors.get(path);
    if (!cache) {
      cache = new Map();
      this.tensors.set(path, cache);
    }
    return cache;
  }
}
