// A training dataset: images and their captions, from
// - a folder of images with same-name `.txt` captions, nested folders included (kohya's sd-scripts layout:
//   `a/cat.png` + `a/cat.txt`);
// - a folder with `metadata.jsonl` or `metadata.csv` (diffusers' ImageFolder: `file_name`, `text`,
//   file names relative to the folder holding the metadata file);
// - a list of (image, caption) pairs from the studio's history (`datasetFromItems`).
// Only the file list and captions are read here; pixels are decoded by load-training-image.ts.
// What is wrong with the input is collected as problems (each naming the files) instead of thrown one
// at a time, so the person sees everything at once; `checkDataset` turns the blocking ones into an error.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import { UserError } from '../common/errors.ts';

export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.webp'];

export interface DatasetItem {
  /** Absolute path of the image. */
  readonly path: string;
  /** Path relative to the dataset folder, '/'-separated (the item's name in messages and previews). */
  readonly name: string;
  readonly caption: string;
  /** Where the caption came from. */
  readonly captionSource: 'txt' | 'metadata' | 'file-name' | 'history';
}

export type DatasetProblemKind = 'missing-caption' | 'metadata-missing-image' | 'metadata-bad-line' | 'unreadable-caption' | 'history-missing-image';

export interface DatasetProblem {
  readonly kind: DatasetProblemKind;
  readonly message: string;
  /** The files concerned (dataset-relative names). */
  readonly files: readonly string[];
  /** Training refuses to start while a blocking problem remains. */
  readonly blocking: boolean;
}

export interface ImageDataset {
  readonly root: string;
  readonly layout: 'captions' | 'metadata.jsonl' | 'metadata.csv' | 'history';
  readonly items: readonly DatasetItem[];
  readonly problems: readonly DatasetProblem[];
}

export interface ScanOptions {
  /** Images without a caption: refuse the dataset (default) or caption them with their file name. */
  readonly missingCaptions?: 'refuse' | 'use-file-name';
}

function listImages(dir: string, out: string[]): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) listImages(path, out);
    else if (entry.isFile() && IMAGE_EXTENSIONS.includes(extname(entry.name).toLowerCase())) out.push(path);
  }
  return out;
}

function datasetName(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}

/** `cat_01-b.png` → `cat 01 b`: the caption of an image without one when the person asks for it. */
export function captionFromFileName(path: string): string {
  return basename(path, extname(path)).replace(/[_\-.]+/g, ' ').trim();
}

/** Reads a dataset folder in whichever layout it has. */
export function scanImageDataset(folder: string, options: ScanOptions = {}): ImageDataset {
  const root = resolve(folder);
  if (!existsSync(root)) throw new UserError('not-found', `The dataset folder ${root} does not exist.`);
  if (!statSync(root).isDirectory()) throw new UserError('invalid-argument', `${root} is not a folder.`, 'Give the folder that holds the training images.');
  if (existsSync(join(root, 'metadata.jsonl'))) return fromMetadata(root, 'metadata.jsonl', readJsonl(join(root, 'metadata.jsonl')));
  if (existsSync(join(root, 'metadata.csv'))) return fromMetadata(root, 'metadata.csv', readCsv(join(root, 'metadata.csv')));
  const images = listImages(root, []);
  if (images.length === 0) {
    throw new UserError('not-found', `The dataset folder ${root} holds no images.`, `Put PNG, JPEG or WebP files in it (${IMAGE_EXTENSIONS.join(', ')}), with same-name .txt captions.`);
  }
  const items: DatasetItem[] = [];
  const missing: string[] = [];
  const unreadable: string[] = [];
  for (const path of images) {
    const name = datasetName(root, path);
    const captionPath = path.slice(0, -extname(path).length) + '.txt';
    let caption: string | undefined;
    if (existsSync(captionPath)) {
      try {
        caption = readFileSync(captionPath, 'utf8').trim();
      } catch {
        unreadable.push(name);
      }
    } else {
      missing.push(name);
    }
    if (caption !== undefined) items.push({ path, name, caption, captionSource: 'txt' });
    else if (options.missingCaptions === 'use-file-name') items.push({ path, name, caption: captionFromFileName(path), captionSource: 'file-name' });
  }
  const problems: DatasetProblem[] = [];
  if (missing.length > 0) {
    problems.push({
      kind: 'missing-caption',
      message:
        options.missingCaptions === 'use-file-name'
          ? `${missing.length} image(s) have no .txt caption; their file names are used as captions.`
          : `${missing.length} image(s) have no .txt caption next to them.`,
      files: missing,
      blocking: options.missingCaptions !== 'use-file-name',
    });
  }
  if (unreadable.length > 0) problems.push({ kind: 'unreadable-caption', message: `${unreadable.length} caption file(s) could not be read.`, files: unreadable, blocking: true });
  return { root, layout: 'captions', items, problems };
}

interface MetadataRow {
  readonly line: number;
  readonly fileName?: string;
  readonly text?: string;
}

function readJsonl(path: string): MetadataRow[] {
  return readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((text, index) => ({ text: text.trim(), line: index + 1 }))
    .filter((line) => line.text !== '')
    .map(({ text, line }) => {
      try {
        const json = JSON.parse(text) as { file_name?: unknown; text?: unknown };
        return { line, fileName: typeof json.file_name === 'string' ? json.file_name : undefined, text: typeof json.text === 'string' ? json.text : undefined };
      } catch {
        return { line };
      }
    });
}

/** RFC 4180 fields: quoted fields may hold commas, doubled quotes and line breaks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.length > 1 || r[0] !== '');
}

function readCsv(path: string): MetadataRow[] {
  const [header, ...rows] = parseCsv(readFileSync(path, 'utf8').replace(/^\uFEFF/, ''));
  const fileColumn = header?.indexOf('file_name') ?? -1;
  const textColumn = header?.indexOf('text') ?? -1;
  if (fileColumn < 0 || textColumn < 0) {
    throw new UserError('corrupt-file', `${path} has no 'file_name' and 'text' columns (its header is ${JSON.stringify(header ?? [])}).`, 'The first line must name the columns, e.g. file_name,text.');
  }
  return rows.map((row, index) => ({ line: index + 2, fileName: row[fileColumn], text: row[textColumn] }));
}

function fromMetadata(root: string, layout: 'metadata.jsonl' | 'metadata.csv', rows: readonly MetadataRow[]): ImageDataset {
  const items: DatasetItem[] = [];
  const badLines: string[] = [];
  const missingImages: string[] = [];
  for (const row of rows) {
    if (row.fileName === undefined || row.text === undefined) {
      badLines.push(`${layout}:${row.line}`);
      continue;
    }
    const path = resolve(root, row.fileName);
    if (!existsSync(path)) missingImages.push(row.fileName);
    else items.push({ path, name: datasetName(root, path), caption: row.text.trim(), captionSource: 'metadata' });
  }
  if (items.length === 0) throw new UserError('not-found', `${join(root, layout)} names no image that exists.`, 'Each line needs a file_name (relative to the folder) and a text.');
  const problems: DatasetProblem[] = [];
  if (badLines.length > 0) problems.push({ kind: 'metadata-bad-line', message: `${badLines.length} line(s) of ${layout} lack a file_name or a text and were skipped.`, files: badLines, blocking: false });
  if (missingImages.length > 0) problems.push({ kind: 'metadata-missing-image', message: `${missingImages.length} image(s) named in ${layout} do not exist and were skipped.`, files: missingImages, blocking: false });
  return { root, layout, items, problems };
}

/** A dataset from the studio's history (or any list of image files with their prompts as captions). */
export function datasetFromItems(items: readonly { readonly path: string; readonly caption: string; readonly name?: string }[]): ImageDataset {
  if (items.length === 0) throw new UserError('not-found', 'The selection holds no images.', 'Select some images in the History first.');
  return {
    root: '',
    layout: 'history',
    items: items.map((item) => ({ path: resolve(item.path), name: item.name ?? basename(item.path), caption: item.caption, captionSource: 'history' as const })),
    problems: [],
  };
}

/** Refuses a dataset with a blocking problem (images without captions unless file names were asked for). */
export function checkDataset(dataset: ImageDataset): void {
  const blocking = dataset.problems.find((problem) => problem.blocking);
  if (blocking) {
    const listed = blocking.files.slice(0, 10).join(', ') + (blocking.files.length > 10 ? `, … (${blocking.files.length - 10} more)` : '');
    const hint = blocking.kind === 'missing-caption' ? 'Add same-name .txt files, or train with the file names as captions (--caption-from-file-name).' : undefined;
    throw new UserError('invalid-argument', `${blocking.message} ${listed}.`, hint);
  }
  if (dataset.items.length === 0) throw new UserError('not-found', `The dataset ${dataset.root} has no usable images.`);
}

/**
 * The held-out validation items: a share (default 5 %, at least one item when the dataset has two or
 * more) chosen by a seeded shuffle, so the same seed always holds out the same images.
 */
export function splitValidation<T>(items: readonly T[], share: number, choose: (count: number) => readonly number[]): { train: T[]; validation: T[] } {
  if (!(share >= 0 && share < 1)) throw new UserError('invalid-argument', `The validation share must be from 0 to below 1, got ${share}.`);
  const count = share === 0 || items.length < 2 ? 0 : Math.max(1, Math.round(items.length * share));
  const order = choose(items.length);
  const held = new Set(order.slice(0, count));
  return { train: items.filter((_, i) => !held.has(i)), validation: items.filter((_, i) => held.has(i)) };
}
