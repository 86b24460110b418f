// Importing images into history: our own PNGs (settings read back from the `afa-studio` chunk,
// generation id kept) and other tools' PNG, JPEG and WebP files (their metadata mapped to the nearest
// settings; a model is linked to the catalog when its AUTOV2 hash matches; what the tool recorded is
// kept in extra.imported and searched with the prompts). Files from elsewhere are copied into the
// image store unchanged, in their own format; files already in the images folder (orphans found by
// reconcile) are registered where they are.
import { readFileSync, statSync } from 'node:fs';
import { UserError, throwIfCancelled } from '../common/errors.ts';
import type { JobControl } from '../common/progress.ts';
import { decodeImage, imageExtension } from '../images/decode-image.ts';
import type { GenerationSettings, JsonValue, RecipeMemberSnapshot } from '../images/generation-settings.ts';
import { metadataTexts, readImageMetadata } from '../images/image-metadata.ts';
import type { ImageStore, StoredFiles } from '../images/image-store.ts';
import { SOURCE_NAMES, type ImportedSettings } from '../images/imported-settings.ts';
import { readStudioMetadata, settingsFromTexts } from '../images/metadata.ts';
import { thumbnailPng } from '../images/thumbnail.ts';
import type { GenerationRow, GenerationsTable } from './generations-table.ts';
import { newId } from './ids.ts';
import type { ModelsTable } from './models-table.ts';

export interface ImportParts {
  readonly generations: GenerationsTable;
  readonly models: ModelsTable;
  readonly store: ImageStore;
  readonly now: () => number;
}

export interface ImportReport {
  readonly imported: GenerationRow[];
  /** Files not imported, with the reason in words. */
  readonly skipped: { readonly path: string; readonly reason: string }[];
}

function member(imported: ImportedSettings | undefined, models: ModelsTable): RecipeMemberSnapshot {
  const hash = imported?.modelHash?.trim().toLowerCase();
  const match = hash && /^[0-9a-f]{10}$/.test(hash) ? models.findByShortHash(hash)[0] : undefined;
  if (match) return { modelId: match.id, shortHash: match.shortHash, name: match.name };
  return { modelId: null, shortHash: hash && /^[0-9a-f]{10}$/.test(hash) ? hash : null, name: imported?.modelName ?? 'unknown model' };
}

/** What the tool recorded beyond the common fields, as plain JSON for extra.imported. */
export function importedRecord(imported: ImportedSettings | undefined, path: string): { [key: string]: JsonValue } {
  const record: { [key: string]: JsonValue } = { source: imported?.source ?? 'none', originalPath: path, other: { ...(imported?.other ?? {}) } };
  for (const key of ['samplerLabel', 'scheduler', 'modelName', 'modelHash', 'modelFamily', 'seed'] as const) {
    const value = imported?.[key];
    if (value !== undefined) record[key] = value;
  }
  if (imported?.loras) record.loras = imported.loras.map((lora) => ({ ...lora }));
  return record;
}

/** The words History's search finds an imported image by, besides its prompts: tool, model, sampler, LoRAs, other keys. */
export function importedSearchText(imported: ImportedSettings | undefined): string {
  if (!imported || imported.source === 'afa-studio') return '';
  const words = [
    SOURCE_NAMES[imported.source],
    imported.modelName,
    imported.modelHash,
    imported.modelFamily,
    imported.samplerLabel,
    imported.scheduler,
    ...(imported.loras ?? []).map((lora) => lora.name),
    ...Object.entries(imported.other).map(([key, value]) => `${key} ${value.length > 500 ? value.slice(0, 500) : value}`),
  ];
  return words.filter((word) => word !== undefined && word !== '').join(' ');
}

// Fields the other tool did not record get neutral values (0, '', 'unknown'); `extra.imported` keeps
// what the tool wrote (the seed exactly, even beyond 2^53), so nothing read from the file is lost.
function settingsFor(imported: ImportedSettings | undefined, size: { width: number; height: number }, models: ModelsTable, path: string): GenerationSettings {
  if (imported?.settings) return imported.settings;
  // The studio's seeds are 0 … 2^53 − 1; a larger one, or A1111's -1 ("random"), is stored as 0.
  const seed = typeof imported?.seed === 'number' && imported.seed >= 0 ? imported.seed : 0;
  return {
    prompt: imported?.prompt ?? '',
    negativePrompt: imported?.negativePrompt ?? '',
    seed,
    steps: imported?.steps ?? 0,
    guidance: imported?.guidance ?? 0,
    sampler: imported?.sampler ?? 'unknown',
    width: imported?.width ?? size.width,
    height: imported?.height ?? size.height,
    batchIndex: 0,
    recipe: { recipeId: null, name: null, method: 'single', members: [member(imported, models)], aggregatorId: null },
    extra: { imported: importedRecord(imported, path) },
  };
}

async function importOne(parts: ImportParts, path: string): Promise<GenerationRow> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new UserError('not-found', `${path} cannot be read: ${(error as Error).message}.`);
  }
  const extension = imageExtension(bytes);
  if (!extension) throw new UserError('unsupported', `${path} is not a PNG, JPEG or WebP image.`, 'Only PNG, JPEG and WebP images can be imported.');
  const text = metadataTexts(readImageMetadata(bytes).entries);
  const imported = settingsFromTexts(text);
  const studio = extension === 'png' ? readStudioMetadata(text) : undefined;
  const pixels = await decodeImage(bytes);

  const inStore = parts.store.relative(path);
  const inImages = inStore !== undefined && inStore.startsWith('images/');
  if (inImages && parts.generations.hasImagePath(inStore)) throw new UserError('conflict', `${path} is already in the library.`);
  if (studio?.generationId !== undefined && parts.generations.get(studio.generationId)) {
    throw new UserError('conflict', `${path} is already in the library as generation ${studio.generationId}.`);
  }
  const createdAt = studio?.createdAt ?? Math.floor(statSync(path).mtimeMs);
  const id = studio?.generationId !== undefined && /^[A-Za-z0-9_-]+$/.test(studio.generationId) ? studio.generationId : newId('gen', createdAt);
  const settings = settingsFor(imported, pixels, parts.models, path);

  const thumbnail = thumbnailPng(pixels);
  const files: StoredFiles = inImages
    ? { imagePath: inStore, thumbnailPath: parts.store.saveThumbnail(id, createdAt, thumbnail) }
    : parts.store.save(id, createdAt, bytes, thumbnail, extension);
  try {
    return parts.generations.insert({
      id,
      createdAt,
      settings,
      status: 'done',
      timings: studio?.timings ?? null,
      imagePath: files.imagePath,
      thumbnailPath: files.thumbnailPath,
      source: imported?.source ?? 'none',
      settingsText: importedSearchText(imported),
    });
  } catch (error) {
    // Never remove the user's own file; only what this import wrote.
    parts.store.remove(inImages ? null : files.imagePath, files.thumbnailPath);
    throw error;
  }
}

/**
 * Imports each file; a file that cannot be imported is reported in `skipped` and the rest go on.
 * A full disk stops the import (UserError 'disk-full'); files imported before it stay imported.
 */
export async function importImages(parts: ImportParts, paths: readonly string[], control?: JobControl): Promise<ImportReport> {
  const report: ImportReport = { imported: [], skipped: [] };
  for (const [done, path] of paths.entries()) {
    throwIfCancelled(control?.signal);
    control?.onProgress?.({ phase: 'import', done, total: paths.length, unit: 'items', message: `Importing ${path}` });
    try {
      report.imported.push(await importOne(parts, path));
    } catch (error) {
      if (error instanceof UserError && error.code === 'disk-full') throw error;
      if (!(error instanceof UserError)) throw error;
      report.skipped.push({ path, reason: error.message });
    }
  }
  control?.onProgress?.({ phase: 'import', done: paths.length, total: paths.length, unit: 'items' });
  return report;
}
