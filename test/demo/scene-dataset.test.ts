// Demo datasets: the folder the training job reads (sd-scripts captions, read back by
// app/datasets/image-dataset.ts and load-training-image.ts), written whole or not at all, with
// progress and cancel; and the in-memory batch, which equals the folder's images as training sees them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CancelledError, UserError } from '../../app/common/errors.ts';
import type { Progress } from '../../app/common/progress.ts';
import { checkDataset, scanImageDataset } from '../../app/datasets/image-dataset.ts';
import { loadTrainingImage } from '../../app/datasets/load-training-image.ts';
import { decodePng, readPngHeader } from '../../app/images/png.ts';
import { datasetScenes, sceneBatch, writeSceneDataset } from '../../app/demo/scene-dataset.ts';
import { captionOf, demoDomain, domainSceneAt, isHeldOut, renderScene, sceneAt } from '../../app/demo/scenes.ts';
import { scratchDir } from '../ensemble/golden-experts.ts';

test('a dataset folder holds NNNNNN.png + NNNNNN.txt of scenes 0…count−1, which the dataset reader reads back', async () => {
  const scratch = scratchDir('afa-demo-dataset-');
  try {
    const folder = join(scratch, 'nested', 'train');
    const progress: Progress[] = [];
    const info = await writeSceneDataset(folder, { count: 70, seed: 9 }, { onProgress: (p) => progress.push(p) });
    assert.deepEqual(info, { generator: 'afa-demo-scenes', version: 1, split: 'train', domain: null, count: 70, seed: 9, size: 64 });
    assert.deepEqual(JSON.parse(readFileSync(join(folder, 'dataset.json'), 'utf8')), info);
    assert.deepEqual(progress.map((p) => p.done), [0, 64, 70]);
    assert.ok(progress.every((p) => p.phase === 'render-scenes' && p.total === 70 && p.unit === 'items'));
    // Nothing but the folder itself next to it: the temporary sibling was renamed.
    assert.deepEqual(readdirSync(join(scratch, 'nested')), ['train']);
    const dataset = scanImageDataset(folder);
    checkDataset(dataset);
    assert.equal(dataset.layout, 'captions');
    assert.equal(dataset.items.length, 70);
    assert.deepEqual(dataset.problems, []);
    const scenes = datasetScenes({ seed: 9 }, 70);
    dataset.items.forEach((item, index) => {
      assert.equal(item.name, `${String(index).padStart(6, '0')}.png`);
      assert.equal(item.caption, captionOf(scenes[index]!));
    });
    for (const index of [0, 1, 69]) {
      const bytes = readFileSync(dataset.items[index]!.path);
      assert.deepEqual(readPngHeader(bytes), { width: 64, height: 64, bitDepth: 8, colorType: 2 });
      // decodePng gives RGBA: the alpha is opaque and the colours are the render's.
      const decoded = decodePng(bytes);
      const rgb = decoded.data.filter((_, i) => i % 4 !== 3);
      assert.ok(decoded.data.every((v, i) => i % 4 !== 3 || v === 255));
      assert.deepEqual(rgb, renderScene(scenes[index]!, 64));
    }
    // A larger dataset with the same seed starts with the same scenes.
    assert.deepEqual(datasetScenes({ seed: 9 }, 80).slice(0, 70), scenes);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('the in-memory batch equals the written images as the training loader reads them', async () => {
  const scratch = scratchDir('afa-demo-dataset-');
  try {
    const folder = join(scratch, 'test-split');
    await writeSceneDataset(folder, { count: 3, seed: 4, split: 'test', size: 128 });
    const scenes = datasetScenes({ seed: 4, split: 'test' }, 3);
    assert.ok(scenes.every(isHeldOut));
    const batch = sceneBatch(scenes, 128);
    assert.deepEqual(batch.shape, [3, 3, 128, 128]);
    assert.equal(batch.pixels.length, 3 * 3 * 128 * 128);
    assert.deepEqual(batch.captions, scenes.map(captionOf));
    const dataset = scanImageDataset(folder);
    for (let b = 0; b < 3; b++) {
      const loaded = await loadTrainingImage(dataset.items[b]!.path, { resolution: 128, crop: 'center' });
      const plane = 3 * 128 * 128;
      assert.deepEqual(batch.pixels.subarray(b * plane, (b + 1) * plane), loaded.pixels.data);
    }
    let low = Infinity;
    let high = -Infinity;
    for (const v of batch.pixels) {
      low = Math.min(low, v);
      high = Math.max(high, v);
    }
    assert.ok(low >= -1 && high <= 1 && high > low, `pixels in [${low}, ${high}]`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('a domain dataset holds only that domain; existing folders are refused unless replaced', async () => {
  const scratch = scratchDir('afa-demo-dataset-');
  try {
    const folder = join(scratch, 'textures');
    await writeSceneDataset(folder, { count: 5, seed: 2, domain: 'textures' });
    const captions = scanImageDataset(folder).items.map((item) => item.caption);
    assert.deepEqual(captions, [0, 1, 2, 3, 4].map((i) => captionOf(domainSceneAt('textures', 2, i))));
    assert.ok(datasetScenes({ seed: 2, domain: 'textures' }, 5).every(demoDomain('textures').includes));
    await assert.rejects(writeSceneDataset(folder, { count: 2, seed: 3 }), (error: unknown) => error instanceof UserError && /already exists and is not empty/.test(error.message));
    await writeSceneDataset(folder, { count: 2, seed: 3, replace: true });
    assert.deepEqual(readdirSync(folder).sort(), ['000000.png', '000000.txt', '000001.png', '000001.txt', 'dataset.json']);
    assert.deepEqual(readdirSync(scratch), ['textures']);
    // An empty folder is simply filled.
    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    await writeSceneDataset(empty, { count: 1, seed: 1 });
    assert.equal(scanImageDataset(empty).items[0]!.caption, captionOf(sceneAt(1, 0)));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('cancelling leaves nothing behind, and a replaced folder untouched', async () => {
  const scratch = scratchDir('afa-demo-dataset-');
  try {
    const folder = join(scratch, 'data');
    const controller = new AbortController();
    await assert.rejects(
      writeSceneDataset(folder, { count: 500, seed: 1 }, { signal: controller.signal, onProgress: (p) => p.done >= 64 && controller.abort() }),
      CancelledError,
    );
    assert.deepEqual(readdirSync(scratch), []);
    mkdirSync(folder);
    writeFileSync(join(folder, 'keep.txt'), 'old');
    const again = new AbortController();
    await assert.rejects(
      writeSceneDataset(folder, { count: 500, seed: 1, replace: true }, { signal: again.signal, onProgress: (p) => p.done >= 64 && again.abort() }),
      CancelledError,
    );
    assert.deepEqual(readdirSync(scratch), ['data']);
    assert.deepEqual(readdirSync(folder), ['keep.txt']);
    assert.ok(!existsSync(join(folder, '000000.png')));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('bad dataset options are refused with what to pass', async () => {
  const scratch = scratchDir('afa-demo-dataset-');
  try {
    const folder = join(scratch, 'x');
    await assert.rejects(writeSceneDataset(folder, { count: 0, seed: 1 }), /1 to 999999 scenes, got 0/);
    await assert.rejects(writeSceneDataset(folder, { count: 1, seed: -1 }), /seed must be a whole number/);
    await assert.rejects(writeSceneDataset(folder, { count: 1, seed: 1, size: 96 }), /multiple of 64 pixels/);
    await assert.rejects(writeSceneDataset(folder, { count: 1, seed: 1, domain: 'textures', split: 'test' }), /the 'textures' domain has no 'test' split/);
    await assert.rejects(writeSceneDataset(folder, { count: 1, seed: 1, domain: 'nope' as never }), /no demo domain 'nope'/);
    assert.deepEqual(readdirSync(scratch), []);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
