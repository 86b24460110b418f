// Export of a selection: the images (unchanged, so their embedded settings go along) plus their
// settings as `settings.json` (complete records) and/or `settings.csv` (one flat row per image,
// RFC 4180). Nothing already in the folder is overwritten; on failure or cancellation the files this
// export wrote are removed again.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { extname, join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.ts';
import { UserError, throwIfCancelled } from '../common/errors.ts';
import type { JobControl } from '../common/progress.ts';
import type { ImageStore } from '../images/image-store.ts';
import type { GenerationRow, GenerationsTable } from './generations-table.ts';

export interface ExportParts {
  readonly generations: GenerationsTable;
  readonly store: ImageStore;
}

export interface ExportOptions {
  /** Which settings files to write (default both). */
  readonly settings?: 'json' | 'csv' | 'both';
}

export interface ExportReport {
  readonly directory: string;
  /** Absolute paths of the image files written. */
  readonly images: string[];
  readonly settingsFiles: string[];
  /** Selected generations that had no image to export, with the reason. */
  readonly skipped: { readonly id: string; readonly reason: string }[];
}

const CSV_COLUMNS = [
  'file', 'id', 'createdAt', 'prompt', 'negativePrompt', 'seed', 'steps', 'guidance', 'sampler', 'width', 'height',
  'batchIndex', 'method', 'models', 'modelHashes', 'aggregatorId', 'favourite', 'tags', 'source',
] as const;

function csvField(value: string | number | boolean): string {
  const text = String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvRecord(file: string, row: GenerationRow): string {
  const { settings } = row;
  const values: Record<(typeof CSV_COLUMNS)[number], string | number | boolean> = {
    file,
    id: row.id,
    createdAt: new Date(row.createdAt).toISOString(),
    prompt: settings.prompt,
    negativePrompt: settings.negativePrompt,
    seed: settings.seed,
    steps: settings.steps,
    guidance: settings.guidance,
    sampler: settings.sampler,
    width: settings.width,
    height: settings.height,
    batchIndex: settings.batchIndex,
    method: settings.recipe.method,
    models: settings.recipe.members.map((member) => member.name).join('; '),
    modelHashes: settings.recipe.members.map((member) => member.shortHash ?? '').join('; '),
    aggregatorId: settings.recipe.aggregatorId ?? '',
    favourite: row.favourite,
    tags: row.tags.join('; '),
    source: row.source,
  };
  return CSV_COLUMNS.map((column) => csvField(values[column])).join(',');
}

function jsonRecord(file: string, row: GenerationRow) {
  return {
    file,
    id: row.id,
    createdAt: new Date(row.createdAt).toISOString(),
    settings: row.settings,
    timings: row.timings,
    favourite: row.favourite,
    tags: row.tags,
    source: row.source,
  };
}

export function exportSelection(
  parts: ExportParts,
  ids: readonly string[],
  directory: string,
  options: ExportOptions = {},
  control?: JobControl,
): ExportReport {
  const format = options.settings ?? 'both';
  const skipped: { id: string; reason: string }[] = [];
  const chosen: { row: GenerationRow; source: string; file: string }[] = [];
  for (const id of new Set(ids)) {
    const row = parts.generations.get(id);
    if (!row) skipped.push({ id, reason: 'not in the library' });
    else if (row.imagePath === null || row.status !== 'done') skipped.push({ id, reason: `it has no image (status ${row.status})` });
    else if (!existsSync(parts.store.absolute(row.imagePath))) skipped.push({ id, reason: `its image file ${row.imagePath} is missing` });
    else chosen.push({ row, source: parts.store.absolute(row.imagePath), file: `${row.id}${extname(row.imagePath) || '.png'}` });
  }

  const settingsFiles = [
    ...(format !== 'csv' ? ['settings.json'] : []),
    ...(format !== 'json' ? ['settings.csv'] : []),
  ];
  const targets = [...chosen.map((item) => item.file), ...settingsFiles].map((name) => join(directory, name));
  const existing = targets.find((target) => existsSync(target));
  if (existing) throw new UserError('conflict', `${existing} already exists.`, 'Choose an empty folder for the export.');
  mkdirSync(directory, { recursive: true });

  const written: string[] = [];
  try {
    chosen.forEach((item, done) => {
      throwIfCancelled(control?.signal);
      control?.onProgress?.({ phase: 'export', done, total: chosen.length, unit: 'items' });
      const target = join(directory, item.file);
      writeFileAtomic(target, readFileSync(item.source));
      written.push(target);
    });
    throwIfCancelled(control?.signal);
    if (settingsFiles.includes('settings.json')) {
      const target = join(directory, 'settings.json');
      writeFileAtomic(target, Buffer.from(`${JSON.stringify(chosen.map((item) => jsonRecord(item.file, item.row)), null, 2)}\n`));
      written.push(target);
    }
    if (settingsFiles.includes('settings.csv')) {
      const target = join(directory, 'settings.csv');
      const lines = [CSV_COLUMNS.join(','), ...chosen.map((item) => csvRecord(item.file, item.row))];
      writeFileAtomic(target, Buffer.from(`${lines.join('\r\n')}\r\n`));
      written.push(target);
    }
  } catch (error) {
    for (const path of written) rmSync(path, { force: true });
    throw error;
  }
  control?.onProgress?.({ phase: 'export', done: chosen.length, total: chosen.length, unit: 'items' });
  return {
    directory,
    images: written.filter((path) => !/settings\.(json|csv)$/.test(path)),
    settingsFiles: written.filter((path) => /settings\.(json|csv)$/.test(path)),
    skipped,
  };
}
