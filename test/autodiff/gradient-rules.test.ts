// Every rule of app/autodiff/gradient-rules.ts against central finite differences (harness and the
// precision/tolerance rules: test/autodiff/finite-differences.ts), on small odd shapes, with
// broadcasting and the attribute variants the SD1.x, CLIP, VAE and aggregator graphs use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph as GraphClass, type Graph, type Value } from '../../app/onnx/graph.ts';
import { appendBackward } from '../../app/autodiff/backward.ts';
import {
  add, cast, concat, conv, cos, div, erf, exp, expand, gather, gelu, gemm, instanceNormalization, layerNorm, log, matMul, mul, neg,
  pow, reduceMean, reduceSum, relu, reshape, resizeNearest, sigmoid, sin, slice, softmax, split, sqrt, squeeze, sub, tanh, transpose,
  unsqueeze, where, identity,
} from '../../app/onnx/ops.ts';
import { groupNorm } from '../../app/onnx/layers.ts';
import { fusedAttention } from '../../app/models/attention.ts';
import { GRADIENT_RULES } from '../../app/autodiff/gradient-rules.ts';
import { checkGradients, type CheckOptions, type InputSpec } from './finite-differences.ts';
import { int64, tensor } from '../../app/tensor/tensor.ts';
import { saveModel } from '../../app/onnx/serialize.ts';
import { ModelSession } from '../../app/runtime/onnx-runtime.ts';
import { rng } from '../onnx/reference.ts';

const F64: CheckOptions = { precision: 'float64' };
const F32: CheckOptions = { precision: 'float32' };
const tested = new Set<string>();

function rule(op: string, name: string, build: (g: Graph, v: Record<string, Value>) => Value, specs: readonly InputSpec[], options: CheckOptions = F64): void {
  tested.add(op);
  test(`gradient of ${op}: ${name}`, async (t) => {
    const report = await checkGradients(build, specs, options);
    t.diagnostic(`worst ${report.worstRatio.toFixed(3)} of tolerance, max |error| ${report.worstAbsolute.toExponential(2)} over ${report.checked} elements`);
  });
}

const x = (shape: number[], extra: Partial<InputSpec> = {}): InputSpec => ({ name: 'x', shape, ...extra });
const w = (shape: number[], extra: Partial<InputSpec> = {}): InputSpec => ({ name: 'w', shape, ...extra });
const b = (shape: number[], extra: Partial<InputSpec> = {}): InputSpec => ({ name: 'b', shape, ...extra });

rule('Add', 'broadcast [3,1] onto [2,3,5]', (g, v) => add(g, v.x!, v.w!), [x([2, 3, 5]), w([3, 1])]);
rule('Sub', 'rank-1 minus rank-3', (g, v) => sub(g, v.w!, v.x!), [x([2, 3, 5]), w([5])]);
rule('Mul', 'both broadcast', (g, v) => mul(g, v.x!, v.w!), [x([2, 1, 5]), w([3, 1])]);
rule('Mul', 'a value times itself', (g, v) => mul(g, v.x!, v.x!), [x([3, 4])]);
rule('Div', 'broadcast denominator', (g, v) => div(g, v.x!, v.w!), [x([2, 3, 5]), w([3, 1], { positive: true })]);
rule('Pow', 'tensor base, tensor exponent', (g, v) => pow(g, v.x!, v.w!), [x([3, 4], { positive: true }), w([4], { scale: 0.5 })]);
rule('Pow', 'constant exponent', (g, v) => pow(g, v.x!, 0.5), [x([3, 5], { positive: true })]);
rule('Neg', 'plain', (g, v) => neg(g, v.x!), [x([3, 5])]);
rule('Identity', 'plain', (g, v) => identity(g, v.x!), [x([3, 5])]);
rule('Cast', 'float64 → float32 → float64', (g, v) => cast(g, cast(g, v.x!, 'float32'), 'float64'), [x([3, 5])], F32);
rule('Sqrt', 'positive', (g, v) => sqrt(g, v.x!), [x([3, 5], { positive: true })]);
rule('Exp', 'plain', (g, v) => exp(g, v.x!), [x([3, 5])]);
rule('Log', 'positive', (g, v) => log(g, v.x!), [x([3, 5], { positive: true })]);
rule('Sin', 'plain', (g, v) => sin(g, v.x!), [x([3, 5])]);
rule('Cos', 'plain', (g, v) => cos(g, v.x!), [x([3, 5])]);
rule('Tanh', 'plain', (g, v) => tanh(g, v.x!), [x([3, 5])]);
rule('Sigmoid', 'plain', (g, v) => sigmoid(g, v.x!), [x([2, 7])]);
rule('Mul', 'SiLU = x·sigmoid x (one rule)', (g, v) => mul(g, v.x!, sigmoid(g, v.x!)), [x([2, 7])]);
rule('Mul', 'SiLU with the sigmoid also used elsewhere, operands swapped', (g, v) => { const s = sigmoid(g, v.x!); return add(g, mul(g, s, v.x!), mul(g, s, v.w!)); }, [x([2, 7]), w([2, 7])]);
rule('Relu', 'plain', (g, v) => relu(g, v.x!), [x([4, 5])]);
rule('Clip', 'both bounds', (g, v) => g.node({ op: 'Clip', inputs: [v.x!, g.scalar(-0.5, 'float64'), g.scalar(0.7, 'float64')], outputs: [{ dtype: 'float64', shape: v.x!.shape }] })[0]!, [x([4, 5])]);
rule('Erf', 'float32 kernel', (g, v) => erf(g, v.x!), [x([3, 5])], F32);
rule('Gelu', 'exact (GEGLU)', (g, v) => mul(g, v.w!, gelu(g, v.x!)), [x([2, 3, 5]), w([2, 3, 5])], F32);
rule('Softmax', 'last axis', (g, v) => softmax(g, v.x!, -1), [x([2, 3, 5])]);
rule('Softmax', 'axis 1 (expert weights)', (g, v) => softmax(g, v.x!, 1), [x([2, 3, 4, 2])]);
rule('ReduceSum', 'keepdims', (g, v) => reduceSum(g, v.x!, [1], true), [x([2, 3, 5])]);
rule('ReduceSum', 'no keepdims, two axes', (g, v) => reduceSum(g, v.x!, [0, 2], false), [x([2, 3, 5])]);
rule('ReduceMean', 'keepdims, negative axis', (g, v) => reduceMean(g, v.x!, [-1], true), [x([2, 3, 5])]);
rule('ReduceMean', 'all axes to a scalar', (g, v) => reduceMean(g, v.x!, [0, 1, 2], false), [x([2, 3, 5])]);
rule('MatMul', 'batched activation × 2-D weight', (g, v) => matMul(g, v.x!, v.w!), [x([2, 3, 5]), w([5, 4])]);
rule('MatMul', '4-D batched (attention)', (g, v) => matMul(g, v.x!, v.w!), [x([2, 3, 4, 5]), w([2, 3, 5, 6])]);
rule('MatMul', 'broadcast batch axes', (g, v) => matMul(g, v.x!, v.w!), [x([2, 1, 3, 5]), w([3, 5, 2])]);
rule('Gemm', 'transB, alpha, beta, bias', (g, v) => gemm(g, v.x!, v.w!, v.b!, { transB: true, alpha: 0.7, beta: 1.3 }), [x([3, 5]), w([4, 5]), b([4])]);
rule('Gemm', 'transA', (g, v) => gemm(g, v.x!, v.w!, undefined, { transA: true }), [x([5, 3]), w([5, 4])]);
rule('Conv', '3×3, pad 1, bias, odd 7×5 (ResNet conv)', (g, v) => conv(g, v.x!, v.w!, v.b!, { pads: 1 }), [x([2, 3, 7, 5]), w([4, 3, 3, 3]), b([4])], F32);
rule('Conv', '3×3, stride 2, pad 1 (Downsample2D), odd input', (g, v) => conv(g, v.x!, v.w!, v.b!, { pads: 1, strides: 2 }), [x([2, 3, 7, 6]), w([4, 3, 3, 3]), b([4])], F32);
rule('Conv', '1×1 with bias (proj_in, conv_in of aggregators)', (g, v) => conv(g, v.x!, v.w!, v.b!), [x([2, 6, 3, 5]), w([4, 6, 1, 1]), b([4])], F32);
rule('Conv', '1×1 without bias (conv_out of aggregators)', (g, v) => conv(g, v.x!, v.w!), [x([2, 5, 3, 3]), w([3, 5, 1, 1])], F32);
rule('Conv', '3×3 stride 2 without padding (VAE encoder downsample after Pad)', (g, v) => conv(g, v.x!, v.w!, v.b!, { strides: 2 }), [x([1, 2, 8, 7]), w([3, 2, 3, 3]), b([3])], F32);
// Frozen filters the backward copies (BackwardOptions.filterCopyBytes): dx as a Conv of dy with the
// transposed, spatially reversed filter instead of a ConvTranspose; uneven kernels and pads check the
// flip's axes and the padding k − 1 − p.
const frozenFilter = (g: Graph, shape: number[], seed: number): Value => {
  let state = seed;
  const data = Float32Array.from({ length: shape.reduce((a, c) => a * c, 1) }, () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5);
  return g.constant(tensor('float32', shape, data));
};
const COPIED: CheckOptions = { ...F32, backward: () => ({ filterCopyBytes: Number.POSITIVE_INFINITY }) };
rule('Conv', '3×3, pad 1, frozen filter: dx as a Conv on its copy', (g, v) => conv(g, v.x!, frozenFilter(g, [4, 3, 3, 3], 7), v.b!, { pads: 1 }), [x([2, 3, 7, 5]), b([4])], COPIED);
rule('Conv', '3×2 kernel, pads [0, 1, 2, 0], frozen filter: dx as a Conv on its copy', (g, v) => conv(g, v.x!, frozenFilter(g, [2, 3, 3, 2], 11), undefined, { pads: [0, 1, 2, 0] }), [x([1, 3, 6, 5])], COPIED);
rule('LayerNormalization', 'last axis, scale and bias', (g, v) => layerNorm(g, v.x!, v.w!, v.b!, { epsilon: 1e-5 }), [x([2, 3, 6]), w([6]), b([6])]);
rule('InstanceNormalization', 'scale and bias per channel', (g, v) => instanceNormalization(g, v.x!, v.w!, v.b!, 1e-5), [x([2, 3, 4, 5]), w([3]), b([3])], F32);
rule('InstanceNormalization', 'GroupNorm as built (groups of channels, per-channel affine)', (g, v) => groupNorm(g, v.x!, 2, v.w!, v.b!, 1e-6), [x([2, 4, 3, 5]), w([4]), b([4])], F32);
rule('com.microsoft:MultiHeadAttention', 'self-attention, 2 heads', (g, v) => fusedAttention(g, v.x!, v.w!, v.b!, 2, 6), [x([2, 5, 6]), w([2, 5, 6]), b([2, 5, 6])], F32);
rule('com.microsoft:MultiHeadAttention', 'cross-attention, 3 heads, 7 context tokens', (g, v) => fusedAttention(g, v.x!, v.w!, v.b!, 3, 6), [x([1, 4, 6]), w([1, 7, 6]), b([1, 7, 6])], F32);
rule('Reshape', 'split heads', (g, v) => reshape(g, v.x!, [0, 0, 2, 3]), [x([2, 5, 6])]);
rule('Transpose', 'non-involutive permutation', (g, v) => transpose(g, v.x!, [2, 0, 1]), [x([2, 3, 4])]);
rule('Unsqueeze', 'two axes', (g, v) => mul(g, unsqueeze(g, v.x!, [2, 3]), v.w!), [x([2, 3]), w([2, 3, 4, 5])]);
rule('Squeeze', 'one axis', (g, v) => squeeze(g, v.x!, [1]), [x([3, 1, 4])]);
rule('Expand', 'to more axes', (g, v) => expand(g, v.x!, [2, 3, 4]), [x([3, 1])]);
rule('Concat', 'channel axis (skip connections)', (g, v) => concat(g, [v.x!, v.w!], 1), [x([2, 3, 4]), w([2, 2, 4])]);
rule('Split', 'GEGLU halves, both used', (g, v) => { const [a, c] = split(g, v.x!, [3, 3], -1); return mul(g, a!, c!); }, [x([2, 4, 6])]);
rule('Split', 'one piece unused', (g, v) => split(g, v.x!, [2, 3], 1)[1]!, [x([2, 5, 3])]);
rule('Slice', 'a window on two axes', (g, v) => slice(g, v.x!, [1, 0], [3, -1], [0, 2]), [x([4, 3, 5])]);
rule('Resize', 'nearest ×2 (Upsample2D), odd size', (g, v) => resizeNearest(g, v.x!, 2), [x([1, 2, 3, 5])], F32);
rule('Resize', 'nearest to an explicit size (3 → 7)', (g, v) =>
  g.node({ op: 'Resize', inputs: [v.x!, undefined, undefined, g.constant(int64([4], [1, 2, 7, 6]))], outputs: [{ dtype: 'float32', shape: [1, 2, 7, 6] }], attrs: { mode: { type: 'string', value: 'nearest' }, coordinate_transformation_mode: { type: 'string', value: 'asymmetric' }, nearest_mode: { type: 'string', value: 'floor' } } })[0]!,
  [x([1, 2, 3, 4])], F32);
rule('Where', 'broadcast branches', (g, v) => where(g, v.c!, v.x!, v.w!), [{ name: 'c', shape: [2, 3], fixed: tensor('bool', [2, 3], Uint8Array.of(1, 0, 1, 1, 0, 0)) }, x([2, 3]), w([3])]);
rule('Gather', 'embedding lookup with a repeated id', (g, v) => gather(g, v.x!, v.i!, 0), [x([6, 4]), { name: 'i', shape: [2, 3], fixed: int64([2, 3], [5, 0, 2, 2, 1, 5]) }]);

test('every op of the table has a finite-difference test', () => {
  const missing = Object.keys(GRADIENT_RULES).filter((op) => !tested.has(op) && op !== 'Flatten');
  assert.deepEqual(missing, [], `rules without a test: ${missing.join(', ')}`);
});

test('filter copies: the budget goes to the convolutions with the most output positions; a shared filter is paid once', () => {
  const g = new GraphClass('flip_budget');
  const input = g.input('x', 'float32', [1, 4, 16, 16]);
  const wide = frozenFilter(g, [4, 4, 3, 3], 3); // 576 bytes, used at 16×16 and again at 16×16
  const narrow = frozenFilter(g, [4, 4, 3, 3], 5); // used at 8×8 (after a stride-2 conv)
  const a = conv(g, input, wide, undefined, { pads: 1 });
  const c = conv(g, a, wide, undefined, { pads: 1 });
  const down = conv(g, c, frozenFilter(g, [4, 4, 3, 3], 9), undefined, { pads: 1, strides: 2 });
  const d = conv(g, down, narrow, undefined, { pads: 1 });
  const loss = reduceSum(g, d, [0, 1, 2, 3], false);
  const { stats } = appendBackward(g, loss, [input], { filterCopyBytes: 4 * 4 * 9 * 4 });
  // The 16×16 pair shares one copy; the 8×8 one has no room left; the stride-2 one never qualifies.
  assert.equal(stats.convolutionsOnCopies, 2);
  assert.equal(stats.filterCopyBytes, 576);
  const backwardOps = g.nodes.filter((node) => node.name.startsWith('backward/')).map((node) => node.op);
  assert.equal(backwardOps.filter((op) => op === 'ConvTranspose').length, 2, 'the 8×8 and the stride-2 convolutions keep ConvTranspose');
  assert.equal(g.nodes.filter((node) => node.op === 'Transpose' && node.name.includes('filter_copy')).length, 1, 'one copy of the shared filter');
});

test('the gradient of Gather over thousands of repeated ids is the in-order sum exactly, the same on every run with 2 threads', async () => {
  // A batch of captions repeats token ids everywhere. onnxruntime's CPU ScatterND-add (this rule's first
  // form) split the updates over threads and lost adds where two threads met on one row: 19 different
  // results in 20 runs, off by up to 14 against sums of about ±3.
  const rows = 64;
  const width = 64;
  const count = 4928; // 64 captions × 77 tokens
  const g = new GraphClass('gather_repeats');
  const table = g.input('table', 'float32', [rows, width]);
  const ids = g.input('ids', 'int64', [count]);
  const weight = g.input('w', 'float32', [count, width]);
  const loss = reduceSum(g, mul(g, gather(g, table, ids, 0), weight), [0, 1], false);
  g.output(appendBackward(g, loss, [table]).gradients.get('table')!, 'grad');
  const random = rng(7);
  const idData = BigInt64Array.from({ length: count }, (_, i) => BigInt(i % 7 === 0 ? 0 : Math.floor(random() * rows)));
  const wData = Float32Array.from({ length: count * width }, () => random() - 0.5);
  const expected = new Float32Array(rows * width);
  for (let i = 0; i < count; i++) {
    const row = Number(idData[i]);
    for (let j = 0; j < width; j++) expected[row * width + j] = Math.fround(expected[row * width + j]! + wData[i * width + j]!);
  }
  const dir = mkdtempSync(join(tmpdir(), 'afa-gather-grad-'));
  try {
    const saved = saveModel(g, { dir, modelFile: 'model.onnx', weightsFile: 'weights.bin' });
    const session = await ModelSession.create(saved.modelPath, { intraOpThreads: 2 });
    try {
      for (let run = 0; run < 5; run++) {
        const out = await session.run({
          table: { dtype: 'float32', shape: [rows, width], data: new Float32Array(rows * width) },
          ids: { dtype: 'int64', shape: [count], data: idData },
          w: { dtype: 'float32', shape: [count, width], data: wData },
        });
        assert.deepEqual(out.grad!.data, expected, `run ${run + 1}`);
      }
    } finally {
      await session.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
