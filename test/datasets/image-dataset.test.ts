// Dataset layouts and what is wrong with them: nested caption folders, metadata.jsonl/csv, missing
// captions (refused or captioned by file name), empty and missing folders, the seeded validation split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captionFromFileName, checkDataset, datasetFromItems, parseCsv, scanImageDataset, splitValidation } from '../../app/datasets/image-dataset.ts';
import { TrainingRandom } from '../../app/training/training-random.ts';
import { scratchDir } from '../ensemble/golden-experts.ts';
import { writeGeneratedDataset } from './generated-dataset.ts';

test('a folder of images with same-name captions is read recursively, in name order', async () => {
  const dir = scratchDir('afa-dataset-');
  try {
    await writeGeneratedDataset(dir, 4, 16);
    const dataset = scanImageDataset(dir);
    assert.equal(dataset.layout, 'captions');
    assert.deepEqual(dataset.items.map((item) => item.name), ['image-00.png', 'image-02.png', 'nested/image-01.png', 'nested/image-03.png']);
    assert.deepEqual(dataset.items.map((item) => item.caption), ['a red square', 'a blue square', 'a green square', 'a yellow square']);
    assert.deepEqual(dataset.problems, []);
    checkDataset(dataset);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('images without captions are listed and refused, or captioned with their file names when asked', async () => {
  const dir = scratchDir('afa-dataset-');
  try {
    await writeGeneratedDataset(dir, 2, 16);
    rmSync(join(dir, 'nested', 'image-01.txt'));
    const refused = scanImageDataset(dir);
    assert.equal(refused.items.length, 1);
    assert.deepEqual(refused.problems.map((p) => [p.kind, p.files, p.blocking]), [['missing-caption', ['nested/image-01.png'], true]]);
    assert.throws(() => checkDataset(refused), /1 image\(s\) have no \.txt caption.*nested\/image-01\.png.*--caption-from-file-name/);
    const named = scanImageDataset(dir, { missingCaptions: 'use-file-name' });
    assert.equal(named.items[1]!.caption, 'image 01');
    assert.equal(named.items[1]!.captionSource, 'file-name');
    checkDataset(named);
    assert.equal(captionFromFileName('/x/cat_on-a.mat.png'), 'cat on a mat');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('metadata.jsonl and metadata.csv give file names and captions; bad lines and missing images are reported', async () => {
  const dir = scratchDir('afa-dataset-');
  try {
    await writeGeneratedDataset(dir, 2, 16);
    writeFileSync(join(dir, 'metadata.jsonl'), ['{"file_name": "image-00.png", "text": "first"}', '{"file_name": "nested/image-01.png", "text": "second"}', 'not json', '{"file_name": "gone.png", "text": "x"}', ''].join('\n'));
    const jsonl = scanImageDataset(dir);
    assert.equal(jsonl.layout, 'metadata.jsonl');
    assert.deepEqual(jsonl.items.map((i) => [i.name, i.caption]), [['image-00.png', 'first'], ['nested/image-01.png', 'second']]);
    assert.deepEqual(jsonl.problems.map((p) => [p.kind, p.files]), [['metadata-bad-line', ['metadata.jsonl:3']], ['metadata-missing-image', ['gone.png']]]);
    checkDataset(jsonl);
    rmSync(join(dir, 'metadata.jsonl'));
    writeFileSync(join(dir, 'metadata.csv'), 'file_name,text\r\nimage-00.png,"a cat, ""sitting"""\r\nnested/image-01.png,"two\nlines"\r\n');
    const csv = scanImageDataset(dir);
    assert.equal(csv.layout, 'metadata.csv');
    assert.deepEqual(csv.items.map((i) => i.caption), ['a cat, "sitting"', 'two\nlines']);
    writeFileSync(join(dir, 'metadata.csv'), 'image,caption\nimage-00.png,x\n');
    assert.throws(() => scanImageDataset(dir), /no 'file_name' and 'text' columns/);
    assert.deepEqual(parseCsv('a,b\n1,2'), [['a', 'b'], ['1', '2']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an empty or missing folder is refused with what to put there', () => {
  const dir = scratchDir('afa-dataset-');
  try {
    assert.throws(() => scanImageDataset(dir), /holds no images.*PNG, JPEG or WebP/);
    assert.throws(() => scanImageDataset(join(dir, 'missing')), /does not exist/);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'notes.txt'), 'x');
    assert.throws(() => scanImageDataset(dir), /holds no images/);
    assert.throws(() => datasetFromItems([]), /selection holds no images/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the validation split holds out 5 % (at least one), the same images for the same seed', () => {
  const items = Array.from({ length: 40 }, (_, i) => i);
  const split = (seed: number) => splitValidation(items, 0.05, (n) => new TrainingRandom(seed).permutation(5, 0, n));
  const a = split(1);
  assert.equal(a.validation.length, 2);
  assert.equal(a.train.length, 38);
  assert.deepEqual(split(1), a);
  assert.notDeepEqual(split(2).validation, a.validation);
  assert.equal(splitValidation([1, 2, 3], 0.05, (n) => [...Array(n).keys()]).validation.length, 1);
  assert.equal(splitValidation([1], 0.05, (n) => [...Array(n).keys()]).validation.length, 0);
});
