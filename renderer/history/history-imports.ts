// Bringing images into history: PNG, JPEG and WebP images picked or dropped by the person (uploaded first in web mode) and the
// orphan images reconciliation found in the studio folder. Files go in small batches, so a long import
// shows progress and a bad file only costs its own entry (it is listed with the reason afterwards).
import { useCallback, useState } from 'react';
import type { ImagesImported } from '../../app/api/contract.ts';
import { describeError } from '../api/api-error.ts';
import { useStudio } from '../app/studio-context.tsx';
import { useToasts } from '../ui/Toasts.tsx';

export interface ImportRun {
  readonly label: string;
  readonly done: number;
  readonly total: number;
}

export interface HistoryImports {
  /** The import in progress, if any. */
  readonly running: ImportRun | null;
  /** Files the last import could not take, with the reason. */
  readonly skipped: ImagesImported['skipped'];
  importFiles(files: readonly File[]): Promise<void>;
  importOrphans(paths: readonly string[]): Promise<void>;
  dismissSkipped(): void;
}

/** Orphans per call: each is decoded and thumbnailed by the services, ~10–50 ms for a 512² PNG. */
const orphanBatch = 25;

/** The formats whose settings the studio reads (app/images/image-metadata.ts). */
export function isImportableImage(file: File): boolean {
  return ['image/png', 'image/jpeg', 'image/webp'].includes(file.type) || /\.(png|jpe?g|webp)$/i.test(file.name);
}

export function useHistoryImports(): HistoryImports {
  const { api, host } = useStudio();
  const toasts = useToasts();
  const [running, setRunning] = useState<ImportRun | null>(null);
  const [skipped, setSkipped] = useState<ImagesImported['skipped']>([]);

  const finish = useCallback(
    (imported: number, notTaken: ImagesImported['skipped']) => {
      setRunning(null);
      setSkipped(notTaken);
      if (imported > 0 || notTaken.length === 0) toasts.show(`Imported ${imported} ${imported === 1 ? 'image' : 'images'} into history.`);
    },
    [toasts],
  );

  const importFiles = useCallback(
    async (files: readonly File[]) => {
      if (files.length === 0) return;
      const notTaken: { file: string; reason: string }[] = [];
      let imported = 0;
      setSkipped([]);
      for (const [index, file] of files.entries()) {
        setRunning({ label: `Importing ${file.name}`, done: index, total: files.length });
        if (!isImportableImage(file)) {
          notTaken.push({ file: file.name, reason: 'Only PNG, JPEG and WebP images can be imported.' });
          continue;
        }
        try {
          const source = await host.sourceForFile(file, () => undefined);
          const result = await api.history.importImages({ sources: [source] });
          imported += result.ids.length;
          notTaken.push(...result.skipped);
        } catch (error) {
          notTaken.push({ file: file.name, reason: describeError(error).message });
        }
      }
      finish(imported, notTaken);
    },
    [api, host, finish],
  );

  const importOrphans = useCallback(
    async (paths: readonly string[]) => {
      const notTaken: { file: string; reason: string }[] = [];
      let imported = 0;
      setSkipped([]);
      for (let start = 0; start < paths.length; start += orphanBatch) {
        setRunning({ label: 'Importing images from the studio folder', done: start, total: paths.length });
        const batch = paths.slice(start, start + orphanBatch);
        try {
          const result = await api.history.importOrphans({ paths: [...batch] });
          imported += result.ids.length;
          notTaken.push(...result.skipped);
        } catch (error) {
          const reason = describeError(error).message;
          notTaken.push(...batch.map((file) => ({ file, reason })));
        }
      }
      finish(imported, notTaken);
    },
    [api, finish],
  );

  return { running, skipped, importFiles, importOrphans, dismissSkipped: useCallback(() => setSkipped([]), []) };
}
