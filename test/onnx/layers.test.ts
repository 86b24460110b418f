// Composite blocks against the PyTorch module definitions (reference.ts), run in onnxruntime.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Graph } from '../../app/onnx/graph.ts';
import { groupNorm, linear, silu } from '../../app/onnx/layers.ts';
import * as ref from './reference.ts';
import { f32, lazy, runGraph } from './run-graph.ts';

describe('groupNorm', () => {
  const cases = [
    { shape: [2, 12, 5, 7], groups: 4, eps: 1e-5, affine: true },
    { shape: [1, 9, 3, 11], groups: 3, eps: 1e-6, affine: true },
    { shape: [3, 6, 13], groups: 2, eps: 1e-5, affine: false },
    { shape: [1, 32, 4, 4], groups: 32, eps: 1e-5, affine: true },
  ];
  for (const [index, { shape, groups, eps, affine }] of cases.entries()) {
    it(`[${shape.join(', ')}] in ${groups} groups${affine ? '' : ', no affine'}`, async () => {
      const random = ref.rng(60 + index);
      // An offset and a spread per channel make the mean/variance matter.
      const x = ref.randomArray(random, ref.product(shape), 3).map((v, i) => v + (Math.floor(i / ref.product(shape.slice(2))) % shape[1]) * 0.7);
      const scale = ref.randomArray(random, shape[1]);
      const bias = ref.randomArray(random, shape[1]);
      const g = new Graph('groupnorm');
      const input = g.input('x', 'float32', shape);
      const y = affine
        ? groupNorm(g, input, groups, g.weight('s', lazy(f32([shape[1]], scale))), g.weight('b', lazy(f32([shape[1]], bias))), eps)
        : groupNorm(g, input, groups, undefined, undefined, eps);
      assert.deepEqual(y.shape, shape);
      g.output(y, 'y');
      const { y: out } = await runGraph(g, { x: f32(shape, x) });
      assert.deepEqual(out.shape, shape);
      const expected = affine ? ref.groupNorm(x, shape, groups, scale, bias, eps) : ref.groupNorm(x, shape, groups, undefined, undefined, eps);
      ref.assertClose(out.data as Float32Array, expected, 1e-5);
    });
  }

  it('keeps symbolic dims and runs at any batch and size', async () => {
    const g = new Graph('groupnorm-symbolic');
    const y = groupNorm(g, g.input('x', 'float32', ['batch', 8, 'height', 'width']), 2);
    assert.deepEqual(y.shape, ['batch', 8, 'height', 'width']);
    g.output(y, 'y');
    const random = ref.rng(70);
    const shape = [2, 8, 3, 5];
    const x = ref.randomArray(random, ref.product(shape));
    const { y: out } = await runGraph(g, { x: f32(shape, x) });
    ref.assertClose(out.data as Float32Array, ref.groupNorm(x, shape, 2), 1e-5);
  });

  it('rejects channels that do not split into the groups, naming the input', () => {
    const g = new Graph('bad');
    assert.throws(() => groupNorm(g, g.input('x', 'float32', [1, 10, 4, 4]), 4), /10 channels do not split into 4 groups[\s\S]*'x' float32 \[1, 10, 4, 4\]/);
  });
});

describe('silu and linear', () => {
  it('silu is x·sigmoid(x)', async () => {
    const random = ref.rng(80);
    const x = ref.randomArray(random, 40, 6);
    const g = new Graph('silu');
    g.output(silu(g, g.input('x', 'float32', [4, 10])), 'y');
    const { y } = await runGraph(g, { x: f32([4, 10], x) });
    ref.assertClose(y.data as Float32Array, x.map((v) => v * ref.sigmoid(v)));
  });

  it('linear matches nn.Linear with a [out, in] weight', async () => {
    const random = ref.rng(81);
    const [tokens, inFeatures, outFeatures] = [7, 33, 10];
    const x = ref.randomArray(random, 2 * tokens * inFeatures);
    const weight = ref.randomArray(random, outFeatures * inFeatures);
    const bias = ref.randomArray(random, outFeatures);
    const g = new Graph('linear');
    const y = linear(g, g.input('x', 'float32', [2, tokens, inFeatures]), g.weight('w', lazy(f32([outFeatures, inFeatures], weight))), g.weight('b', lazy(f32([outFeatures], bias))));
    assert.deepEqual(y.shape, [2, tokens, outFeatures]);
    g.output(y, 'y');
    const { y: out } = await runGraph(g, { x: f32([2, tokens, inFeatures], x) });
    const wT = ref.transpose(weight, [outFeatures, inFeatures], [1, 0]).data;
    const expected = ref.matmul(x, [2, tokens, inFeatures], wT, [inFeatures, outFeatures]).data.map((v, i) => v + bias[i % outFeatures]);
    ref.assertClose(out.data as Float32Array, expected);
  });
});

describe('float16 compute', () => {
  it('groupNorm takes its statistics in float32 and the graph answers in float32', async () => {
    // Values near 300: their squares (9e4) overflow float16's 65504, so float16 statistics would be inf.
    const shape = [1, 8, 4, 4];
    const random = ref.rng(90);
    const x = ref.randomArray(random, ref.product(shape), 3).map((v) => v + 300);
    const scale = ref.randomArray(random, 8);
    const bias = ref.randomArray(random, 8);
    const g = new Graph('groupnorm16', { computeDtype: 'float16' });
    const input = g.computeInput('x', shape);
    assert.equal(input.dtype, 'float16');
    const y = groupNorm(g, input, 2, g.weight('s', lazy(f32([8], scale))), g.weight('b', lazy(f32([8], bias))));
    assert.equal(y.dtype, 'float16');
    const norm = g.nodes.find((node) => node.op === 'InstanceNormalization')!;
    assert.equal(norm.inputs[0]!.dtype, 'float32', 'the statistics are float32');
    g.output(y, 'y');
    assert.equal(g.outputs[0]!.dtype, 'float32');
    const { y: out } = await runGraph(g, { x: f32(shape, x) });
    assert.equal(out.dtype, 'float32');
    // x itself is rounded to float16 on the way in (a step of 0.25 near 300), which moves the
    // normalised values by up to 0.125 / std; the result stays finite and that close.
    ref.assertClose(out.data as Float32Array, ref.groupNorm(x, shape, 2, scale, bias), 0.15);
  });
});
