// The demo pack format: written by writeDemoPack from the test pack's made-up weights, read back and
// checked; damage is caught and named; a cancelled write leaves nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledError, UserError } from '../../app/common/errors.ts';
import { openDiffusersFolder } from '../../app/checkpoints/open-diffusers-folder.ts';
import { DEMO_PACK_BUDGET_BYTES, DEMO_PACK_MANIFEST, readDemoPack, writeDemoPack, type DemoPack, type DemoPackContents } from '../../app/demo/demo-pack.ts';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';
import { halfToFloat } from '../../app/tensor/half.ts';
import { EXPERTS, RECIPE, testPackContents } from './test-pack.ts';

let root: string;
let contents: DemoPackContents;
let pack: DemoPack;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'afa-demo-pack-'));
  contents = testPackContents();
  pack = await writeDemoPack(join(root, 'pack'), contents);
});

after(() => rmSync(root, { recursive: true, force: true }));

/** A copy of the written pack to damage. */
function copyOfPack(name: string): string {
  const dir = join(root, name);
  cpSync(pack.dir, dir, { recursive: true });
  return dir;
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? listFiles(dir, `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`]))
    .sort();
}

test('a written pack reads back: manifest, every file listed with its size and hash, weights in fp16', async () => {
  const read = await readDemoPack(pack.dir, { verify: true });
  const { manifest } = read;
  assert.equal(manifest.format, 'afa-studio-demo-pack');
  assert.equal(manifest.version, 1);
  assert.deepEqual(manifest.experts.map((expert) => [expert.id, expert.subfolder]), EXPERTS.map((expert) => [expert.id, `unet_${expert.id}`]));
  assert.deepEqual(manifest.recipe, RECIPE);
  assert.deepEqual(manifest.aggregators, { folder: 'aggregators', config: { hiddenSize: 32, numAttentionHeads: 4, numLayers: 2 }, experts: EXPERTS.map((expert) => expert.id) });
  assert.deepEqual(manifest.training, contents.training);
  // Every file but the manifest, sorted; no tokenizer (the bundled CLIP vocabulary is the real one).
  assert.deepEqual(manifest.files.map((file) => file.path), listFiles(pack.dir).filter((path) => path !== DEMO_PACK_MANIFEST));
  assert.ok(!existsSync(join(pack.dir, 'tokenizer')));
  assert.equal(read.aggregators?.configs.length, 25);
  assert.deepEqual(read.aggregators?.experts, EXPERTS.map((expert) => expert.id));

  const index = JSON.parse(readFileSync(join(pack.dir, 'model_index.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(index._class_name, 'StableDiffusionPipeline');
  for (const file of manifest.files.filter((entry) => entry.path.endsWith('.safetensors'))) {
    const weights = SafetensorsFile.open(join(pack.dir, file.path));
    try {
      assert.ok(weights.names().length > 0);
      for (const name of weights.names()) assert.equal(weights.get(name).dtype, 'float16', `${file.path}: ${name}`);
    } finally {
      weights.close();
    }
  }
  // The values are the given ones, rounded to fp16.
  const source = contents.experts[1]!.weights as ReadonlyMap<string, { data: Float32Array }>;
  const stored = SafetensorsFile.open(join(pack.dir, 'unet_textures', 'diffusion_pytorch_model.safetensors'));
  try {
    const name = 'conv_in.weight';
    const half = stored.get(name).read().data as Uint16Array;
    const original = source.get(name)!.data;
    for (let i = 0; i < 16; i++) assert.ok(Math.abs(halfToFloat(half[i]!) - original[i]!) <= Math.abs(original[i]!) * 1e-3 + 1e-7);
  } finally {
    stored.close();
  }
});

test('each expert opens as a diffusers folder with its U-Net subfolder, the shared parts and the default tokenizer', () => {
  for (const expert of pack.manifest.experts) {
    const opened = openDiffusersFolder(pack.dir, { subfolders: { unet: expert.subfolder } });
    try {
      assert.equal(opened.format, 'diffusers-folder');
      assert.equal(opened.tokenizer.kind, 'default');
      assert.equal(opened.detection.crossAttentionDim, 64);
      assert.equal(opened.sourcePrecision, 'fp16');
      assert.deepEqual(opened.ignoredTensors, []);
      assert.ok(opened.weightFiles.some((file) => file.endsWith(join(expert.subfolder, 'diffusion_pytorch_model.safetensors'))));
    } finally {
      opened.close();
    }
  }
});

test('a flipped byte is caught by the hash check, naming the file and what to do', async () => {
  const dir = copyOfPack('flipped');
  const path = join(dir, 'unet_textures', 'diffusion_pytorch_model.safetensors');
  const bytes = readFileSync(path);
  bytes[bytes.length - 100] ^= 0x01;
  writeFileSync(path, bytes);
  // Same size: only the hash tells.
  await readDemoPack(dir);
  await assert.rejects(readDemoPack(dir, { verify: true }), (error: unknown) => {
    assert.ok(error instanceof UserError);
    assert.equal(error.code, 'corrupt-file');
    assert.match(error.message, /unet_textures\/diffusion_pytorch_model\.safetensors does not match its SHA-256/);
    assert.match(error.message, /Reinstall AFA Studio.*npm run demo:train/);
    return true;
  });
});

test('a truncated file (or a Git LFS pointer in place of the weights) is caught without reading it', async () => {
  const dir = copyOfPack('truncated');
  truncateSync(join(dir, 'vae', 'diffusion_pytorch_model.safetensors'), 132);
  await assert.rejects(readDemoPack(dir), /vae\/diffusion_pytorch_model\.safetensors has 132 bytes, the manifest says \d+/);
  rmSync(join(dir, 'text_encoder', 'model.safetensors'));
  await assert.rejects(readDemoPack(dir), /text_encoder\/model\.safetensors is missing/);
});

test('a manifest that is not a pack, of another version or missing a needed file is refused', async () => {
  const dir = copyOfPack('manifests');
  const manifestPath = join(dir, DEMO_PACK_MANIFEST);
  const original = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  const write = (change: Record<string, unknown>) => writeFileSync(manifestPath, JSON.stringify({ ...original, ...change }));
  write({ version: 2 });
  await assert.rejects(readDemoPack(dir), (error: unknown) => error instanceof UserError && error.code === 'unsupported' && /format version 2/.test(error.message));
  write({ files: (original.files as { path: string }[]).filter((file) => file.path !== 'unet_textures/config.json') });
  await assert.rejects(readDemoPack(dir), /does not list unet_textures\/config\.json/);
  write({ experts: (original.experts as object[]).map((expert, i) => (i === 0 ? { ...expert, subfolder: '../elsewhere' } : expert)) });
  await assert.rejects(readDemoPack(dir), /must live in unet_warm-plain\//);
  write({ files: [...(original.files as object[]), { path: '../outside', bytes: 1, sha256: '0'.repeat(64) }] });
  await assert.rejects(readDemoPack(dir), /no valid path/);
  writeFileSync(manifestPath, '{ not json');
  await assert.rejects(readDemoPack(dir), /manifest\.json is not valid JSON/);
  rmSync(manifestPath);
  await assert.rejects(readDemoPack(dir), (error: unknown) => error instanceof UserError && error.code === 'not-found');
});

test('writing over a pack replaces it whole; a cancelled write leaves the old one and no temporary folder', async () => {
  const dir = join(root, 'rewrite');
  const first = await writeDemoPack(dir, { ...contents, name: 'First' });
  assert.equal(first.manifest.name, 'First');
  const controller = new AbortController();
  let writes = 0;
  await assert.rejects(
    writeDemoPack(dir, { ...contents, name: 'Second' }, {
      signal: controller.signal,
      onProgress: (progress) => {
        // Cancel while the first expert's U-Net is being written.
        if (progress.message?.includes('U-Net') && ++writes === 3) controller.abort();
      },
    }),
    CancelledError,
  );
  assert.equal((await readDemoPack(dir, { verify: true })).manifest.name, 'First');
  assert.deepEqual(readdirSync(root).filter((name) => name.startsWith('.')), []);
  const second = await writeDemoPack(dir, { ...contents, name: 'Second', aggregators: undefined });
  assert.equal(second.manifest.name, 'Second');
  assert.equal(second.manifest.aggregators, undefined);
  assert.ok(!existsSync(join(dir, 'aggregators')), 'nothing of the old pack is left');
  assert.deepEqual(readdirSync(root).filter((name) => name.startsWith('.')), []);
});

test('contents that would not make a working pack are refused before anything is written', async () => {
  const dir = join(root, 'refused');
  await assert.rejects(writeDemoPack(dir, { ...contents, experts: contents.experts.slice(0, 1) }), /at least 2 experts/);
  await assert.rejects(writeDemoPack(dir, { ...contents, experts: [contents.experts[0]!, { ...contents.experts[1]!, id: 'Bad Id' }] }), /expert id 'Bad Id'/);
  await assert.rejects(writeDemoPack(dir, { ...contents, aggregators: { ...contents.aggregators!, experts: ['warm-plain', 'textures'] } }), /must list every expert/);
  await assert.rejects(writeDemoPack(dir, { ...contents, recipe: { ...RECIPE, width: 60 } }), /width must be a multiple of 8/);
  await assert.rejects(writeDemoPack(dir, { ...contents, scheduler: { prediction_type: 'v_prediction' } }), /prediction_type must be 'epsilon'/);
  assert.ok(!existsSync(dir));
  assert.deepEqual(readdirSync(root).filter((name) => name.startsWith('.')), []);
});

test('a pack over its size budget (30 MB: it ships with the studio) is refused, leaving nothing', async () => {
  const total = pack.manifest.files.reduce((sum, file) => sum + file.bytes, 0);
  assert.ok(total < DEMO_PACK_BUDGET_BYTES, `the test pack is ${total} bytes`);
  const dir = join(root, 'too-big');
  await assert.rejects(writeDemoPack(dir, contents, {}, { maxBytes: 1_000_000 }), (error: unknown) => error instanceof UserError && /The demo pack would be \d+\.\d MB, over its budget of 1\.0 MB/.test(error.message));
  assert.ok(!existsSync(dir));
  assert.deepEqual(readdirSync(root).filter((name) => name.startsWith('.')), []);
});
