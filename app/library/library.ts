// The studio's library: one SQLite database (studioPaths(home).database) plus the image folders.
// It hands out the tables, records finished generations (files first, then the row), and runs the
// housekeeping that touches both files and rows: import, reconciliation, trash and export.
import type Database from 'better-sqlite3';
import { diskFullError } from '../common/atomic-write.ts';
import { throwIfCancelled, UserError } from '../common/errors.ts';
import { defaultStudioHome, studioPaths } from '../common/paths.ts';
import type { JobControl } from '../common/progress.ts';
import { checkGenerationSettings, type GenerationSettings, type GenerationTimings } from '../images/generation-settings.ts';
import { ImageStore, type FileWriter, type StoredFiles } from '../images/image-store.ts';
import { studioTextChunks } from '../images/metadata.ts';
import { encodePng, encodePngInSlices, type PixelImage } from '../images/png.ts';
import { thumbnailPng, thumbnailPngInSlices } from '../images/thumbnail.ts';
import { AggregatorsTable } from './aggregators-table.ts';
import { DemoItemsTable } from './demo-items-table.ts';
import { exportSelection, type ExportOptions, type ExportReport } from './export-selection.ts';
import { GenerationsTable, type GenerationRow } from './generations-table.ts';
import { newId } from './ids.ts';
import { importImages, type ImportReport } from './import-images.ts';
import { ModelsTable } from './models-table.ts';
import { openDatabase } from './open-database.ts';
import { PromptsTable } from './prompts-table.ts';
import { RecipesTable } from './recipes-table.ts';
import { reconcile, type ReconcileReport } from './reconcile.ts';
import { TrainingRunsTable } from './training-runs-table.ts';
import { emptyTrash, moveToTrash, undoTrash, type TrashBatch } from './trash.ts';

export interface LibraryOptions {
  /** The studio home; default defaultStudioHome() (AFA_STUDIO_HOME, else the platform's data folder). */
  readonly home?: string;
  /** Written into each image's metadata ("AFA Studio <version>"). */
  readonly appVersion?: string;
  /** How long a write waits for another process's write lock (ms). */
  readonly busyTimeoutMs?: number;
  /** Replaces the atomic file writer (tests inject failures). */
  readonly writeFile?: FileWriter;
  /** Clock in ms (tests). */
  readonly now?: () => number;
}

export interface RecordGenerationInput {
  readonly settings: GenerationSettings;
  /** The decoded image, [height, width, channels] 8-bit; its size must match settings.width/height. */
  readonly image: PixelImage;
  readonly timings?: GenerationTimings;
  readonly tags?: readonly string[];
  readonly favourite?: boolean;
  readonly createdAt?: number;
}

// WAL checkpoints copy committed pages back into the database file. SQLite runs one inside whichever
// commit crosses wal_autocheckpoint pages (default 1 000), which made ~5 % of single-row inserts take
// 2–10 ms instead of 0.1 ms. The library checkpoints on a timer instead and keeps a larger automatic
// threshold only as a backstop for long bursts of writes.
const CHECKPOINT_INTERVAL_MS = 5_000;
const AUTOCHECKPOINT_PAGES = 8_192; // 32 MiB of 4 KiB pages

function isDatabaseFull(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'SQLITE_FULL';
}

export class Library {
  readonly home: string;
  readonly paths: ReturnType<typeof studioPaths>;
  /** The connection itself, for maintenance and tests; everything else goes through the tables. */
  readonly db: Database.Database;
  readonly store: ImageStore;
  readonly models: ModelsTable;
  readonly aggregators: AggregatorsTable;
  readonly recipes: RecipesTable;
  readonly generations: GenerationsTable;
  readonly prompts: PromptsTable;
  readonly trainingRuns: TrainingRunsTable;
  /** What the built-in demo installed (app/demo). */
  readonly demoItems: DemoItemsTable;
  readonly #appVersion: string | undefined;
  readonly #now: () => number;
  readonly #checkpointTimer: NodeJS.Timeout;

  private constructor(home: string, db: Database.Database, options: LibraryOptions) {
    this.home = home;
    this.paths = studioPaths(home);
    this.db = db;
    this.store = new ImageStore(home, { writeFile: options.writeFile });
    this.models = new ModelsTable(db);
    this.aggregators = new AggregatorsTable(db);
    this.recipes = new RecipesTable(db);
    this.generations = new GenerationsTable(db);
    this.prompts = new PromptsTable(db);
    this.trainingRuns = new TrainingRunsTable(db);
    this.demoItems = new DemoItemsTable(db, options.now);
    this.#appVersion = options.appVersion;
    this.#now = options.now ?? Date.now;
    db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    this.#checkpointTimer = setInterval(() => this.checkpoint(), CHECKPOINT_INTERVAL_MS);
    this.#checkpointTimer.unref();
  }

  /**
   * Opens the library of `options.home`, creating and migrating its database as needed. Throws
   * DatabaseTooNewError or UserError('corrupt-file') (after backing the file up) for a file it cannot
   * use. Call reconcile() afterwards to pick up changes made to the image folders meanwhile.
   */
  static open(options: LibraryOptions = {}): Library {
    const home = options.home ?? defaultStudioHome();
    const db = openDatabase(studioPaths(home).database, { busyTimeoutMs: options.busyTimeoutMs });
    return new Library(home, db, options);
  }

  close(): void {
    clearInterval(this.#checkpointTimer);
    if (this.db.open) this.db.close();
  }

  /**
   * Copies the write-ahead log into the database file without waiting for readers (PASSIVE); runs by
   * itself every few seconds. A busy or closed database is left for the next run.
   */
  checkpoint(): void {
    if (!this.db.open) return;
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // SQLITE_BUSY or similar: another connection is checkpointing; nothing is lost by skipping.
    }
  }

  /** Absolute path of a row's imagePath/thumbnailPath. */
  absolutePath(relativePath: string): string {
    return this.store.absolute(relativePath);
  }

  /**
   * Saves a finished image (PNG with embedded settings + thumbnail) and then commits its row. If the
   * row cannot be committed the files are removed again; a full disk is UserError('disk-full') with
   * nothing left behind.
   */
  recordGeneration(input: RecordGenerationInput): GenerationRow {
    checkGenerationSettings(input.settings);
    this.#checkSize(input.settings, input.image);
    const createdAt = input.createdAt ?? this.#now();
    const id = newId('gen', createdAt);
    const files = this.#saveImage(id, createdAt, input.settings, input.image, input.timings);
    return this.#insertDone(id, createdAt, input, files);
  }

  /**
   * recordGeneration for the engine: the PNG and its thumbnail are encoded in slices between turns of
   * the event loop (deflate on libuv's thread pool), so the engine answers API calls while a large image
   * is saved (a 2048² one took 3.5 s in one piece on two cores). The same files and row. A cancel
   * (`signal`) that arrives while encoding is honoured before anything is written.
   */
  async recordGenerationInSlices(input: RecordGenerationInput, signal?: AbortSignal): Promise<GenerationRow> {
    checkGenerationSettings(input.settings);
    this.#checkSize(input.settings, input.image);
    const createdAt = input.createdAt ?? this.#now();
    const id = newId('gen', createdAt);
    const text = studioTextChunks({ settings: input.settings, timings: input.timings, generationId: id, createdAt, appVersion: this.#appVersion });
    const png = await encodePngInSlices(input.image, text);
    const thumbnail = await thumbnailPngInSlices(input.image);
    throwIfCancelled(signal);
    const files = this.store.save(id, createdAt, png, thumbnail);
    return this.#insertDone(id, createdAt, input, files);
  }

  #insertDone(id: string, createdAt: number, input: RecordGenerationInput, files: StoredFiles): GenerationRow {
    return this.#commitOrRemove(files, () =>
      this.generations.insert({
        id,
        createdAt,
        settings: input.settings,
        status: 'done',
        timings: input.timings ?? null,
        imagePath: files.imagePath,
        thumbnailPath: files.thumbnailPath,
        tags: input.tags,
        favourite: input.favourite,
      }),
    );
  }

  /** A row for a job that has not produced its image yet (status 'queued'). */
  queueGeneration(settings: GenerationSettings, createdAt: number = this.#now()): GenerationRow {
    checkGenerationSettings(settings);
    return this.#diskFullAware(() => this.generations.insert({ createdAt, settings, status: 'queued' }));
  }

  /** Saves the image of a queued/running row and marks it done, files first. */
  completeGeneration(id: string, image: PixelImage, timings?: GenerationTimings): GenerationRow {
    const row = this.generations.require(id);
    if (row.status !== 'queued' && row.status !== 'running') {
      throw new UserError('conflict', `Generation ${id} is ${row.status}; only a queued or running one can be completed.`);
    }
    this.#checkSize(row.settings, image);
    const files = this.#saveImage(id, row.createdAt, row.settings, image, timings);
    return this.#commitOrRemove(files, () => {
      this.generations.complete(id, files, timings ?? null);
      return this.generations.require(id);
    });
  }

  /** Imports PNG, JPEG and WebP images made here or by other tools into history (copies them into the image store). */
  async importImages(paths: readonly string[], control?: JobControl): Promise<ImportReport> {
    try {
      return await importImages({ generations: this.generations, models: this.models, store: this.store, now: this.#now }, paths, control);
    } catch (error) {
      if (isDatabaseFull(error)) throw diskFullError(this.paths.database);
      throw error;
    }
  }

  /** Brings rows and image folders back in line; see ReconcileReport. */
  reconcile(): ReconcileReport {
    return this.#diskFullAware(() => reconcile(this.#trashParts()));
  }

  /** Moves generations (rows and files) to the studio trash; undo with undoTrash(batch.batch). */
  trash(ids: readonly string[]): TrashBatch {
    return this.#diskFullAware(() => moveToTrash(this.#trashParts(), ids));
  }

  undoTrash(batch: string): number {
    return this.#diskFullAware(() => undoTrash(this.#trashParts(), batch));
  }

  /** Deletes trashed generations for good: all of them, or those trashed before `olderThan` (ms). */
  emptyTrash(olderThan?: number): number {
    return this.#diskFullAware(() => emptyTrash(this.#trashParts(), olderThan));
  }

  /** Copies the selected images and a JSON/CSV of their settings into `directory`. */
  exportSelection(ids: readonly string[], directory: string, options?: ExportOptions, control?: JobControl): ExportReport {
    return exportSelection({ generations: this.generations, store: this.store }, ids, directory, options, control);
  }

  /** SQLite's own consistency check: ['ok'] when the file is sound. */
  integrityCheck(): string[] {
    return (this.db.pragma('integrity_check') as { integrity_check: string }[]).map((row) => row.integrity_check);
  }

  #checkSize(settings: GenerationSettings, image: PixelImage): void {
    if (image.width !== settings.width || image.height !== settings.height) {
      throw new UserError(
        'invalid-argument',
        `The image is ${image.width}x${image.height} but its settings say ${settings.width}x${settings.height}.`,
      );
    }
  }

  #saveImage(id: string, createdAt: number, settings: GenerationSettings, image: PixelImage, timings: GenerationTimings | undefined): StoredFiles {
    const text = studioTextChunks({ settings, timings, generationId: id, createdAt, appVersion: this.#appVersion });
    return this.store.save(id, createdAt, encodePng(image, text), thumbnailPng(image));
  }

  #trashParts() {
    return { generations: this.generations, store: this.store, trashDir: this.paths.trash, now: this.#now };
  }

  // SQLite reports a full disk as SQLITE_FULL; callers get the same UserError('disk-full') as for files.
  #diskFullAware<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (isDatabaseFull(error)) throw diskFullError(this.paths.database);
      throw error;
    }
  }

  #commitOrRemove(files: StoredFiles, commit: () => GenerationRow): GenerationRow {
    try {
      return commit();
    } catch (error) {
      this.store.remove(files.imagePath, files.thumbnailPath);
      if (isDatabaseFull(error)) throw diskFullError(this.paths.database);
      throw error;
    }
  }
}
