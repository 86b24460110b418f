// The optimized-model cache (app/runtime/optimized-models.ts through ModelSession.create): built on the
// first load, used on the next, rebuilt without an error when damaged or stale, never used across
// onnxruntime versions. The model has what makes the cache worth it on a U-Net: a conv (NCHWc layout,
// reordered filter) and a linear layer (folded transpose, prepacked MatMul weights); and a weight of an
// odd byte size (17×17 floats, like CLIP's 77×77 mask), which leaves the tensors after it unaligned in
// the entry's weights file.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Graph } from '../../app/onnx/graph.ts';
import { onnx } from '../../app/onnx/model-proto.ts';
import * as op from '../../app/onnx/ops.ts';
import { saveModel } from '../../app/onnx/serialize.ts';
import { ModelSession, onnxruntimeVersion, type SessionOptions, type SessionSource } from '../../app/runtime/onnx-runtime.ts';
import { OPTIMIZED_MODEL_FILE, OPTIMIZED_WEIGHTS_FILE, optimizedModelKey } from '../../app/runtime/optimized-models.ts';
import { recentRuntimeLog } from '../../app/runtime/runtime-log.ts';
import { float32, type Tensor } from '../../app/tensor/tensor.ts';
import { lazy, temporaryDirectory } from '../onnx/run-graph.ts';

let dir: string;
let root: string;
let modelPath: string;

function values(count: number, seed: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.37 + seed) * 0.2);
}

/** conv 3×3 (16 → 16 channels) → tokens [1, 64, 16] → linear 16 → 32 (torch layout, transposed in the graph); m + mask. */
function saveTestModel(seed: number): string {
  const g = new Graph('cached');
  const mask = g.weight('mask', lazy(float32([17, 17], values(17 * 17, seed + 3))));
  g.output(op.add(g, g.input('m', 'float32', [17, 17]), mask), 'z');
  const x = g.input('x', 'float32', [1, 16, 8, 8]);
  const filter = g.weight('conv.weight', lazy(float32([16, 16, 3, 3], values(16 * 16 * 9, seed))));
  const bias = g.weight('conv.bias', lazy(float32([16], values(16, seed + 1))));
  const features = op.conv(g, x, filter, bias, { pads: [1, 1, 1, 1] });
  const tokens = op.transpose(g, op.reshape(g, features, [1, 16, 64]), [0, 2, 1]);
  const linear = g.weight('linear.weight', lazy(float32([32, 16], values(32 * 16, seed + 2))));
  g.output(op.matMul(g, tokens, op.transpose(g, linear, [1, 0])), 'y');
  return saveModel(g, { dir, modelFile: 'cached.onnx', weightsFile: 'cached.weights' }).modelPath;
}

const feeds: Record<string, Tensor> = { x: float32([1, 16, 8, 8], values(16 * 64, 7)), m: float32([17, 17], values(17 * 17, 8)) };

async function load(options: SessionOptions = { optimizedModels: root }): Promise<{ source: SessionSource; y: Tensor }> {
  const session = await ModelSession.create(modelPath, { intraOpThreads: 1, ...options });
  try {
    return { source: session.source, y: (await session.run(feeds)).y! };
  } finally {
    await session.release();
  }
}

/** The one entry folder in the cache. */
function entryDir(): string {
  const entries = readdirSync(root).filter((name) => /^[0-9a-f]{64}$/.test(name));
  assert.equal(entries.length, 1, `one entry, found ${entries.join(', ')}`);
  return join(root, entries[0]!);
}

let expected: Tensor;

before(async () => {
  dir = temporaryDirectory('afa-optimized-');
  modelPath = saveTestModel(1);
  expected = (await load({})).y;
});

beforeEach(() => {
  root = join(dir, `cache-${Math.random().toString(16).slice(2)}`);
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('optimized-model cache', () => {
  it('is built at the first load and used at the next, with the same outputs as the model', async () => {
    assert.equal((await load({})).source, 'model', 'no cache folder: the model itself');
    const first = await load();
    assert.equal(first.source, 'built');
    const entry = entryDir();
    for (const file of [OPTIMIZED_MODEL_FILE, OPTIMIZED_WEIGHTS_FILE, 'entry.json']) assert.ok(existsSync(join(entry, file)), file);
    assert.equal(JSON.parse(readFileSync(join(entry, 'entry.json'), 'utf8')).onnxruntime, onnxruntimeVersion());
    assert.doesNotMatch(readFileSync(join(entry, OPTIMIZED_MODEL_FILE), 'latin1'), /prepacked_/, 'packed weights are made at load, not mapped from the entry');
    const second = await load();
    assert.equal(second.source, 'cache');
    assert.deepEqual(first.y, expected);
    assert.deepEqual(second.y, expected);
  });

  it('keeps the conv filter out of the mapped file: a graph input read into memory and fed at every run, hidden from callers', async () => {
    await load();
    const entry = entryDir();
    const record = JSON.parse(readFileSync(join(entry, 'entry.json'), 'utf8')) as { resident: { name: string; dtype: string; dims: number[]; length: number }[] };
    assert.equal(record.resident.length, 1, 'the one conv filter');
    const [filter] = record.resident;
    assert.equal(filter!.dtype, 'float32');
    // NCHWc reorders the filter into blocks of 8 or 16 output channels: 16 × 16 × 3 × 3 floats either way.
    assert.equal(filter!.length, 16 * 16 * 9 * 4);
    const graph = onnx.ModelProto.decode(readFileSync(join(entry, OPTIMIZED_MODEL_FILE))).graph!;
    assert.ok(graph.input!.some((input) => input.name === filter!.name), 'a graph input');
    assert.ok(!graph.initializer!.some((tensor) => tensor.name === filter!.name), 'no longer an initializer');
    const session = await ModelSession.create(modelPath, { intraOpThreads: 1, optimizedModels: root });
    try {
      assert.equal(session.source, 'cache');
      assert.deepEqual([...session.inputNames].sort(), ['m', 'x'], 'callers see the model\'s own inputs');
      assert.deepEqual((await session.run(feeds)).y, expected, 'bit-identical to the model');
      await assert.rejects(session.run({ ...feeds, [filter!.name]: float32(filter!.dims, new Float32Array(16 * 16 * 9)) }), /unknown feed/);
    } finally {
      await session.release();
    }
  });

  it('whose resident weights lie past the end of its weights file is rebuilt without an error', async () => {
    await load();
    const entry = entryDir();
    const record = JSON.parse(readFileSync(join(entry, 'entry.json'), 'utf8'));
    record.resident[0].offset = record.files.weights.size;
    writeFileSync(join(entry, 'entry.json'), JSON.stringify(record));
    const again = await load();
    assert.equal(again.source, 'built');
    assert.deepEqual(again.y, expected);
    assert.ok(recentRuntimeLog().some((line) => /resident weights do not fit its weights file/.test(line)));
  });

  it('is not used at optimization level disabled (nothing to save)', async () => {
    assert.equal((await load({ optimizedModels: root, optimization: 'disabled' })).source, 'model');
    assert.equal(existsSync(root), false);
  });

  for (const [damage, harm] of [
    ['a truncated weights file', (entry: string) => truncateSync(join(entry, OPTIMIZED_WEIGHTS_FILE), 100)],
    ['a changed model file', (entry: string) => {
      const bytes = readFileSync(join(entry, OPTIMIZED_MODEL_FILE));
      bytes[bytes.length >> 1] ^= 0xff;
      writeFileSync(join(entry, OPTIMIZED_MODEL_FILE), bytes);
    }],
    ['an unreadable entry.json', (entry: string) => writeFileSync(join(entry, 'entry.json'), '{ "format":')],
    ['a missing weights file', (entry: string) => rmSync(join(entry, OPTIMIZED_WEIGHTS_FILE))],
  ] as const) {
    it(`with ${damage} is rebuilt without an error`, async () => {
      await load();
      harm(entryDir());
      const again = await load();
      assert.equal(again.source, 'built');
      assert.deepEqual(again.y, expected);
      assert.equal((await load()).source, 'cache', 'the rebuilt entry is used next time');
      assert.ok(recentRuntimeLog().some((line) => /entry of cached\.onnx was discarded/.test(line)), 'the runtime log says why');
    });
  }

  it('whose graph onnxruntime cannot load (checks pass) is rebuilt without an error', async () => {
    await load();
    const entry = entryDir();
    const garbage = new Uint8Array(readFileSync(join(entry, OPTIMIZED_MODEL_FILE)).length).fill(0x5a);
    writeFileSync(join(entry, OPTIMIZED_MODEL_FILE), garbage);
    // The checks see the file they recorded: only onnxruntime can tell it is not a model.
    const record = JSON.parse(readFileSync(join(entry, 'entry.json'), 'utf8'));
    record.files.model.sha256 = (await import('node:crypto')).createHash('sha256').update(garbage).digest('hex');
    writeFileSync(join(entry, 'entry.json'), JSON.stringify(record));
    const again = await load();
    assert.equal(again.source, 'built');
    assert.deepEqual(again.y, expected);
    assert.ok(recentRuntimeLog().some((line) => /onnxruntime could not load the entry of cached\.onnx/.test(line)));
  });

  it('never uses an entry written by another onnxruntime version', async () => {
    await load();
    const entry = entryDir();
    const record = JSON.parse(readFileSync(join(entry, 'entry.json'), 'utf8'));
    writeFileSync(join(entry, 'entry.json'), JSON.stringify({ ...record, onnxruntime: '1.29.0' }));
    const again = await load();
    assert.equal(again.source, 'built');
    assert.equal(JSON.parse(readFileSync(join(entryDir(), 'entry.json'), 'utf8')).onnxruntime, onnxruntimeVersion());
    // And another version looks for another key in the first place.
    const settings = { backend: 'cpu', graphOptions: {} };
    assert.notEqual(optimizedModelKey(modelPath, { ...settings, onnxruntime: '1.29.0' }).key, optimizedModelKey(modelPath, { ...settings, onnxruntime: onnxruntimeVersion() }).key);
  });

  it('replaces the entry of a model whose weights changed, and drops entries of models that are gone', async () => {
    await load();
    const old = entryDir();
    modelPath = saveTestModel(2); // same file names, new weights
    try {
      const changed = await load();
      assert.equal(changed.source, 'built');
      assert.notDeepEqual(changed.y, expected);
      assert.notEqual(entryDir(), old, 'the stale entry is gone, the new one is the only one');
    } finally {
      modelPath = saveTestModel(1);
    }
    const other = join(dir, 'gone.onnx');
    writeFileSync(other, readFileSync(modelPath));
    const kept = modelPath;
    modelPath = other;
    try {
      assert.equal((await load()).source, 'built');
    } finally {
      modelPath = kept;
    }
    rmSync(other);
    modelPath = saveTestModel(3); // the next entry built prunes
    assert.equal((await load()).source, 'built');
    const sources = readdirSync(root).filter((name) => /^[0-9a-f]{64}$/.test(name)).map((name) => JSON.parse(readFileSync(join(root, name, 'entry.json'), 'utf8')).source);
    assert.deepEqual(sources, [modelPath], 'only the entry of the model that exists is left');
    modelPath = saveTestModel(1);
  });

  it('that cannot be written loads the model as without a cache', async () => {
    writeFileSync(root, 'a file where the cache folder should be');
    const loaded = await load();
    assert.equal(loaded.source, 'model');
    assert.deepEqual(loaded.y, expected);
    assert.ok(recentRuntimeLog().some((line) => /cached\.onnx could not be cached/.test(line)));
  });
});
