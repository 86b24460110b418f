// Saving with external weights: fp16 storage with casts, in-place file regions, weights files shared by
// several graphs, aligned offsets, atomic and cancellable saves, and how onnxruntime 1.30 resolves
// external-data locations (the rules app/onnx/README.md states).
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CancelledError, EngineError, UserError } from '../../app/common/errors.ts';
import { Graph } from '../../app/onnx/graph.ts';
import { encodeModel, externalInitializers, onnx } from '../../app/onnx/model-proto.ts';
import * as op from '../../app/onnx/ops.ts';
import { IR_VERSION, OPSET } from '../../app/onnx/opset.ts';
import { INLINE_LIMIT, readWeightsIndex, saveModel, saveModels, WEIGHT_ALIGNMENT } from '../../app/onnx/serialize.ts';
import { ModelSession } from '../../app/runtime/onnx-runtime.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import type { LazyTensor } from '../../app/tensor/weights.ts';
import * as ref from './reference.ts';
import { f32, lazy, temporaryDirectory } from './run-graph.ts';

const roots: string[] = [];
function scratch(): string {
  const dir = temporaryDirectory('afa-serialize-');
  roots.push(dir);
  return dir;
}
after(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

async function run(modelPath: string, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const session = await ModelSession.create(modelPath, { intraOpThreads: 1 });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** A LazyTensor whose bytes sit in `path` at `offset`; reading it is a test failure (it must stay in place). */
function inFile(path: string, offset: number, shape: number[], dtype: 'float32' | 'float16' = 'float32'): LazyTensor {
  const length = ref.product(shape) * (dtype === 'float32' ? 4 : 2);
  return {
    dtype,
    shape,
    region: { path, offset, length },
    read: () => assert.fail('a weight referenced in place was read'),
  };
}

/** y = x·w + b for x [rows, k], with the weights given. */
function affineGraph(name: string, w: LazyTensor, b: LazyTensor, options: { storeAs?: 'float16' | 'float32' } = {}): Graph {
  const g = new Graph(name);
  const x = g.input('x', 'float32', ['rows', w.shape[0]]);
  g.output(op.add(g, op.matMul(g, x, g.weight('w', w, options)), g.weight('b', b, options)), 'y');
  return g;
}

function expectedAffine(x: Float32Array, rows: number, w: Float32Array, k: number, n: number, b: Float32Array): Float32Array {
  return ref.matmul(x, [rows, k], w, [k, n]).data.map((v, i) => v + b[i % n]);
}

describe('saveModel', () => {
  it('writes an opset/IR-stamped model and a weights file with aligned offsets', async () => {
    const dir = scratch();
    const random = ref.rng(1);
    const [k, n] = [40, 30]; // 4800 bytes: external; the bias (120 bytes) stays inline
    const w = ref.randomArray(random, k * n);
    const b = ref.randomArray(random, n);
    const w2 = ref.randomArray(random, n * n);
    const g = new Graph('aligned');
    const x = g.input('x', 'float32', ['rows', k]);
    const h = op.add(g, op.matMul(g, x, g.weight('w', lazy(f32([k, n], w)))), g.weight('b', lazy(f32([n], b))));
    g.output(op.matMul(g, h, g.weight('w2', lazy(f32([n, n], w2)))), 'y');
    const saved = saveModel(g, { dir, modelFile: 'm.onnx', weightsFile: 'm.weights' });

    const model = onnx.ModelProto.decode(readFileSync(saved.modelPath));
    assert.equal(Number(model.irVersion), IR_VERSION);
    assert.deepEqual(model.opsetImport.map((entry) => [entry.domain, Number(entry.version)]), [['', OPSET]]);
    const external = externalInitializers(readFileSync(saved.modelPath));
    assert.deepEqual(external.map((entry) => entry.name).sort(), ['w', 'w2']);
    for (const entry of external) {
      assert.equal(entry.location, 'm.weights');
      assert.equal(entry.offset % WEIGHT_ALIGNMENT, 0, `${entry.name} offset ${entry.offset}`);
    }
    assert.ok(n * 4 < INLINE_LIMIT);
    assert.equal(statSync(join(dir, 'm.weights')).size, WEIGHT_ALIGNMENT * 2 + n * n * 4);
    assert.deepEqual(readdirSync(dir).sort(), ['m.onnx', 'm.weights']);

    const input = ref.randomArray(random, 3 * k);
    const { y } = await run(saved.modelPath, { x: f32([3, k], input) });
    const hidden = expectedAffine(input, 3, w, k, n, b);
    ref.assertClose(y.data as Float32Array, ref.matmul(hidden, [3, n], w2, [n, n]).data);
  });

  it('stores weights as float16 with a Cast to float32 compute', async () => {
    const dir = scratch();
    const random = ref.rng(2);
    const [k, n] = [32, 24];
    const w = ref.randomArray(random, k * n);
    const b = ref.randomArray(random, n);
    const saved = saveModel(affineGraph('half', lazy(f32([k, n], w)), lazy(f32([n], b)), { storeAs: 'float16' }), { dir, modelFile: 'm.onnx', weightsFile: 'm.weights' });
    const external = externalInitializers(readFileSync(saved.modelPath));
    assert.equal(external.find((entry) => entry.name === 'w')?.dataType, onnx.TensorProto.DataType.FLOAT16);
    assert.equal(external.find((entry) => entry.name === 'w')?.length, k * n * 2);
    const x = ref.randomArray(random, 2 * k);
    const { y } = await run(saved.modelPath, { x: f32([2, k], x) });
    // fp16 storage rounds each weight by ≤ 2^-11 relative: compare loosely with the fp32 result.
    ref.assertClose(y.data as Float32Array, expectedAffine(x, 2, w, k, n, b), 5e-3);
    const rounded = Float32Array.from(w, (v) => Math.fround(roundToHalf(v)));
    const roundedBias = Float32Array.from(b, (v) => Math.fround(roundToHalf(v)));
    ref.assertClose(y.data as Float32Array, expectedAffine(x, 2, rounded, k, n, roundedBias), 1e-5);
  });

  it('references a file region in place, in the model directory or hard-linked from elsewhere', async () => {
    const dir = scratch();
    const random = ref.rng(3);
    const [k, n] = [20, 16];
    const w = ref.randomArray(random, k * n);
    const b = ref.randomArray(random, n);
    // A checkpoint-like file: an odd-sized header, then the two tensors back to back (unaligned offsets).
    const header = new Uint8Array(123).fill(7);
    const store = join(dir, 'store');
    mkdirSync(store);
    const checkpoint = join(store, 'model.safetensors');
    writeFileSync(checkpoint, Buffer.concat([header, new Uint8Array(w.buffer), new Uint8Array(b.buffer)]));
    const wRegion = inFile(checkpoint, 123, [k, n]);
    const bRegion = { ...inFile(checkpoint, 123 + k * n * 4, [n]), read: () => f32([n], b) }; // small: inline

    // Saved next to the checkpoint: a plain relative location, no weights file.
    const local = saveModel(affineGraph('local', wRegion, bRegion), { dir: store, modelFile: 'local.onnx', weightsFile: 'local.weights' });
    assert.equal(local.weightsPath, undefined);
    assert.deepEqual(readdirSync(store).sort(), ['local.onnx', 'model.safetensors']);
    assert.deepEqual(externalInitializers(readFileSync(local.modelPath)).map((e) => [e.location, e.offset, e.length]), [['model.safetensors', 123, k * n * 4]]);

    // Saved in another directory: onnxruntime refuses paths that leave the model's directory, so the
    // file is hard-linked in (same inode: no copy).
    const compiled = join(dir, 'compiled');
    const linked = saveModel(affineGraph('linked', wRegion, bRegion), { dir: compiled, modelFile: 'linked.onnx' });
    const [entry] = externalInitializers(readFileSync(linked.modelPath));
    assert.match(entry.location, /^linked-[0-9a-f]{12}-model\.safetensors$/);
    assert.equal(statSync(join(compiled, entry.location)).ino, statSync(checkpoint).ino);

    const x = ref.randomArray(random, 4 * k);
    const expected = expectedAffine(x, 4, w, k, n, b);
    for (const path of [local.modelPath, linked.modelPath]) {
      const { y } = await run(path, { x: f32([4, k], x) });
      ref.assertClose(y.data as Float32Array, expected);
    }
    // Saving again reuses the link.
    saveModel(affineGraph('linked', wRegion, bRegion), { dir: compiled, modelFile: 'linked.onnx' });
    assert.equal(readdirSync(compiled).filter((name) => name.startsWith('linked-')).length, 1);
  });

  it('a region in another dtype than stored is converted and written, not referenced', async () => {
    const dir = scratch();
    const half = Uint16Array.from({ length: 600 }, (_, i) => 0x3c00 + (i % 64)); // 1 … 1.0615
    const source: LazyTensor = { dtype: 'float16', shape: [600], region: { path: '/nonexistent', offset: 0, length: 1200 }, read: () => ({ dtype: 'float16', shape: [600], data: half }) };
    const g = new Graph('convert');
    const x = g.input('x', 'float32', [600]);
    g.output(op.mul(g, x, g.weight('w', source, { storeAs: 'float32' })), 'y');
    const saved = saveModel(g, { dir, modelFile: 'm.onnx', weightsFile: 'm.weights' });
    assert.equal(externalInitializers(readFileSync(saved.modelPath))[0].location, 'm.weights');
    const { y } = await run(saved.modelPath, { x: f32([600], new Float32Array(600).fill(1)) });
    assert.equal((y.data as Float32Array)[63], 1 + 63 / 1024);
  });
});

describe('weights shared by several graphs', () => {
  it('saveModels writes the union of the weights once; a later save reuses them by index', async () => {
    const dir = scratch();
    const random = ref.rng(4);
    const [k, n] = [24, 24];
    const w = ref.randomArray(random, k * n);
    const b = ref.randomArray(random, n);
    const w2 = ref.randomArray(random, n * n);
    const sources = { w: lazy(f32([k, n], w)), b: lazy(f32([n], b)), w2: lazy(f32([n, n], w2)) };
    const whole = new Graph('whole');
    const x = whole.input('x', 'float32', ['rows', k]);
    const h = op.add(whole, op.matMul(whole, x, whole.weight('w', sources.w)), whole.weight('b', sources.b));
    whole.output(op.matMul(whole, h, whole.weight('w2', sources.w2)), 'y');
    const layer = affineGraph('layer', sources.w, sources.b);

    const progress: number[] = [];
    const saved = saveModels(
      [
        { graph: whole, modelFile: 'whole.onnx' },
        { graph: layer, modelFile: 'layer.onnx' },
      ],
      { dir, weightsFile: 'unet.weights', onProgress: (p) => progress.push(p.done) },
    );
    assert.deepEqual(readdirSync(dir).sort(), ['layer.onnx', 'unet.weights', 'whole.onnx']);
    assert.equal(sources.w.reads, 1, 'a shared weight is written once');
    assert.deepEqual(progress, [k * n * 4, k * n * 4 + n * n * 4]);
    const layerEntries = externalInitializers(readFileSync(join(dir, 'layer.onnx')));
    const wholeEntries = externalInitializers(readFileSync(join(dir, 'whole.onnx')));
    assert.deepEqual(layerEntries.find((e) => e.name === 'w'), wholeEntries.find((e) => e.name === 'w'));
    assert.equal(saved.weights.entries.size, 2);

    // Later (another process): compile one more graph against the existing file, writing nothing.
    const weightsBefore = statSync(join(dir, 'unet.weights'));
    const index = readWeightsIndex(join(dir, 'whole.onnx'));
    const lateWeight = lazy(f32([n, n], w2));
    const lateSaved = saveModel(affineGraph('late', lateWeight, lazy(f32([n], b))), { dir, modelFile: 'late.onnx', sharedWeights: index });
    assert.equal(lateSaved.weightsPath, undefined);
    assert.equal(lateWeight.reads, 0);
    assert.equal(statSync(join(dir, 'unet.weights')).mtimeMs, weightsBefore.mtimeMs);
    assert.equal(externalInitializers(readFileSync(lateSaved.modelPath))[0].location, 'unet.weights');

    const input = ref.randomArray(random, 2 * k);
    const hidden = expectedAffine(input, 2, w, k, n, b);
    ref.assertClose((await run(join(dir, 'layer.onnx'), { x: f32([2, k], input) })).y.data as Float32Array, hidden);
    ref.assertClose((await run(join(dir, 'whole.onnx'), { x: f32([2, k], input) })).y.data as Float32Array, ref.matmul(hidden, [2, n], w2, [n, n]).data);
    // 'late' used the index's 'w' (the first layer's weight) under the name w: x·w + b.
    ref.assertClose((await run(lateSaved.modelPath, { x: f32([2, k], input) })).y.data as Float32Array, hidden);
  });

  it('refuses two graphs saved together that mean different tensors by one weight name', () => {
    const dir = scratch();
    const a = affineGraph('a', lazy(f32([16, 16], new Float32Array(256))), lazy(f32([16], new Float32Array(16))));
    const b = affineGraph('b', lazy(f32([32, 16], new Float32Array(512))), lazy(f32([16], new Float32Array(16))));
    assert.throws(
      () => saveModels([{ graph: a, modelFile: 'a.onnx' }, { graph: b, modelFile: 'b.onnx' }], { dir, weightsFile: 'shared.weights' }),
      /Weight 'w' is 'w' float32 \[16, 16\] in one graph and 'w' float32 \[32, 16\] in another/,
    );
    assert.deepEqual(readdirSync(dir), []);
  });

  it('refuses a shared weight of another shape, and weights with nowhere to go', () => {
    const dir = scratch();
    const g = affineGraph('a', lazy(f32([16, 16], new Float32Array(256))), lazy(f32([16], new Float32Array(16))));
    const saved = saveModel(g, { dir, modelFile: 'a.onnx', weightsFile: 'a.weights' });
    const other = affineGraph('b', lazy(f32([32, 8], new Float32Array(256))), lazy(f32([8], new Float32Array(8))));
    assert.throws(() => saveModel(other, { dir, modelFile: 'b.onnx', sharedWeights: saved.weights }), (error: Error) => error instanceof UserError && /Weight 'w' float32 \[32, 8\] does not match the shared weights file's 'w' float32 \[16, 16\]/.test(error.message));
    const fresh = affineGraph('c', lazy(f32([64, 8], new Float32Array(512))), lazy(f32([8], new Float32Array(8))));
    assert.throws(() => saveModel(fresh, { dir, modelFile: 'c.onnx' }), /1 weight\(s\) \('w'\) are in no existing file and no weightsFile was given/);
    const extended = affineGraph('d', lazy(f32([16, 16], new Float32Array(256))), lazy(f32([16], new Float32Array(16))));
    extended.output(extended.weight('extra', lazy(f32([512], new Float32Array(512)))), 'extra');
    assert.throws(
      () => saveModel(extended, { dir, modelFile: 'd.onnx', weightsFile: 'a.weights', sharedWeights: saved.weights }),
      (error: Error) => error instanceof UserError && error.code === 'conflict' && /a\.weights is referenced in place by these models and cannot also be rewritten/.test(error.message),
    );
    assert.deepEqual(readdirSync(dir).sort(), ['a.onnx', 'a.weights']);
  });
});

describe('atomic saves', () => {
  function bigGraph(reads: () => void): Graph {
    const g = new Graph('big');
    const x = g.input('x', 'float32', [256]);
    let y = x;
    for (let i = 0; i < 4; i++) {
      const source: LazyTensor = { dtype: 'float32', shape: [256], read: () => (reads(), f32([256], new Float32Array(256).fill(i))) };
      y = op.add(g, y, g.weight(`w${i}`, source));
    }
    g.output(y, 'y');
    return g;
  }

  it('a save cancelled midway leaves no files, and an existing model stays as it was', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'm.onnx'), 'previous model');
    const controller = new AbortController();
    let reads = 0;
    const g = bigGraph(() => {
      reads++;
      if (reads === 2) controller.abort();
    });
    assert.throws(() => saveModel(g, { dir, modelFile: 'm.onnx', weightsFile: 'm.weights', signal: controller.signal }), CancelledError);
    assert.equal(reads, 2);
    assert.deepEqual(readdirSync(dir), ['m.onnx']);
    assert.equal(readFileSync(join(dir, 'm.onnx'), 'utf8'), 'previous model');
  });

  it('a failing weight read leaves no files and removes a directory it created', () => {
    const root = scratch();
    const dir = join(root, 'new', 'compiled');
    const g = bigGraph(() => {
      throw new Error('disk went away');
    });
    assert.throws(() => saveModel(g, { dir, modelFile: 'm.onnx', weightsFile: 'm.weights' }), /disk went away/);
    assert.deepEqual(readdirSync(root), [], 'both directories the save created are gone');
  });
});

describe('onnxruntime 1.30 external-data locations', () => {
  /** A model y = x + w whose 1024-float weight `w` is at `location` (offset 0). */
  function modelWithLocation(modelPath: string, location: string): void {
    const g = new Graph('location');
    g.output(op.add(g, g.input('x', 'float32', [1024]), g.weight('w', inFile('unused', 0, [1024]))), 'y');
    writeFileSync(modelPath, encodeModel(g, new Map([['w', { kind: 'external', location, offset: 0, length: 4096 }]])));
  }

  it('resolves relative to the model directory, subfolders and hard links included; refuses absolute paths, "..", and symlinks out', async () => {
    const root = scratch();
    const [store, compiled] = [join(root, 'store'), join(root, 'compiled')];
    mkdirSync(store);
    mkdirSync(join(compiled, 'sub'), { recursive: true });
    const weights = Float32Array.from({ length: 1024 }, (_, i) => i);
    writeFileSync(join(store, 'w.bin'), weights);
    writeFileSync(join(compiled, 'sub', 'w.bin'), weights);
    linkSync(join(store, 'w.bin'), join(compiled, 'hard.bin'));
    symlinkSync(join(store, 'w.bin'), join(compiled, 'soft.bin'));
    const modelPath = join(compiled, 'm.onnx');
    const outcomes: Record<string, string> = {};
    for (const location of [join(store, 'w.bin'), '../store/w.bin', 'soft.bin', 'sub/w.bin', 'hard.bin']) {
      modelWithLocation(modelPath, location);
      try {
        const { y } = await run(modelPath, { x: f32([1024], new Float32Array(1024)) });
        outcomes[location] = `ok ${(y.data as Float32Array)[1000]}`;
      } catch (error) {
        assert.ok(error instanceof EngineError);
        outcomes[location] = /Absolute path not allowed/.test(error.message) ? 'absolute refused' : /escapes model directory/.test(error.message) ? 'escape refused' : error.message;
      }
    }
    assert.deepEqual(outcomes, {
      [join(store, 'w.bin')]: 'absolute refused',
      '../store/w.bin': 'escape refused',
      'soft.bin': 'escape refused',
      'sub/w.bin': 'ok 1000',
      'hard.bin': 'ok 1000',
    });
  });
});

/** Nearest float16 value of v (round to nearest even), computed independently of app/tensor/half.ts. */
function roundToHalf(v: number): number {
  if (v === 0) return v;
  const exponent = Math.max(Math.floor(Math.log2(Math.abs(v))), -14);
  const quantum = 2 ** (exponent - 10);
  const scaled = v / quantum;
  const floor = Math.floor(scaled);
  const rest = scaled - floor;
  const rounded = rest > 0.5 || (rest === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
  return rounded * quantum;
}
