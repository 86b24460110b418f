// SessionCache with real onnxruntime sessions: LRU eviction within the budget, pinning, shared creation.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Graph } from '../../app/onnx/graph.ts';
import * as op from '../../app/onnx/ops.ts';
import { saveModel } from '../../app/onnx/serialize.ts';
import { ModelSession } from '../../app/runtime/onnx-runtime.ts';
import { estimateSessionBytes, SessionCache } from '../../app/runtime/session-cache.ts';
import { float32 } from '../../app/tensor/tensor.ts';
import { f32, lazy, temporaryDirectory } from '../onnx/run-graph.ts';

let dir: string;
const models: string[] = [];

before(() => {
  dir = temporaryDirectory('afa-cache-');
  for (const [index, storeAs] of (['float32', 'float16', 'float32'] as const).entries()) {
    const g = new Graph(`m${index}`);
    const w = g.weight('w', lazy(f32([1000], new Float32Array(1000).fill(index + 1))), { storeAs });
    g.output(op.mul(g, g.input('x', 'float32', [1000]), w), 'y');
    models.push(saveModel(g, { dir, modelFile: `m${index}.onnx`, weightsFile: `m${index}.weights` }).modelPath);
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('estimateSessionBytes', () => {
  it('counts external weights, float16 twice (cast to float32 in the session)', () => {
    const [fp32, fp16] = [estimateSessionBytes(models[0]), estimateSessionBytes(models[1])];
    assert.ok(fp32 >= 4000 && fp32 < 5000, `${fp32}`);
    assert.ok(fp16 >= 4000 && fp16 < 5000, `${fp16}`);
  });

  it('counts a float16-compute graph at its float16 size, whatever its weights are stored in', () => {
    for (const [index, storeAs] of (['float32', 'float16'] as const).entries()) {
      const g = new Graph(`half${index}`, { computeDtype: 'float16' });
      const w = g.weight('w', lazy(f32([1000], new Float32Array(1000).fill(1))), { storeAs });
      g.output(op.mul(g, g.computeInput('x', [1000]), w), 'y');
      const path = saveModel(g, { dir, modelFile: `half${index}.onnx`, weightsFile: `half${index}.weights` }).modelPath;
      const size = estimateSessionBytes(path);
      assert.ok(size >= 2000 && size < 3000, `${storeAs} weights: ${size}`);
    }
  });
});

describe('SessionCache', () => {
  const open = (index: number, created: ModelSession[]) => async () => {
    const session = await ModelSession.create(models[index], { intraOpThreads: 1 });
    created.push(session);
    return session;
  };

  it('releases the least recently used sessions to stay within the budget', async () => {
    const created: ModelSession[] = [];
    const size = estimateSessionBytes(models[0]);
    const cache = new SessionCache<ModelSession>({ budgetBytes: size * 2.5 });
    const a = await cache.get('a', size, open(0, created));
    const b = await cache.get('b', size, open(1, created));
    assert.equal(await cache.get('a', size, open(0, created)), a, 'a hit returns the same session');
    assert.deepEqual(cache.keys(), ['b', 'a']);
    const c = await cache.get('c', size, open(2, created));
    assert.deepEqual(cache.keys(), ['a', 'c']);
    assert.equal(b.released, true, 'b was least recently used');
    assert.equal(a.released, false);
    assert.equal(created.length, 3);
    assert.ok(cache.usedBytes <= size * 2.5);
    const { y } = await c.run({ x: float32([1000], new Float32Array(1000).fill(2)) });
    assert.equal((y.data as Float32Array)[0], 6);
    await cache.clear();
    assert.equal(a.released && c.released, true);
    assert.equal(cache.usedBytes, 0);
  });

  it('a session larger than the budget is loaded alone', async () => {
    const created: ModelSession[] = [];
    const cache = new SessionCache<ModelSession>({ budgetBytes: 100 });
    await cache.get('a', 1000, open(0, created));
    await cache.get('b', 1000, open(1, created));
    assert.deepEqual(cache.keys(), ['b']);
    assert.equal(created[0].released, true);
    await cache.clear();
  });

  it('does not release a session while it is in use, and shares one creation between concurrent gets', async () => {
    const created: ModelSession[] = [];
    const cache = new SessionCache<ModelSession>({ budgetBytes: 1500 });
    const [first, second] = await Promise.all([cache.get('a', 1000, open(0, created)), cache.get('a', 1000, open(0, created))]);
    assert.equal(first, second);
    assert.equal(created.length, 1);
    const result = await cache.use('a', 1000, open(0, created), async (session) => {
      await cache.get('b', 1000, open(1, created)); // evicts 'a' from the cache while it runs
      assert.equal(cache.has('a'), false);
      assert.equal(session.released, false, 'pinned: still usable');
      return session.run({ x: float32([1000], new Float32Array(1000).fill(1)) });
    });
    assert.equal((result.y.data as Float32Array)[0], 1);
    assert.equal(created[0].released, true, 'released once unpinned');
    await cache.clear();
  });

  it('a failed creation is not cached', async () => {
    const cache = new SessionCache<ModelSession>({ budgetBytes: 10_000 });
    await assert.rejects(cache.get('broken', 10, () => ModelSession.create(`${dir}/missing.onnx`)), /does not exist/);
    assert.equal(cache.has('broken'), false);
  });
});
