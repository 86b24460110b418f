// The studio trash. Deleting generations marks their rows trashed (one batch per delete) and moves
// their files to `trash/<batch>/<original relative path>`; undo moves them back. The row is marked
// first, so a crash between the two steps leaves a trashed row whose file is still in place, which
// reconcile() finishes moving — never a live row without its file.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ImageStore } from '../images/image-store.ts';
import type { GenerationFileRow, GenerationsTable } from './generations-table.ts';
import { newId } from './ids.ts';

export interface TrashParts {
  readonly generations: GenerationsTable;
  readonly store: ImageStore;
  readonly trashDir: string;
  readonly now: () => number;
}

export interface TrashBatch {
  /** Pass to undoTrash to restore. */
  readonly batch: string;
  /** Generations moved (ones already in the trash are not counted). */
  readonly count: number;
}

export function trashedPath(trashDir: string, batch: string, relativePath: string): string {
  return join(trashDir, batch, ...relativePath.split('/'));
}

function move(from: string, to: string): void {
  if (!existsSync(from)) return;
  mkdirSync(dirname(to), { recursive: true });
  renameSync(from, to);
}

/** Moves a trashed row's files into its batch folder (idempotent). */
export function moveFilesToTrash(parts: TrashParts, row: GenerationFileRow, batch: string): void {
  for (const path of [row.imagePath, row.thumbnailPath]) {
    if (path !== null) move(parts.store.absolute(path), trashedPath(parts.trashDir, batch, path));
  }
}

export function moveToTrash(parts: TrashParts, ids: readonly string[]): TrashBatch {
  const at = parts.now();
  const batch = newId('trash', at);
  const rows = parts.generations.markTrashed(ids, batch, at);
  for (const row of rows) moveFilesToTrash(parts, row, batch);
  return { batch, count: rows.length };
}

/** Restores one delete. Files go back first, then the rows; returns how many rows were restored. */
export function undoTrash(parts: TrashParts, batch: string): number {
  for (const row of parts.generations.trashBatchRows(batch)) {
    for (const path of [row.imagePath, row.thumbnailPath]) {
      if (path !== null) move(trashedPath(parts.trashDir, batch, path), parts.store.absolute(path));
    }
  }
  const restored = parts.generations.clearTrashed(batch);
  rmSync(join(parts.trashDir, batch), { recursive: true, force: true });
  return restored;
}

/**
 * Deletes trashed rows and their files for good; returns how many rows went. Files go first: on a
 * full disk removing them always works while the database may be unable to write, and a trashed row
 * whose files are gone is still only a trashed row (emptying again finishes it).
 */
export function emptyTrash(parts: TrashParts, olderThan?: number): number {
  let removed = 0;
  for (const { batch, trashedAt } of parts.generations.trashBatches()) {
    if (olderThan !== undefined && trashedAt >= olderThan) continue;
    const rows = parts.generations.trashBatchRows(batch);
    rmSync(join(parts.trashDir, batch), { recursive: true, force: true });
    removed += parts.generations.delete(rows.map((row) => row.id));
  }
  return removed;
}
