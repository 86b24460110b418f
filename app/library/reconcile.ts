// Reconciliation: run when the studio opens, it brings rows and image folders back in line after
// crashes, edits in a file manager, or a restored backup. Nothing is silently dropped:
// - images no row refers to are reported (orphanFiles) for the user to re-import;
// - rows whose image vanished are marked 'missing' (and back to 'done' if the file returns);
// - missing thumbnails are rebuilt from their images;
// - trashed rows whose files were not yet moved (a crash mid-delete) have them moved now;
// - temporary files of interrupted atomic writes are removed once they are old enough that no
//   writer can still be working on them.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageStore } from '../images/image-store.ts';
import { decodePng } from '../images/png.ts';
import { thumbnailPng } from '../images/thumbnail.ts';
import type { GenerationsTable } from './generations-table.ts';
import { moveFilesToTrash } from './trash.ts';

export interface ReconcileParts {
  readonly generations: GenerationsTable;
  readonly store: ImageStore;
  readonly trashDir: string;
  readonly now: () => number;
}

export interface ReconcileReport {
  /** Absolute paths of images (PNG, JPEG, WebP) in the images folder that no row refers to: offer Library.importImages(orphanFiles). */
  readonly orphanFiles: string[];
  /** Ids of rows just marked 'missing' because their image is gone. */
  readonly markedMissing: string[];
  /** Ids of 'missing' rows whose image is back. */
  readonly restored: string[];
  readonly thumbnailsRebuilt: string[];
  /** Trashed rows whose files had been left in place, now moved to the trash. */
  readonly trashCompleted: string[];
  /** Absolute paths of leftover temporary files removed. */
  readonly temporaryFilesRemoved: string[];
  /** Rows whose thumbnail could not be rebuilt (unreadable image), with the reason. */
  readonly problems: { readonly id: string; readonly message: string }[];
}

/** A temporary file younger than this (ms) may belong to a write still in progress in another process. */
export const TEMPORARY_FILE_GRACE_MS = 10 * 60 * 1000;
/** An unreferenced image younger than this (ms) may be a save whose row another process is committing. */
export const ORPHAN_GRACE_MS = 60 * 1000;

function walk(directory: string, out: string[] = []): string[] {
  let entries;
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

function isTemporary(path: string): boolean {
  return /(^|[\\/])\.tmp-[^\\/]*$/.test(path);
}

function ageMs(path: string, now: number): number {
  try {
    return now - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

export function reconcile(parts: ReconcileParts): ReconcileReport {
  const { generations, store } = parts;
  const now = parts.now();
  const report: ReconcileReport = {
    orphanFiles: [],
    markedMissing: [],
    restored: [],
    thumbnailsRebuilt: [],
    trashCompleted: [],
    temporaryFilesRemoved: [],
    problems: [],
  };

  for (const path of [...walk(store.imagesDir), ...walk(store.thumbnailsDir)]) {
    if (isTemporary(path) && ageMs(path, now) > TEMPORARY_FILE_GRACE_MS) {
      rmSync(path, { force: true });
      report.temporaryFilesRemoved.push(path);
    }
  }

  const referenced = new Set<string>();
  for (const row of generations.fileRows()) {
    if (row.imagePath !== null) referenced.add(row.imagePath);
    if (row.trashBatch !== null) {
      const inPlace = [row.imagePath, row.thumbnailPath].some((path) => path !== null && existsSync(store.absolute(path)));
      if (inPlace) {
        moveFilesToTrash(parts, row, row.trashBatch);
        report.trashCompleted.push(row.id);
      }
      continue;
    }
    if (row.imagePath === null) continue;
    const imageExists = existsSync(store.absolute(row.imagePath));
    if (!imageExists && row.status === 'done') {
      generations.setStatus(row.id, 'missing', `The image file ${row.imagePath} was not found.`);
      report.markedMissing.push(row.id);
      continue;
    }
    if (imageExists && row.status === 'missing') {
      generations.setStatus(row.id, 'done');
      report.restored.push(row.id);
    }
    if (imageExists && (row.thumbnailPath === null || !existsSync(store.absolute(row.thumbnailPath)))) {
      try {
        const full = generations.require(row.id);
        // Reconciling runs synchronously at start-up; imported JPEG and WebP images need sharp (async)
        // to decode, so their thumbnails are rebuilt when they are imported again, not here.
        if (!row.imagePath.toLowerCase().endsWith('.png')) throw new Error(`The thumbnail of ${row.imagePath} is missing; import the image again to rebuild it.`);
        const thumbnailPath = store.saveThumbnail(row.id, full.createdAt, thumbnailPng(decodePng(readFileSync(store.absolute(row.imagePath)))));
        if (thumbnailPath !== row.thumbnailPath) generations.setThumbnail(row.id, thumbnailPath);
        report.thumbnailsRebuilt.push(row.id);
      } catch (error) {
        report.problems.push({ id: row.id, message: (error as Error).message });
      }
    }
  }

  for (const path of walk(store.imagesDir)) {
    if (isTemporary(path) || !/\.(png|jpg|webp)$/i.test(path)) continue;
    const relativePath = store.relative(path);
    if (relativePath === undefined || referenced.has(relativePath)) continue;
    if (ageMs(path, now) < ORPHAN_GRACE_MS) continue;
    report.orphanFiles.push(path);
  }
  report.orphanFiles.sort();
  return report;
}
