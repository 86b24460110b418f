// Each op, built by the toolkit, saved with external weights and run in onnxruntime, against the plain
// TypeScript references in reference.ts, on seeded random shapes (odd sizes included).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Graph, type Value } from '../../app/onnx/graph.ts';
import * as op from '../../app/onnx/ops.ts';
import { float32, int64, type Tensor } from '../../app/tensor/tensor.ts';
import * as ref from './reference.ts';
import { f32, lazy, runGraph } from './run-graph.ts';

/** The inferred static shape must agree with what onnxruntime produced. */
function assertInferredShape(value: Value, tensor: Tensor): void {
  assert.ok(value.shape, `no shape inferred for ${value.name}`);
  assert.equal(value.shape.length, tensor.shape.length, `rank of ${value.name}`);
  value.shape.forEach((dim, index) => {
    if (typeof dim === 'number') assert.equal(dim, tensor.shape[index], `dim ${index} of ${value.name}`);
  });
}

async function runOne(g: Graph, y: Value, feeds: Record<string, Tensor>): Promise<Tensor> {
  g.output(y, 'y');
  const { y: out } = await runGraph(g, feeds);
  assertInferredShape(y, out);
  return out;
}

describe('conv', () => {
  const cases = [
    { name: '3x3 pad 1', n: 1, c: 5, h: 9, w: 7, m: 6, k: [3, 3], stride: [1, 1], pads: [1, 1, 1, 1], dilation: [1, 1], groups: 1 },
    { name: 'stride 2, asymmetric pads (SD downsample)', n: 2, c: 4, h: 11, w: 8, m: 3, k: [3, 3], stride: [2, 2], pads: [0, 0, 1, 1], dilation: [1, 1], groups: 1 },
    { name: '1x1 projection', n: 1, c: 7, h: 5, w: 3, m: 9, k: [1, 1], stride: [1, 1], pads: [0, 0, 0, 0], dilation: [1, 1], groups: 1 },
    { name: 'groups 2, dilation 2, rectangular kernel', n: 1, c: 6, h: 13, w: 10, m: 4, k: [3, 2], stride: [1, 2], pads: [2, 1, 0, 2], dilation: [2, 2], groups: 2 },
    { name: 'depthwise', n: 2, c: 3, h: 6, w: 6, m: 3, k: [3, 3], stride: [1, 1], pads: [1, 1, 1, 1], dilation: [1, 1], groups: 3 },
  ];
  for (const [index, spec] of cases.entries()) {
    it(spec.name, async () => {
      const random = ref.rng(100 + index);
      const xShape = [spec.n, spec.c, spec.h, spec.w];
      const wShape = [spec.m, spec.c / spec.groups, ...spec.k];
      const x = ref.randomArray(random, ref.product(xShape));
      const weight = ref.randomArray(random, ref.product(wShape), 0.5);
      const bias = ref.randomArray(random, spec.m);
      const g = new Graph('conv');
      const input = g.input('x', 'float32', xShape);
      const y = op.conv(g, input, g.weight('w', lazy(f32(wShape, weight))), g.weight('b', lazy(f32([spec.m], bias))), {
        strides: spec.stride,
        pads: [spec.pads[0], spec.pads[1], spec.pads[2], spec.pads[3]],
        dilations: spec.dilation,
        group: spec.groups,
      });
      const out = await runOne(g, y, { x: f32(xShape, x) });
      const expected = ref.conv2d(x, xShape, weight, wShape, bias, { stride: spec.stride, pads: spec.pads, dilation: spec.dilation, groups: spec.groups });
      assert.deepEqual(out.shape, expected.shape);
      ref.assertClose(out.data as Float32Array, expected.data, 1e-5);
    });
  }
});

describe('matMul and gemm', () => {
  it('batched activations times a 2-D weight, and 4-D batched products', async () => {
    const random = ref.rng(7);
    const [b, m, k, n] = [2, ref.randomInt(random, 3, 9), ref.randomInt(random, 5, 17), ref.randomInt(random, 2, 11)];
    const a = ref.randomArray(random, b * m * k);
    const w = ref.randomArray(random, k * n);
    const g = new Graph('matmul');
    const y = op.matMul(g, g.input('a', 'float32', [b, m, k]), g.weight('w', lazy(f32([k, n], w))));
    const out = await runOne(g, y, { a: f32([b, m, k], a) });
    ref.assertClose(out.data as Float32Array, ref.matmul(a, [b, m, k], w, [k, n]).data);

    const q = ref.randomArray(random, 2 * 3 * m * k);
    const kt = ref.randomArray(random, 2 * 3 * k * n);
    const g4 = new Graph('matmul4');
    const y4 = op.matMul(g4, g4.input('q', 'float32', [2, 3, m, k]), g4.input('k', 'float32', [2, 3, k, n]));
    const out4 = await runOne(g4, y4, { q: f32([2, 3, m, k], q), k: f32([2, 3, k, n], kt) });
    ref.assertClose(out4.data as Float32Array, ref.matmul(q, [2, 3, m, k], kt, [2, 3, k, n]).data);
  });

  it('gemm with transB, alpha, beta and a broadcast bias', async () => {
    const random = ref.rng(8);
    const [m, k, n] = [5, 13, 7];
    const a = ref.randomArray(random, m * k);
    const bT = ref.randomArray(random, n * k);
    const c = ref.randomArray(random, n);
    const g = new Graph('gemm');
    const y = op.gemm(g, g.input('a', 'float32', [m, k]), g.weight('b', lazy(f32([n, k], bT))), g.weight('c', lazy(f32([n], c))), { transB: true, alpha: 0.5, beta: 2 });
    const out = await runOne(g, y, { a: f32([m, k], a) });
    const b = ref.transpose(bT, [n, k], [1, 0]).data;
    const product = ref.matmul(a, [m, k], b, [k, n]).data;
    const expected = product.map((value, index) => 0.5 * value + 2 * c[index % n]);
    ref.assertClose(out.data as Float32Array, expected);
  });
});

describe('elementwise', () => {
  const binary: [string, (g: Graph, a: Value, b: Value) => Value, (x: number, y: number) => number][] = [
    ['add', op.add, (x, y) => x + y],
    ['sub', op.sub, (x, y) => x - y],
    ['mul', op.mul, (x, y) => x * y],
    ['div', op.div, (x, y) => x / y],
    ['pow', op.pow, (x, y) => Math.abs(x) ** y],
  ];
  for (const [name, build, fn] of binary) {
    it(`${name} broadcasts [2, 1, 5, 3] with [4, 1, 3]`, async () => {
      const random = ref.rng(name.length * 31);
      const [aShape, bShape] = [[2, 1, 5, 3], [4, 1, 3]];
      let a = ref.randomArray(random, ref.product(aShape));
      const b = ref.randomArray(random, ref.product(bShape)).map((v) => (name === 'div' ? v + Math.sign(v) * 0.5 : v));
      if (name === 'pow') a = a.map(Math.abs);
      const g = new Graph(name);
      const y = build(g, g.input('a', 'float32', aShape), g.input('b', 'float32', bShape));
      const out = await runOne(g, y, { a: f32(aShape, a), b: f32(bShape, b) });
      const expected = ref.broadcast(a, aShape, b, bShape, fn);
      assert.deepEqual(out.shape, expected.shape);
      ref.assertClose(out.data as Float32Array, expected.data);
    });
  }

  it('a plain number operand becomes a scalar of the other dtype', async () => {
    const g = new Graph('scalar');
    const x = g.input('x', 'float32', [3]);
    const y = op.sub(g, 1, op.mul(g, x, 0.5));
    const out = await runOne(g, y, { x: float32([3], [2, 4, -6]) });
    assert.deepEqual([...(out.data as Float32Array)], [0, -1, 4]);
  });

  const unary: [string, (g: Graph, x: Value) => Value, (x: number) => number, number][] = [
    ['sqrt', op.sqrt, Math.sqrt, 1],
    ['neg', op.neg, (x) => -x, 3],
    ['sigmoid', op.sigmoid, ref.sigmoid, 6],
    ['tanh', op.tanh, Math.tanh, 4],
    ['erf', op.erf, ref.erf, 3],
    ['sin', op.sin, Math.sin, 7],
    ['cos', op.cos, Math.cos, 7],
    ['exp', op.exp, Math.exp, 3],
    ['gelu (exact)', op.gelu, ref.gelu, 5],
  ];
  for (const [name, build, fn, scale] of unary) {
    it(name, async () => {
      const random = ref.rng(name.charCodeAt(0) * 17 + name.length);
      const shape = [3, 5, 7];
      let x = ref.randomArray(random, ref.product(shape), scale);
      if (name === 'sqrt') x = x.map(Math.abs);
      const g = new Graph(name);
      const out = await runOne(g, build(g, g.input('x', 'float32', shape)), { x: f32(shape, x) });
      ref.assertClose(out.data as Float32Array, x.map(fn));
    });
  }
});

describe('softmax and reductions', () => {
  for (const axis of [-1, 1]) {
    it(`softmax along axis ${axis}`, async () => {
      const random = ref.rng(20 + axis);
      const shape = [2, 5, 9];
      const x = ref.randomArray(random, ref.product(shape), 4);
      const g = new Graph('softmax');
      const out = await runOne(g, op.softmax(g, g.input('x', 'float32', shape), axis), { x: f32(shape, x) });
      ref.assertClose(out.data as Float32Array, ref.softmax(x, shape, axis));
    });
  }

  it('reduceMean keeping dims and reduceSum dropping them', async () => {
    const random = ref.rng(30);
    const shape = [2, 3, 5, 7];
    const x = ref.randomArray(random, ref.product(shape));
    const g = new Graph('reduce');
    const input = g.input('x', 'float32', shape);
    const mean = op.reduceMean(g, input, [2, 3], true);
    const sum = op.reduceSum(g, input, [1], false);
    g.output(mean, 'mean');
    g.output(sum, 'sum');
    const out = await runGraph(g, { x: f32(shape, x) });
    assertInferredShape(mean, out.mean);
    assertInferredShape(sum, out.sum);
    const expectedMean = new Float32Array(6);
    const expectedSum = new Float32Array(2 * 35);
    for (let i = 0; i < x.length; i++) {
      const [n, c, rest] = [Math.floor(i / 105), Math.floor(i / 35) % 3, i % 35];
      expectedMean[n * 3 + c] += x[i] / 35;
      expectedSum[n * 35 + rest] += x[i];
    }
    ref.assertClose(out.mean.data as Float32Array, expectedMean);
    ref.assertClose(out.sum.data as Float32Array, expectedSum);
  });
});

describe('normalization', () => {
  it('layerNorm over the last axis with scale and bias', async () => {
    const random = ref.rng(40);
    const shape = [2, 7, 19];
    const x = ref.randomArray(random, ref.product(shape), 3);
    const scale = ref.randomArray(random, 19);
    const bias = ref.randomArray(random, 19);
    const g = new Graph('layernorm');
    const y = op.layerNorm(g, g.input('x', 'float32', shape), g.weight('s', lazy(f32([19], scale))), g.weight('b', lazy(f32([19], bias))), { epsilon: 1e-5 });
    const out = await runOne(g, y, { x: f32(shape, x) });
    ref.assertClose(out.data as Float32Array, ref.layerNorm(x, 19, scale, bias, 1e-5));
  });
});

describe('shape manipulation', () => {
  it('reshape with 0, -1 and symbolic dims, then transpose', async () => {
    const random = ref.rng(50);
    const x = ref.randomArray(random, 2 * 6 * 5);
    const g = new Graph('reshape');
    const input = g.input('x', 'float32', ['batch', 6, 5]);
    const r = op.reshape(g, input, ['batch', 3, -1]);
    assert.deepEqual(r.shape, ['batch', 3, 10]);
    const y = op.transpose(g, r, [2, 0, 1]);
    assert.deepEqual(y.shape, [10, 'batch', 3]);
    const out = await runOne(g, y, { x: f32([2, 6, 5], x) });
    ref.assertClose(out.data as Float32Array, ref.transpose(x, [2, 3, 10], [2, 0, 1]).data, 0);
  });

  it('concat, split and slice with steps and negative bounds', async () => {
    const random = ref.rng(51);
    const a = ref.randomArray(random, 2 * 3 * 4);
    const b = ref.randomArray(random, 2 * 5 * 4);
    const g = new Graph('concat');
    const joined = op.concat(g, [g.input('a', 'float32', [2, 3, 4]), g.input('b', 'float32', [2, 5, 4])], 1);
    const [first, second] = op.split(g, joined, [6, 2], 1);
    const sliced = op.slice(g, first, [1, -1], [Number.MAX_SAFE_INTEGER, 0], [1, 2], [2, -1]);
    g.output(second, 'second');
    g.output(sliced, 'sliced');
    const out = await runGraph(g, { a: f32([2, 3, 4], a), b: f32([2, 5, 4], b) });
    assertInferredShape(second, out.second);
    assertInferredShape(sliced, out.sliced);
    const at = (n: number, row: number, col: number) => (row < 3 ? a[(n * 3 + row) * 4 + col] : b[(n * 5 + row - 3) * 4 + col]);
    const expectedSecond: number[] = [];
    for (let n = 0; n < 2; n++) for (let row = 6; row < 8; row++) for (let col = 0; col < 4; col++) expectedSecond.push(at(n, row, col));
    // rows 1, 3, 5 of the first part; columns 3, 2, 1 (from -1 down to, not including, 0).
    const expectedSliced: number[] = [];
    for (let n = 0; n < 2; n++) for (const row of [1, 3, 5]) for (const col of [3, 2, 1]) expectedSliced.push(at(n, row, col));
    assert.deepEqual(out.sliced.shape, [2, 3, 3]);
    ref.assertClose(out.second.data as Float32Array, expectedSecond, 0);
    ref.assertClose(out.sliced.data as Float32Array, expectedSliced, 0);
  });

  it('resizeNearest ×2 matches F.interpolate(mode="nearest") on odd sizes', async () => {
    const random = ref.rng(52);
    const shape = [1, 3, 5, 7];
    const x = ref.randomArray(random, ref.product(shape));
    const g = new Graph('resize');
    const out = await runOne(g, op.resizeNearest(g, g.input('x', 'float32', shape), 2), { x: f32(shape, x) });
    const expected = ref.resizeNearest(x, shape, 2);
    assert.deepEqual(out.shape, expected.shape);
    ref.assertClose(out.data as Float32Array, expected.data, 0);
  });

  it('resizeNearestLike takes the spatial size of another tensor, as F.interpolate(size=…) (U-Net upsampler onto an odd skip)', async () => {
    const random = ref.rng(53);
    const shape = [1, 2, 2, 4];
    const x = ref.randomArray(random, ref.product(shape));
    const g = new Graph('resize_like');
    const like = g.input('like', 'float32', [1, 5, 3, 7]);
    const resized = op.resizeNearestLike(g, g.input('x', 'float32', shape), like);
    assert.deepEqual(resized.shape, [1, 2, 3, 7]);
    const out = await runOne(g, resized, { x: f32(shape, x), like: f32([1, 5, 3, 7], new Float32Array(105)) });
    const expected = ref.resizeNearestTo(x, shape, 3, 7);
    assert.deepEqual(out.shape, expected.shape);
    ref.assertClose(out.data as Float32Array, expected.data, 0);
  });

  it('unsqueeze, squeeze, expand, gather and shape', async () => {
    const g = new Graph('gather');
    const x = g.input('x', 'float32', [3, 4]);
    const table = op.gather(g, x, g.constant(int64([2, 2], [2, 0, 1, 1])), 0);
    const lifted = op.unsqueeze(g, x, [0, -1]);
    assert.deepEqual(lifted.shape, [1, 3, 4, 1]);
    const expanded = op.expand(g, op.squeeze(g, lifted, [0]), [2, 3, 4, 5]);
    const dims = op.shape(g, expanded, 1);
    g.output(table, 'table');
    g.output(expanded, 'expanded');
    g.output(dims, 'dims');
    const data = Float32Array.from({ length: 12 }, (_, i) => i);
    const out = await runGraph(g, { x: f32([3, 4], data) });
    assertInferredShape(table, out.table);
    assertInferredShape(expanded, out.expanded);
    assert.deepEqual([...(out.table.data as Float32Array)], [8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7]);
    assert.deepEqual(out.expanded.shape, [2, 3, 4, 5]);
    assert.equal((out.expanded.data as Float32Array)[2 * 60 - 1], 11);
    assert.deepEqual([...(out.dims.data as BigInt64Array)], [3n, 4n, 5n]);
  });

  it('cast, where and range', async () => {
    const g = new Graph('where');
    const x = g.input('x', 'float32', [6]);
    const positive = op.cast(g, op.cast(g, op.add(g, x, 0.5), 'int64'), 'bool');
    const y = op.where(g, positive, x, -1);
    const steps = op.range(g, 2, 11, 3);
    g.output(y, 'y');
    g.output(steps, 'steps');
    const out = await runGraph(g, { x: float32([6], [-2, -0.5, -0.25, 0.7, 3, 0]) });
    // Cast float → int64 truncates toward zero: -1.5 → -1 (true), 0 → false, 0.25 → 0 (false), 1.2 → 1.
    assert.deepEqual([...(out.y.data as Float32Array)], [-2, -1, -1, 0.699999988079071, 3, -1]);
    assert.deepEqual([...(out.steps.data as BigInt64Array)], [2n, 5n, 8n]);
    assertInferredShape(steps, out.steps);
  });
});
