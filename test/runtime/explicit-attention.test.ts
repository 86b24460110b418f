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

it('takes a float16 graph’s scores through the scale and softmax in float32', async () => {
  const g = new Graph('attention16', { computeDtype: 'float16' });
  const x = g.computeInput('x', [2, 40, 32]);
  const context = g.computeInput('context', [2, 77, 32]);
  const k = linear(g, context, g.weight('to_k.weight', lazy(float32([32, 32], values(32 * 32, 3).map((v) => v / 10)))));
  g.output(fusedAttention(g, x, k, context, 4, 32), 'y');
  const path = saveModel(g, { dir, modelFile: 'attention16.onnx', weightsFile: 'attention16.weights' }).modelPath;
  const result = withExplicitAttention(readFileSync(path));
  assert.ok(result);
  const nodes = onnx.ModelProto.decode(result.bytes).graph?.node ?? [];
  const softmax = nodes.find((node) => node.opType === 'Softmax')!;
  const widen = nodes.find((node) => node.output?.[0] === nodes.find((n) => n.opType === 'Mul' && n.output?.[0] === softmax.input?.[0])?.input?.[0]);
  assert.equal(widen?.opType, 'Cast', 'the scores are cast before the scale');
  assert.equal(Number(widen?.attribute?.[0]?.i), onnx.TensorProto.DataType.FLOAT);
  const narrow = nodes.find((node) => node.input?.[0] === softmax.output?.[0]);
  assert.equal(narrow?.opType, 'Cast', 'the probabilities return to float16 before the mix');
  assert.equal(Number(narrow?.attribute?.[0]?.i), onnx.TensorProto.DataType.FLOAT16);

  // Both forms run, and agree with the float32 graph within float16's rounding.
  const reference = await ModelSession.create(modelPath, { intraOpThreads: 1 });
  const fused = await ModelSession.create(path, { intraOpThreads: 1 });
  const explicit = await ModelSession.create(path, { intraOpThreads: 1, fusedAttention: false });
  try {
    const expected = (await reference.run(feeds)).y!.data as Float32Array;
    for (const session of [fused, explicit]) {
      const output = (await session.run(feeds)).y!;
      assert.equal(output.dtype, 'float32', 'a float16 graph still answers in float32');
      let worst = 0;
      let largest = 0;
      for (let i = 0; i < expected.length; i++) {
        worst = Math.max(worst, Math.abs((output.data as Float32Array)[i]! - expected[i]!));
        largest = Math.max(largest, Math.abs(expected[i]!));
      }
      assert.ok(worst > 0 && worst < 4e-3 * largest, `max |float16 − float32| = ${worst} of ${largest}`);
    }
  } finally {
    await Promise.all([reference.release(), fused.release(), explicit.release()]);
  }
});
