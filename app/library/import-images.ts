// Importing PNGs into history: our own images (settings read back from the `afa-studio` chunk,
// generation id kept) and other tools' (AUTOMATIC1111, InvokeAI, ComfyUI metadata, mapped to the
// nearest settings; a model is linked to the catalog when its AUTOV2 hash matches). Files from
// elsewhere are copied into the image store unchanged; files already in the images folder (orphans
// found by reconcile) are registered where they are.
import { readFileSync, statSync } from 'node:fs';
import { UserError, throwIfCancelled } from '../common/errors.ts';
import type { JobControl } from '../common/progress.ts';
import type { GenerationSettings, JsonValue, RecipeMemberSnapshot } from '../images/generation-settings.ts';
import type { ImageStore, StoredFiles } from '../images/image-store.ts';
import type { ImportedSettings } from '../images/imported-settings.ts';
import { readImageSettings, readStudioMetadata } from '../images/metadata.ts';
import { decodePng, readPngHeader, readPngText } from '../images/png.ts';
import { isPng } from '../images/png-chunks.ts';
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
  return { modelId: null, shortHash: hash || null, name: imported?.modelName ?? 'unknown model' };
}

// Fields the other tool did not record get neutral values (0, '', 'unknown'); `extra.imported` keeps
// what the tool wrote, so nothing read from the file is lost.
function settingsFor(imported: ImportedSettings | undefined, size: { width: number; height: number }, models: ModelsTable, path: string): GenerationSettings {
  if (imported?.settings) return imported.settings;
  const seed = imported?.seed !== undefined && imported.seed >= 0 ? imported.seed : 0;
  const record: { [key: string]: JsonValue } = { source: imported?.source ?? 'none', originalPath: path, other: { ...(imported?.other ?? {}) } };
  for (const key of ['samplerLabel', 'modelName', 'modelHash', 'seed'] as const) {
    const value = imported?.[key];
    if (value !== undefined) record[key] = value;
  }
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
    extra: { imported: record },
  };
}

/**
 * The settings a PNG carries, read exactly as importing it would read them, without importing it (the
 * Generate screen's "drop an image to reuse its settings"). UserError for a file that is not a PNG or
 * carries no settings.
 */
export function settingsOfPng(models: ModelsTable, path: string, fileName = path): GenerationSettings {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new UserError('not-found', `${fileName} cannot be read: ${(error as Error).message}.`);
  }
  if (!isPng(bytes)) throw new UserError('unsupported', `${fileName} is not a PNG image.`, 'Drop a PNG made by the studio or by another Stable Diffusion tool.');
  const imported = readImageSettings(readPngText(bytes));
  if (!imported) throw new UserError('invalid-argument', `${fileName} carries no generation settings.`, 'Only images saved with their settings (this studio, AUTOMATIC1111, InvokeAI, ComfyUI) can be reused.');
  return settingsFor(imported, readPngHeader(bytes), models, path);
}

function importOne(parts: ImportParts, path: string): GenerationRow {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new UserError('not-found', `${path} cannot be read: ${(error as Error).message}.`);
  }
  if (!isPng(bytes)) throw new UserError('unsupported', `${path} is not a PNG image.`, 'Only PNG files can be imported.');
  const header = readPngHeader(bytes);
  const text = readPngText(bytes);
  const imported = readImageSettings(text);
  const studio = readStudioMetadata(text);
  const pixels = decodePng(bytes);

  const inStore = parts.store.relative(path);
  const inImages = inStore !== undefined && inStore.startsWith('images/');
  if (inImages && parts.generations.hasImagePath(inStore)) throw new UserError('conflict', `${path} is already in the library.`);
  if (studio?.generationId !== undefined && parts.generations.get(studio.generationId)) {
    throw new UserError('conflict', `${path} is already in the library as generation ${studio.generationId}.`);
  }
  const createdAt = studio?.createdAt ?? Math.floor(statSync(path).mtimeMs);
  const id = studio?.generationId !== undefined && /^[A-Za-z0-9_-]+$/.test(studio.generationId) ? studio.generationId : newId('gen', createdAt);
  const settings = settingsFor(imported, header, parts.models, path);

  const thumbnail = thumbnailPng(pixels);
  const files: StoredFiles = inImages
    ? { imagePath: inStore, thumbnailPath: parts.store.saveThumbnail(id, createdAt, thumbnail) }
    : parts.store.save(id, createdAt, bytes, thumbnail);
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
export function importImages(parts: ImportParts, paths: readonly string[], control?: JobControl): ImportReport {
  const report: ImportReport = { imported: [], skipped: [] };
  paths.forEach((path, done) => {
    throwIfCancelled(control?.signal);
    control?.onProgress?.({ phase: 'import', done, total: paths.length, unit: 'items', message: `Importing ${path}` });
    try {
      report.imported.push(importOne(parts, path));
    } catch (error) {
      if (error instanceof UserError && error.code === 'disk-full') throw error;
      if (!(error instanceof UserError)) throw error;
      report.skipped.push({ path, reason: error.message });
    }
  });
  control?.onProgress?.({ phase: 'import', done: paths.length, total: paths.length, unit: 'items' });
  return report;
}
