// The onnxruntime wrapper: backends, feed checks that name every problem, tensor conversion per dtype.
import assert from 'node:assert/strict';
import { platform } from 'node:os';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { EngineError, UserError } from '../../app/common/errors.ts';
import { Graph } from '../../app/onnx/graph.ts';
import * as op from '../../app/onnx/ops.ts';
import { saveModel } from '../../app/onnx/serialize.ts';
import { createSession, listBackends, ModelSession } from '../../app/runtime/onnx-runtime.ts';
import { float32, int64, type Tensor } from '../../app/tensor/tensor.ts';
import { temporaryDirectory } from '../onnx/run-graph.ts';

let dir: string;
let modelPath: string;
let identityPath: string;

before(() => {
  dir = temporaryDirectory('afa-runtime-');
  const g = new Graph('feeds');
  const latents = g.input('latents', 'float32', ['batch', 4, 8, 8]);
  const timestep = g.input('timestep', 'int64', [1]);
  const context = g.input('context', 'float32', ['batch', 77, 16]);
  const scaled = op.mul(g, latents, op.cast(g, timestep, 'float32'));
  g.output(op.add(g, scaled, op.unsqueeze(g, op.reduceMean(g, context, [1, 2], false), [1, 2, 3])), 'sum');
  g.output(op.reduceSum(g, latents, [1, 2, 3], false), 'total');
  modelPath = saveModel(g, { dir, modelFile: 'feeds.onnx', weightsFile: 'feeds.weights' }).modelPath;

  const passthrough = new Graph('identity');
  for (const dtype of ['float32', 'float16', 'int64', 'int32', 'bool', 'uint8'] as const) {
    passthrough.output(op.identity(passthrough, passthrough.input(`in_${dtype}`, dtype, [2, 3])), `out_${dtype}`);
  }
  identityPath = saveModel(passthrough, { dir, modelFile: 'identity.onnx' }).modelPath;
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('backends', () => {
  it('lists every backend with availability; cpu is always there', () => {
    const backends = listBackends();
    assert.deepEqual(backends.map((entry) => entry.backend), ['cpu', 'webgpu', 'cuda', 'dml', 'coreml']);
    assert.equal(backends.find((entry) => entry.backend === 'cpu')?.available, true);
    for (const entry of backends) assert.equal(entry.available, entry.reason === undefined, `${entry.backend} has a reason exactly when unavailable`);
    if (platform() !== 'win32') assert.match(backends.find((entry) => entry.backend === 'dml')?.reason ?? '', /only on Windows/);
    if (platform() !== 'darwin') assert.match(backends.find((entry) => entry.backend === 'coreml')?.reason ?? '', /only on macOS/);
  });

  it('asking for an unavailable provider names the available ones', async () => {
    const unavailable = listBackends().find((entry) => !entry.available);
    assert.ok(unavailable, 'some provider is unavailable on every platform (dml or coreml)');
    const available = listBackends().filter((entry) => entry.available).map((entry) => entry.backend);
    await assert.rejects(ModelSession.create(modelPath, { backend: unavailable.backend }), (error: Error) => {
      assert.ok(error instanceof UserError);
      assert.equal(error.code, 'unsupported');
      assert.match(error.message, new RegExp(`'${unavailable.backend}' execution provider is not available`));
      assert.ok(error.message.includes(`Available here: ${available.join(', ')}.`), error.message);
      return true;
    });
  });

  it('a missing model file is a not-found UserError', async () => {
    await assert.rejects(createSession(join(dir, 'nope.onnx')), (error: Error) => error instanceof UserError && error.code === 'not-found');
  });
});

describe('ModelSession.run', () => {
  it('runs with symbolic dims and returns app tensors', async () => {
    const session = await createSession(modelPath, { intraOpThreads: 1 });
    try {
      assert.deepEqual(session.inputNames, ['latents', 'timestep', 'context']);
      const out = await session.run({
        latents: float32([2, 4, 8, 8], new Float32Array(512).fill(1)),
        timestep: int64([1], [3]),
        context: float32([2, 77, 16], new Float32Array(2 * 77 * 16).fill(0.5)),
      });
      assert.deepEqual(out.sum.shape, [2, 4, 8, 8]);
      assert.equal((out.sum.data as Float32Array)[0], 3.5);
      assert.deepEqual([...(out.total.data as Float32Array)], [256, 256]);
      const only = await session.run(
        { latents: float32([1, 4, 8, 8]), timestep: int64([1], [1]), context: float32([1, 77, 16]) },
        ['total'],
      );
      assert.deepEqual(Object.keys(only), ['total']);
    } finally {
      await session.release();
    }
  });

  it('names every missing feed, wrong dtype, wrong shape and unknown feed at once', async () => {
    const session = await createSession(modelPath, { intraOpThreads: 1 });
    try {
      await assert.rejects(
        session.run({ latents: float32([2, 4, 8]), timestep: float32([1]), noise: float32([1]) }),
        (error: Error) => {
          assert.ok(error instanceof UserError);
          assert.match(error.message, /feed 'latents' has shape \[2, 4, 8\], expected float32 \[batch, 4, 8, 8\]/);
          assert.match(error.message, /feed 'timestep' is float32 \[1\], expected int64 \[1\]/);
          assert.match(error.message, /missing feed 'context' \(float32 \[batch, 77, 16\]\)/);
          assert.match(error.message, /unknown feed 'noise'/);
          return true;
        },
      );
      await assert.rejects(
        session.run({ latents: float32([1, 4, 9, 8]), timestep: int64([1], [1]), context: float32([1, 77, 16]) }),
        /feed 'latents' has shape \[1, 4, 9, 8\], expected float32 \[batch, 4, 8, 8\]/,
      );
      await assert.rejects(
        session.run({ latents: float32([1, 4, 8, 8]), timestep: int64([1], [1]), context: float32([1, 77, 16]) }, ['nope']),
        /Unknown outputs 'nope'.*The model's outputs are: sum, total/s,
      );
    } finally {
      await session.release();
    }
  });

  it('converts float32, float16, int64, int32, bool and uint8 both ways', async () => {
    const session = await createSession(identityPath, { intraOpThreads: 1 });
    const feeds: Record<string, Tensor> = {
      in_float32: { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1.5, -2, 0, 3, 4, 5]) },
      in_float16: { dtype: 'float16', shape: [2, 3], data: Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00]) },
      in_int64: { dtype: 'int64', shape: [2, 3], data: BigInt64Array.from([1n, -2n, 2n ** 40n, 0n, 5n, -(2n ** 62n)]) },
      in_int32: { dtype: 'int32', shape: [2, 3], data: Int32Array.from([1, -2, 2 ** 30, 0, 5, -7]) },
      in_bool: { dtype: 'bool', shape: [2, 3], data: Uint8Array.from([1, 0, 1, 1, 0, 0]) },
      in_uint8: { dtype: 'uint8', shape: [2, 3], data: Uint8Array.from([0, 255, 7, 8, 9, 10]) },
    };
    try {
      const out = await session.run(feeds);
      for (const [name, tensor] of Object.entries(feeds)) {
        const result = out[name.replace('in_', 'out_')];
        assert.equal(result.dtype, tensor.dtype);
        assert.deepEqual(result.shape, [2, 3]);
        assert.equal(result.data.constructor, tensor.data.constructor, `${name} array type`);
        assert.deepEqual([...(result.data as ArrayLike<number | bigint> & Iterable<number | bigint>)], [...(tensor.data as Iterable<number | bigint>)]);
      }
    } finally {
      await session.release();
    }
  });

  it('gives the same results without weight prepacking', async () => {
    const feeds = { latents: float32([1, 4, 8, 8], new Float32Array(256).fill(2)), timestep: int64([1], [5]), context: float32([1, 77, 16], new Float32Array(77 * 16).fill(1)) };
    const results: Tensor[] = [];
    for (const prepackWeights of [true, false]) {
      const session = await createSession(modelPath, { intraOpThreads: 1, prepackWeights });
      results.push((await session.run(feeds)).sum);
      await session.release();
    }
    assert.deepEqual(results[0], results[1]);
    assert.equal((results[0].data as Float32Array)[0], 11);
  });

  it('feeds in shared memory reach the inference thread and each run sees their current values', async () => {
    const session = await ModelSession.create(modelPath, { intraOpThreads: 1, memoryPattern: false });
    try {
      const latents = new Float32Array(new SharedArrayBuffer(256 * 4)).fill(2);
      // Not float32(): it copies into an ordinary array.
      const feeds = { latents: { dtype: 'float32' as const, shape: [1, 4, 8, 8], data: latents }, timestep: int64([1], [5]), context: float32([1, 77, 16], new Float32Array(77 * 16).fill(1)) };
      const plain = await session.run({ ...feeds, latents: float32([1, 4, 8, 8], new Float32Array(256).fill(2)) });
      assert.deepEqual(await session.run(feeds), plain);
      // Changed in place between runs (as the optimizer changes parameters): the next run reads the new values.
      latents.fill(3);
      const changed = await session.run(feeds);
      assert.equal((changed.sum.data as Float32Array)[0], 16);
      assert.equal((changed.total.data as Float32Array)[0], 768);
    } finally {
      await session.release();
    }
  });

  it('large outputs come back whole from the inference thread, a fresh buffer per run', async () => {
    const session = await ModelSession.create(modelPath, { intraOpThreads: 1 });
    try {
      // 80 × 4 × 8 × 8 floats = 80 KB: moved rather than copied.
      const batch = 80;
      const feeds = (value: number) => ({ latents: float32([batch, 4, 8, 8], new Float32Array(batch * 256).fill(value)), timestep: int64([1], [2]), context: float32([batch, 77, 16], new Float32Array(batch * 77 * 16)) });
      const first = (await session.run(feeds(1))).sum;
      const second = (await session.run(feeds(2))).sum;
      assert.equal(first.data.length, batch * 256);
      assert.ok((first.data as Float32Array).every((v) => v === 2));
      assert.ok((second.data as Float32Array).every((v) => v === 4));
      assert.notEqual(first.data.buffer, second.data.buffer);
    } finally {
      await session.release();
    }
  });

  it('refuses to run after release, and releasing twice is harmless', async () => {
    const session = await createSession(modelPath, { intraOpThreads: 1, optimization: 'basic', config: { 'session.disable_prepacking': '1' } });
    await session.release();
    await session.release();
    assert.equal(session.released, true);
    await assert.rejects(session.run({}), (error: Error) => error instanceof EngineError && /was released/.test(error.message));
  });
});
