import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FOLDER_HASH_HEADER, sha256File, sha256Folder, shortHash } from '../../app/checkpoints/hash.ts';
import { CancelledError } from '../../app/common/errors.ts';
import type { Progress } from '../../app/common/progress.ts';
import { EXPERT1_FP32, temporaryDirectory } from './fixtures.ts';
import { golden } from './golden-paths.ts';
import { parsePythonJson } from '../golden/python-json.ts';

interface ManifestFile {
  path: string;
  bytes: number;
  sha256: string;
}
// The manifest is Python's JSON (it may hold NaN/Infinity), hence the golden runner's parser.
const manifestFiles = (parsePythonJson(readFileSync(golden('manifest.json'), 'utf8')) as { files: ManifestFile[] }).files;

test('streamed SHA-256 equals the golden manifest; AUTOV2 is its first 10 hex digits; progress ends at the file size', async () => {
  const expected = manifestFiles.find((file) => file.path === 'models/single_file/expert1_fp32.safetensors')!;
  const progress: Progress[] = [];
  const sha256 = await sha256File(EXPERT1_FP32, { onProgress: (p) => progress.push(p) });
  assert.equal(sha256, expected.sha256);
  assert.equal(shortHash(sha256), expected.sha256.slice(0, 10));
  assert.equal(progress.at(-1)?.done, expected.bytes);
  assert.equal(progress.at(-1)?.total, expected.bytes);
  assert.equal(progress.at(-1)?.unit, 'bytes');
});

test('hashing stops when cancelled', async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(sha256File(EXPERT1_FP32, { signal: controller.signal }), CancelledError);
});

test('the folder hash is the SHA-256 of the documented sha256sum-style listing, independent of the order given', async (t) => {
  const root = temporaryDirectory(t);
  mkdirSync(join(root, 'unet'));
  mkdirSync(join(root, 'vae'));
  const files = { 'vae/diffusion_pytorch_model.safetensors': 'vae bytes', 'unet/diffusion_pytorch_model.safetensors': 'unet bytes' };
  for (const [path, text] of Object.entries(files)) writeFileSync(join(root, path), text);
  const listing = Object.entries(files)
    .map(([path, text]) => `${createHash('sha256').update(text).digest('hex')}  ${path}\n`)
    .sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : 1))
    .join('');
  const expected = createHash('sha256').update(FOLDER_HASH_HEADER + listing).digest('hex');
  const paths = Object.keys(files).map((path) => join(root, path));
  const sizes = paths.map((path) => statSync(path).size);
  assert.equal(await sha256Folder(root, paths, sizes), expected);
  assert.equal(await sha256Folder(root, [...paths].reverse(), [...sizes].reverse()), expected);
});
