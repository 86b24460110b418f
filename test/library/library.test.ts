import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { UserError } from '../../app/common/errors.ts';
import { readImageSettings } from '../../app/images/metadata.ts';
import { decodePng, readPngText } from '../../app/images/png.ts';
import { Library } from '../../app/library/library.ts';
import { ORPHAN_GRACE_MS, TEMPORARY_FILE_GRACE_MS } from '../../app/library/reconcile.ts';
import { a1111Png, comfyUiPng, FIXTURE, invokeAiPng } from '../images/foreign-fixtures.ts';
import { filesUnder, modelId, pixels, settings, temporaryHome } from './fixtures.ts';

const { home: root, remove } = temporaryHome('library');
after(remove);
let count = 0;
function freshLibrary(options: { now?: () => number } = {}): Library {
  return Library.open({ home: join(root, `home-${++count}`), ...options });
}

describe('recording generations', () => {
  it('writes the PNG (settings embedded) and thumbnail, then the row pointing at them', () => {
    const library = freshLibrary();
    try {
      const image = pixels(48, 40);
      const row = library.recordGeneration({
        settings: settings({ width: 48, height: 40 }),
        image,
        timings: { totalMs: 900, stepMs: [40, 41] },
        tags: ['first'],
      });
      assert.equal(row.status, 'done');
      const png = readFileSync(library.absolutePath(row.imagePath!));
      const decoded = decodePng(png);
      for (let p = 0; p < 48 * 40; p++) for (let c = 0; c < 3; c++) assert.equal(decoded.data[p * 4 + c], image.data[p * 3 + c]);
      const embedded = readImageSettings(png);
      assert.deepEqual(embedded?.settings, row.settings);
      assert.match(readPngText(png).get('parameters')!, /^a red fox in the snow\nNegative prompt: blurry\nSteps: 20, Sampler: DDIM, CFG scale: 7.5, Seed: 42, Size: 48x40/);
      const thumbnail = decodePng(readFileSync(library.absolutePath(row.thumbnailPath!)));
      assert.deepEqual([thumbnail.width, thumbnail.height], [48, 40]);
      assert.deepEqual(library.generations.list({ search: 'first' }).items.map((item) => item.id), [row.id]);
      assert.deepEqual(library.integrityCheck(), ['ok']);
    } finally {
      library.close();
    }
  });

  it('refuses an image whose size disagrees with its settings, writing nothing', () => {
    const library = freshLibrary();
    try {
      assert.throws(() => library.recordGeneration({ settings: settings(), image: pixels(10, 10) }), /10x10 but its settings say 32x24/);
      assert.deepEqual(filesUnder(library.paths.images), []);
      assert.equal(library.generations.count(), 0);
    } finally {
      library.close();
    }
  });

  it('removes the files again when the row cannot be committed', () => {
    const library = freshLibrary();
    try {
      library.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON generations BEGIN SELECT RAISE(ABORT, 'refused for the test'); END`);
      assert.throws(() => library.recordGeneration({ settings: settings(), image: pixels() }), /refused for the test/);
      assert.deepEqual(filesUnder(library.paths.images), []);
      assert.deepEqual(filesUnder(library.paths.thumbnails), []);
    } finally {
      library.close();
    }
  });

  it('queues a row, then completes it with its image', () => {
    const library = freshLibrary();
    try {
      const queued = library.queueGeneration(settings());
      assert.equal(queued.status, 'queued');
      assert.equal(queued.imagePath, null);
      const done = library.completeGeneration(queued.id, pixels(), { totalMs: 5, stepMs: [] });
      assert.equal(done.status, 'done');
      assert.ok(existsSync(library.absolutePath(done.imagePath!)));
      assert.throws(() => library.completeGeneration(queued.id, pixels()), (error: unknown) => error instanceof UserError && error.code === 'conflict');
    } finally {
      library.close();
    }
  });
});

describe('trash', () => {
  it('moves rows and files to the trash, undoes, and empties for good', () => {
    const library = freshLibrary();
    try {
      const rows = [1, 2, 3].map((seed) => library.recordGeneration({ settings: settings({ seed }), image: pixels(32, 24, seed) }));
      const batch = library.trash([rows[0].id, rows[1].id, 'gen_unknown']);
      assert.equal(batch.count, 2);
      assert.deepEqual(library.generations.list().items.map((row) => row.id), [rows[2].id]);
      assert.deepEqual(library.generations.list({ trashed: 'only' }).items.map((row) => row.id).sort(), [rows[0].id, rows[1].id].sort());
      assert.equal(existsSync(library.absolutePath(rows[0].imagePath!)), false);
      assert.ok(filesUnder(library.paths.trash).some((file) => file.endsWith(`${rows[0].id}.png`)));
      assert.deepEqual(library.reconcile().markedMissing, [], 'trashed rows are not "missing"');

      assert.equal(library.undoTrash(batch.batch), 2);
      assert.equal(library.generations.list().items.length, 3);
      for (const row of rows) assert.ok(existsSync(library.absolutePath(row.imagePath!)) && existsSync(library.absolutePath(row.thumbnailPath!)));
      assert.deepEqual(filesUnder(library.paths.trash), []);

      const again = library.trash([rows[2].id]);
      const later = library.trash([rows[0].id]);
      assert.equal(library.emptyTrash(), 2);
      assert.equal(library.generations.get(rows[2].id), undefined);
      assert.equal(library.undoTrash(again.batch), 0, 'an emptied batch cannot come back');
      assert.equal(library.undoTrash(later.batch), 0);
      assert.deepEqual(library.generations.list().items.map((row) => row.id), [rows[1].id]);
      assert.deepEqual(filesUnder(library.paths.trash), []);
      assert.equal(filesUnder(library.paths.images).length, 1);
    } finally {
      library.close();
    }
  });

  it('empties only batches older than a given time', () => {
    let now = 1_000_000;
    const library = freshLibrary({ now: () => now });
    try {
      const a = library.recordGeneration({ settings: settings(), image: pixels() });
      const b = library.recordGeneration({ settings: settings({ seed: 2 }), image: pixels() });
      library.trash([a.id]);
      now = 2_000_000;
      library.trash([b.id]);
      assert.equal(library.emptyTrash(1_500_000), 1);
      assert.deepEqual(library.generations.list({ trashed: 'only' }).items.map((row) => row.id), [b.id]);
    } finally {
      library.close();
    }
  });
});

describe('export', () => {
  it('copies the images and writes their settings as JSON and CSV', () => {
    const library = freshLibrary();
    try {
      const a = library.recordGeneration({ settings: settings({ prompt: 'quote "this", please' }), image: pixels(), tags: ['x', 'y'] });
      const b = library.recordGeneration({ settings: settings({ prompt: 'line one\nline two', seed: 7 }), image: pixels(32, 24, 2) });
      const queued = library.queueGeneration(settings());
      const out = join(root, 'export-1');
      const report = library.exportSelection([a.id, b.id, queued.id, 'gen_nope'], out);
      assert.deepEqual(report.images.map((path) => path.slice(out.length + 1)).sort(), [`${a.id}.png`, `${b.id}.png`].sort());
      assert.deepEqual(report.skipped.map((item) => item.id), [queued.id, 'gen_nope']);
      assert.deepEqual(readFileSync(join(out, `${a.id}.png`)), readFileSync(library.absolutePath(a.imagePath!)));
      const json = JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8')) as { file: string; settings: { prompt: string } }[];
      assert.deepEqual(json.map((item) => [item.file, item.settings.prompt]), [
        [`${a.id}.png`, 'quote "this", please'],
        [`${b.id}.png`, 'line one\nline two'],
      ]);
      const csv = readFileSync(join(out, 'settings.csv'), 'utf8');
      assert.ok(csv.startsWith('file,id,createdAt,prompt,negativePrompt,seed,'));
      assert.ok(csv.includes(`${a.id}.png,${a.id},`));
      assert.ok(csv.includes('"quote ""this"", please"'));
      assert.ok(csv.includes('"line one\nline two"'));
      assert.ok(csv.includes(',x; y,'));

      assert.throws(() => library.exportSelection([a.id], out), (error: unknown) => error instanceof UserError && error.code === 'conflict');
      const jsonOnly = library.exportSelection([b.id], join(root, 'export-2'), { settings: 'json' });
      assert.deepEqual(jsonOnly.settingsFiles.map((path) => path.slice(-13)), ['settings.json']);
    } finally {
      library.close();
    }
  });

  it('removes what it wrote when cancelled', () => {
    const library = freshLibrary();
    try {
      const rows = [1, 2, 3].map((seed) => library.recordGeneration({ settings: settings({ seed }), image: pixels() }));
      const controller = new AbortController();
      const out = join(root, 'export-cancel');
      assert.throws(
        () =>
          library.exportSelection(rows.map((row) => row.id), out, {}, {
            signal: controller.signal,
            onProgress: (progress) => {
              if (progress.done === 2) controller.abort();
            },
          }),
        (error: unknown) => (error as Error).name === 'CancelledError',
      );
      assert.deepEqual(filesUnder(out), []);
    } finally {
      library.close();
    }
  });
});

describe('import', () => {
  it("imports other tools' PNGs with their settings and links a catalog model by its short hash", async () => {
    const library = freshLibrary();
    try {
      const sha = `${FIXTURE.modelHash}${'0'.repeat(54)}`;
      library.models.upsert({
        id: sha, name: 'DreamShaper 8', sourcePath: '/m/ds8.safetensors', sha256: sha, shortHash: FIXTURE.modelHash,
        architecture: 'sd1', precision: 'fp16', sizeBytes: 1, storeDir: '/s', components: {}, addedAt: 1, lastUsedAt: null,
      });
      const dir = join(root, 'incoming');
      mkdirSync(dir, { recursive: true });
      const files = { automatic1111: a1111Png(), invokeai: invokeAiPng(), comfyui: comfyUiPng() };
      for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, `${name}.png`), bytes);
      writeFileSync(join(dir, 'notes.png'), 'not a png at all');
      const progress: number[] = [];
      const report = await library.importImages(
        ['automatic1111', 'invokeai', 'comfyui', 'notes', 'absent'].map((name) => join(dir, `${name}.png`)),
        { onProgress: (p) => progress.push(p.done) },
      );
      assert.deepEqual(progress, [0, 1, 2, 3, 4, 5]);
      assert.deepEqual(report.imported.map((row) => row.source), ['automatic1111', 'invokeai', 'comfyui']);
      assert.deepEqual(report.skipped.map((item) => item.path.slice(dir.length + 1)), ['notes.png', 'absent.png']);
      for (const row of report.imported) {
        assert.equal(row.settings.prompt, FIXTURE.prompt);
        assert.equal(row.settings.negativePrompt, FIXTURE.negativePrompt);
        assert.equal(row.settings.seed, FIXTURE.seed);
        assert.equal(row.settings.steps, FIXTURE.steps);
        assert.equal(row.settings.guidance, FIXTURE.guidance);
        // The file is copied byte for byte: its original metadata stays with it.
        const source = files[row.source as keyof typeof files];
        assert.deepEqual(new Uint8Array(readFileSync(library.absolutePath(row.imagePath!))), source);
        assert.ok(existsSync(library.absolutePath(row.thumbnailPath!)));
      }
      const [a1111] = report.imported;
      assert.equal(a1111.settings.recipe.members[0].modelId, sha, 'linked to the catalog by AUTOV2 hash');
      assert.deepEqual(library.generations.list({ modelId: sha }).items.map((row) => row.id), [a1111.id]);
      assert.equal(report.imported[2].settings.recipe.members[0].modelId, null, 'ComfyUI names a file, not a hash');
      assert.equal(report.imported[2].settings.recipe.members[0].name, FIXTURE.modelName);
      assert.equal(library.generations.list({ search: 'lighthouse' }).items.length, 3);
    } finally {
      library.close();
    }
  });

  it('re-imports our own PNG with its id, settings and time, and only once', async () => {
    const source = freshLibrary();
    const target = freshLibrary();
    try {
      const row = source.recordGeneration({ settings: settings({ seed: 123_456 }), image: pixels(), timings: { totalMs: 10, stepMs: [1] } });
      const path = source.absolutePath(row.imagePath!);
      const first = await target.importImages([path]);
      assert.equal(first.imported.length, 1);
      const imported = first.imported[0];
      assert.deepEqual([imported.id, imported.createdAt, imported.source], [row.id, row.createdAt, 'afa-studio']);
      assert.deepEqual(imported.settings, row.settings);
      assert.deepEqual(imported.timings, row.timings);
      const second = await target.importImages([path]);
      assert.equal(second.imported.length, 0);
      assert.match(second.skipped[0].reason, /already in the library/);
    } finally {
      source.close();
      target.close();
    }
  });
});

describe('reconcile', () => {
  it('offers orphan images, marks vanished ones missing and back, rebuilds thumbnails, finishes trash, clears old temp files', async () => {
    let now = Date.now();
    const library = freshLibrary({ now: () => now });
    try {
      const kept = library.recordGeneration({ settings: settings({ seed: 1 }), image: pixels() });
      const vanishing = library.recordGeneration({ settings: settings({ seed: 2 }), image: pixels() });
      const thumbless = library.recordGeneration({ settings: settings({ seed: 3 }), image: pixels() });
      const halfTrashed = library.recordGeneration({ settings: settings({ seed: 4 }), image: pixels() });

      // An image of ours whose row was lost, a file someone dropped in, and a crash's temp file.
      const orphanSource = freshLibrary();
      const lost = orphanSource.recordGeneration({ settings: settings({ prompt: 'an orphan owl', seed: 5 }), image: pixels() });
      const orphanPath = join(library.paths.images, '2020-01-01', `${lost.id}.png`);
      mkdirSync(join(orphanPath, '..'), { recursive: true });
      writeFileSync(orphanPath, readFileSync(orphanSource.absolutePath(lost.imagePath!)));
      orphanSource.close();
      const tempPath = join(library.paths.images, '2020-01-01', '.tmp-gen_x.png-abc123');
      writeFileSync(tempPath, 'half a file');

      const vanishedPath = library.absolutePath(vanishing.imagePath!);
      const parked = join(root, 'parked.png');
      renameSync(vanishedPath, parked);
      rmSync(library.absolutePath(thumbless.thumbnailPath!));
      library.generations.markTrashed([halfTrashed.id], 'trash_crashed', now); // as if the process died before moving files

      const early = library.reconcile();
      assert.deepEqual(early.markedMissing, [vanishing.id]);
      assert.deepEqual(early.thumbnailsRebuilt, [thumbless.id]);
      assert.deepEqual(early.trashCompleted, [halfTrashed.id]);
      assert.deepEqual(early.problems, []);
      // Just written files may belong to a save in progress in another process: left alone for now.
      assert.deepEqual(early.orphanFiles, []);
      assert.deepEqual(early.temporaryFilesRemoved, []);

      now += TEMPORARY_FILE_GRACE_MS + ORPHAN_GRACE_MS;
      const old = new Date(now - TEMPORARY_FILE_GRACE_MS - ORPHAN_GRACE_MS - 1000);
      utimesSync(orphanPath, old, old);
      utimesSync(tempPath, old, old);
      const report = library.reconcile();
      assert.deepEqual(report.orphanFiles, [orphanPath]);
      assert.deepEqual(report.temporaryFilesRemoved, [tempPath]);
      assert.deepEqual([report.markedMissing, report.thumbnailsRebuilt, report.trashCompleted], [[], [], []], 'nothing twice');
      assert.equal(library.generations.get(vanishing.id)?.status, 'missing');
      assert.ok(existsSync(library.absolutePath(thumbless.thumbnailPath!)));
      assert.equal(existsSync(library.absolutePath(halfTrashed.imagePath!)), false);
      assert.equal(library.generations.get(kept.id)?.status, 'done');

      // The user accepts the offer: the orphan is registered where it is, with its own id and settings.
      const imported = await library.importImages(report.orphanFiles);
      assert.deepEqual(imported.imported.map((row) => [row.id, row.imagePath, row.settings.prompt]), [
        [lost.id, `images/2020-01-01/${lost.id}.png`, 'an orphan owl'],
      ]);
      assert.ok(existsSync(orphanPath), 'registered in place, not moved');

      renameSync(parked, vanishedPath);
      const after = library.reconcile();
      assert.deepEqual(after.restored, [vanishing.id]);
      assert.deepEqual(after.orphanFiles, []);
      assert.equal(library.generations.get(vanishing.id)?.status, 'done');
      assert.equal(library.undoTrash('trash_crashed'), 1);
      assert.ok(existsSync(library.absolutePath(halfTrashed.imagePath!)));
    } finally {
      library.close();
    }
  });
});
