// The library under failure: a writer killed mid-write, two processes writing at once, a full disk.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { writeFileAtomic } from '../../app/common/atomic-write.ts';
import { UserError } from '../../app/common/errors.ts';
import { Library } from '../../app/library/library.ts';
import { ORPHAN_GRACE_MS, TEMPORARY_FILE_GRACE_MS } from '../../app/library/reconcile.ts';
import { filesUnder, pixels, settings, temporaryHome } from './fixtures.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const writer = fileURLToPath(new URL('./scripts/write-generations.ts', import.meta.url));
const { home: root, remove } = temporaryHome('robustness');
after(remove);

const isDiskFull = (error: unknown) => error instanceof UserError && error.code === 'disk-full';

interface Run {
  readonly committed: string[];
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * Runs the writer; with `killAfter`, SIGKILLs it `killDelayMs` after that many commits have been
 * reported (different delays land the kill in different phases: encoding, file write, commit).
 */
function runWriter(home: string, count: number | 'forever', firstSeed: number, killAfter?: number, killDelayMs = 0): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, home, String(count), String(firstSeed)], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const committed: string[] = [];
    let buffer = '';
    let stderr = '';
    let killing = false;
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('committed ')) committed.push(line.slice('committed '.length));
      if (killAfter !== undefined && committed.length >= killAfter && !killing) {
        killing = true;
        setTimeout(() => child.kill('SIGKILL'), killDelayMs);
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (killAfter === undefined && code !== 0) reject(new Error(`writer exited with ${code}: ${stderr}`));
      else resolve({ committed, code, signal });
    });
  });
}

/** Image/thumbnail files no row refers to, and leftover temporary files. */
function strayFiles(library: Library): { unreferenced: string[]; temporary: string[] } {
  const referenced = new Set<string>();
  for (const row of library.generations.fileRows()) {
    if (row.imagePath) referenced.add(row.imagePath);
    if (row.thumbnailPath) referenced.add(row.thumbnailPath);
  }
  const files = [
    ...filesUnder(library.paths.images).map((file) => `images/${file}`),
    ...filesUnder(library.paths.thumbnails).map((file) => `thumbnails/${file}`),
  ];
  return {
    unreferenced: files.filter((file) => !file.includes('/.tmp-') && !referenced.has(file)),
    temporary: files.filter((file) => file.includes('/.tmp-')),
  };
}

function checkConsistent(library: Library): void {
  assert.deepEqual(library.integrityCheck(), ['ok']);
  assert.deepEqual(library.db.pragma('foreign_key_check'), []);
  for (const row of library.generations.fileRows()) {
    assert.ok(row.imagePath && existsSync(library.absolutePath(row.imagePath)), `${row.id}: its image exists`);
    assert.ok(row.thumbnailPath && existsSync(library.absolutePath(row.thumbnailPath)), `${row.id}: its thumbnail exists`);
  }
}

describe('a writer killed mid-write', () => {
  it('loses at most the generation in flight, and reconcile offers what it left', async () => {
    const home = join(root, 'killed');
    const survivors = new Set<string>();
    const leftBefore = new Set<string>();
    let total = 0;
    for (const [killAfter, killDelayMs] of [[12, 0], [17, 4], [23, 9], [29, 15]]) {
      const run = await runWriter(home, 'forever', total * 1000, killAfter, killDelayMs);
      assert.equal(run.signal, 'SIGKILL');
      const library = Library.open({ home });
      try {
        checkConsistent(library);
        const rows = library.generations.fileRows().map((row) => row.id);
        for (const id of run.committed) assert.ok(rows.includes(id), `reported commit ${id} survived`);
        for (const id of survivors) assert.ok(rows.includes(id), `earlier commit ${id} survived`);
        // Only a commit that happened after its last report can be extra; nothing is lost.
        const extra = rows.length - survivors.size - run.committed.length;
        assert.ok(extra === 0 || extra === 1, `${extra} rows beyond the reported commits`);
        // Left behind by this kill: at most the in-flight image/thumbnail and one temporary file.
        const stray = strayFiles(library);
        const newUnreferenced = stray.unreferenced.filter((file) => !leftBefore.has(file));
        const newTemporary = stray.temporary.filter((file) => !leftBefore.has(file));
        assert.ok(newUnreferenced.length <= 2, `at most the in-flight image and thumbnail: ${newUnreferenced}`);
        assert.ok(newTemporary.length <= 1, `at most one half-written temporary file: ${newTemporary}`);
        for (const file of [...stray.unreferenced, ...stray.temporary]) leftBefore.add(file);
        for (const id of rows) survivors.add(id);
        total = rows.length;
      } finally {
        library.close();
      }
    }

    // Later, reconcile offers the in-flight images for re-import and clears temporary files.
    const later = Library.open({ home, now: () => Date.now() + TEMPORARY_FILE_GRACE_MS + ORPHAN_GRACE_MS + 60_000 });
    try {
      const stray = strayFiles(later);
      const report = later.reconcile();
      assert.deepEqual(report.orphanFiles.map((path) => later.store.relative(path)), stray.unreferenced.filter((file) => file.startsWith('images/')));
      assert.equal(report.temporaryFilesRemoved.length, stray.temporary.length);
      assert.deepEqual(report.markedMissing, []);
      const imported = await later.importImages(report.orphanFiles);
      assert.equal(imported.skipped.length, 0);
      assert.deepEqual(strayFiles(later), { unreferenced: [], temporary: [] }, 'after re-import nothing is left over');
      checkConsistent(later);
    } finally {
      later.close();
    }
  });
});

describe('concurrent writers', () => {
  it('two processes and a reader on one new library: every row lands, the file stays sound', async () => {
    const home = join(root, 'concurrent');
    const reads: number[] = [];
    const runs = Promise.all([runWriter(home, 25, 0), runWriter(home, 25, 100_000)]);
    // Meanwhile this process opens the same library (possibly while the writers migrate it) and reads.
    let reader: Library | undefined;
    const timer = setInterval(() => {
      reader ??= Library.open({ home });
      reads.push(reader.generations.list({ search: 'robustness' }).items.length);
    }, 25);
    const [first, second] = await runs;
    clearInterval(timer);
    reader?.close();
    assert.equal(first.committed.length, 25);
    assert.equal(second.committed.length, 25);
    const library = Library.open({ home });
    try {
      checkConsistent(library);
      const ids = library.generations.fileRows().map((row) => row.id);
      assert.equal(ids.length, 50);
      assert.deepEqual(new Set(ids), new Set([...first.committed, ...second.committed]));
      assert.deepEqual(strayFiles(library), { unreferenced: [], temporary: [] });
      for (let i = 1; i < reads.length; i++) assert.ok(reads[i] >= reads[i - 1], 'a reader never sees rows disappear');
    } finally {
      library.close();
    }
  });
});

describe('a full disk', () => {
  it('while writing the thumbnail: disk-full, no row, no file', () => {
    const home = join(root, 'full-injected');
    let calls = 0;
    const library = Library.open({
      home,
      writeFile: (target, bytes) => {
        if (++calls % 2 === 0) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        writeFileAtomic(target, bytes);
      },
    });
    try {
      assert.throws(() => library.recordGeneration({ settings: settings(), image: pixels() }), isDiskFull);
      assert.equal(library.generations.count(), 0);
      assert.deepEqual(strayFiles(library), { unreferenced: [], temporary: [] });
    } finally {
      library.close();
    }
  });

  it('while committing the row (SQLITE_FULL): disk-full, and the image files are removed again', () => {
    const library = Library.open({ home: join(root, 'full-database') });
    try {
      library.recordGeneration({ settings: settings({ seed: 1 }), image: pixels() });
      library.checkpoint();
      // max_page_count makes SQLite report SQLITE_FULL exactly as a full disk does.
      const pages = library.db.pragma('page_count', { simple: true }) as number;
      library.db.pragma(`max_page_count = ${pages}`);
      let error: unknown;
      for (let i = 2; i < 200 && error === undefined; i++) {
        try {
          library.recordGeneration({ settings: settings({ seed: i, prompt: `filler ${'x'.repeat(2000)} ${i}` }), image: pixels() });
        } catch (caught) {
          error = caught;
        }
      }
      assert.ok(isDiskFull(error), String(error));
      checkConsistent(library);
      assert.deepEqual(strayFiles(library), { unreferenced: [], temporary: [] });
    } finally {
      library.close();
    }
  });

  // A real full file system, where this machine lets us mount a small tmpfs (root, CAP_SYS_ADMIN).
  const mountPoint = mkdtempSync(join(tmpdir(), 'afa-tmpfs-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=640k', 'tmpfs', mountPoint]).status === 0;
  after(() => {
    if (mounted) spawnSync('umount', [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('on a real 640 kB tmpfs: clear error, no half file, no orphan row, usable again once space is freed', { skip: !mounted && 'cannot mount a tmpfs here' }, () => {
    const home = join(mountPoint, 'studio');
    mkdirSync(home);
    const library = Library.open({ home });
    // Something else of the user's on the same disk, deleted at the end to free space.
    const ballast = join(mountPoint, 'ballast.bin');
    writeFileSync(ballast, new Uint8Array(96 * 1024));
    try {
      let saved = 0;
      let error: unknown;
      for (let i = 0; i < 100 && error === undefined; i++) {
        try {
          library.recordGeneration({ settings: settings({ seed: i, width: 96, height: 96 }), image: pixels(96, 96, i + 1) });
          saved++;
        } catch (caught) {
          error = caught;
        }
      }
      assert.ok(saved > 0, 'some images fit');
      assert.ok(isDiskFull(error), String(error));
      assert.match((error as Error).message, /Not enough disk space/);
      checkConsistent(library);
      assert.equal(library.generations.count(), saved);
      assert.deepEqual(strayFiles(library), { unreferenced: [], temporary: [] });

      rmSync(ballast);
      library.recordGeneration({ settings: settings({ seed: 999, width: 96, height: 96 }), image: pixels(96, 96, 999) });
      assert.equal(library.generations.count(), saved + 1);
      checkConsistent(library);
    } finally {
      library.close();
    }
  });
});
