// MultiHeadAttention → standard ops: the rewritten model computes the same attention (run on the CPU
// here; test/golden/golden-webgpu.test.ts runs it where it matters, on WebGPU), keeps its external
// weights, and ModelSession applies it only where asked.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { fusedAttention } from '../../app/models/attention.ts';
import { Graph } from '../../app/onnx/graph.ts';
import { onnx } from '../../app/onnx/model-proto.ts';
import { linear } from '../../app/onnx/layers.ts';
import { readWeightsIndex, saveModel } from '../../app/onnx/serialize.ts';
import { withExplicitAttention } from '../../app/runtime/explicit-attention.ts';
import { ModelSession } from '../../app/runtime/onnx-runtime.ts';
import { recentRuntimeLog } from '../../app/runtime/runtime-log.ts';
import { float32 } from '../../app/tensor/tensor.ts';
import { lazy, temporaryDirectory } from '../onnx/run-graph.ts';

function values(count: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state / 2147483648) * 6 - 3;
  });
}

let dir: string;
let modelPath: string;
// q [2, 40, 32] attends over k, v [2, 77, 32] with 4 heads of width 8 (the width WebGPU's fused kernel got wrong).
const feeds = { x: float32([2, 40, 32], values(2 * 40 * 32, 1)), context: float32([2, 77, 32], values(2 * 77 * 32, 2)) };

before(() => {
  dir = temporaryDirectory('afa-attention-');
  const g = new Graph('attention');
  const x = g.input('x', 'float32', [2, 40, 32]);
  const context = g.input('context', 'float32', [2, 77, 32]);
  // A projection weight of 4 KiB is stored externally, so the rewrite must keep external data working.
  const weight = g.weight('to_k.weight', lazy(float32([32, 32], values(32 * 32, 3).map((v) => v / 10))));
  const k = linear(g, context, weight);
  g.output(fusedAttention(g, x, k, context, 4, 32), 'y');
  modelPath = saveModel(g, { dir, modelFile: 'attention.onnx', weightsFile: 'attention.weights' }).modelPath;
  assert.equal(readWeightsIndex(modelPath).entries.size, 1, 'the projection weight is external');
});

after(() => rmSync(dir, { recursive: true, force: true }));

it('replaces every MultiHeadAttention node by standard ops and drops the contrib domain', () => {
  const result = withExplicitAttention(readFileSync(modelPath));
  assert.ok(result);
  assert.equal(result.rewritten, 1);
  const model = onnx.ModelProto.decode(result.bytes);
  const ops = (model.graph?.node ?? []).map((node) => node.opType);
  assert.ok(!ops.includes('MultiHeadAttention'));
  assert.deepEqual(ops.filter((op) => op === 'MatMul' || op === 'Softmax'), ['MatMul', 'MatMul', 'Softmax', 'MatMul']);
  assert.ok(!(model.opsetImport ?? []).some((entry) => entry.domain === 'com.microsoft'));
  assert.equal(withExplicitAttention(result.bytes), undefined, 'nothing left to rewrite');
});

it('computes the same attention as the fused kernel', async () => {
  const fused = await ModelSession.create(modelPath, { intraOpThreads: 1 });
  const explicit = await ModelSession.create(modelPath, { intraOpThreads: 1, fusedAttention: false });
  try {
    const a = (await fused.run(feeds)).y!.data as Float32Array;
    const b = (await explicit.run(feeds)).y!.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst < 2e-6, `max |fused − explicit| = ${worst}`);
    assert.ok(recentRuntimeLog().some((line) => line.includes('attention.onnx on cpu, 1 MultiHeadAttention node(s) as standard ops')));
  } finally {
    await fused.release();
    await explicit.release();
  }
});
