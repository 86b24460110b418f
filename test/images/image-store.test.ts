import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeFileAtomic } from '../../app/common/atomic-write.ts';
import { UserError } from '../../app/common/errors.ts';
import { ImageStore, type FileWriter } from '../../app/images/image-store.ts';
import { filesUnder } from '../library/fixtures.ts';

const home = mkdtempSync(join(tmpdir(), 'afa-image-store-'));
after(() => rmSync(home, { recursive: true, force: true }));

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
const isDiskFull = (error: unknown) => error instanceof UserError && error.code === 'disk-full';

describe('image store', () => {
  it('stores image and thumbnail under dated folders, with relative "/" paths', () => {
    const store = new ImageStore(home);
    const createdAt = new Date(2025, 2, 7, 13, 0).getTime(); // local time, as the folders are
    const files = store.save('gen_A', createdAt, Uint8Array.of(1, 2, 3), Uint8Array.of(4));
    assert.deepEqual(files, { imagePath: 'images/2025-03-07/gen_A.png', thumbnailPath: 'thumbnails/2025-03-07/gen_A.png' });
    assert.deepEqual([...readFileSync(store.absolute(files.imagePath))], [1, 2, 3]);
    assert.equal(store.relative(store.absolute(files.thumbnailPath)), files.thumbnailPath);
  });

  it('refuses paths outside the studio home and ids that are not file names', () => {
    const store = new ImageStore(home);
    assert.throws(() => store.absolute('../escape.png'), /not a path inside/);
    assert.throws(() => store.absolute('images/../../escape.png'), /not a path inside/);
    assert.throws(() => store.save('../x', 0, new Uint8Array(1), new Uint8Array(1)), /cannot name/);
    assert.equal(store.relative(join(tmpdir(), 'elsewhere.png')), undefined);
  });

  it('reports disk-full and does not go on to the thumbnail when the image does not fit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'afa-image-store-full-'));
    try {
      const targets: string[] = [];
      const failing: FileWriter = (target) => {
        targets.push(target);
        throw enospc();
      };
      const store = new ImageStore(dir, { writeFile: failing });
      assert.throws(() => store.save('gen_B', Date.now(), new Uint8Array(20), new Uint8Array(5)), isDiskFull);
      assert.equal(targets.length, 1);
      assert.match(targets[0], /gen_B\.png$/);
      assert.deepEqual(filesUnder(dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('removes the written image when the thumbnail does not fit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'afa-image-store-full-'));
    try {
      let calls = 0;
      const failsSecond: FileWriter = (target, bytes) => {
        if (++calls === 2) throw enospc();
        writeFileAtomic(target, bytes);
      };
      const store = new ImageStore(dir, { writeFile: failsSecond });
      assert.throws(() => store.save('gen_C', Date.now(), new Uint8Array(20), new Uint8Array(5)), (error: unknown) => {
        assert.ok(isDiskFull(error));
        assert.match((error as Error).message, /Not enough disk space/);
        return true;
      });
      assert.equal(calls, 2);
      assert.deepEqual(filesUnder(dir), []);
      assert.equal(existsSync(join(dir, 'images')), true); // the dated folder may stay; no file in it
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
