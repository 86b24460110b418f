// Symbolic dims derived by formula (shapes.ts) and the intermediate shapes the saved model declares
// (value_info, model-proto.ts). onnxruntime's memory planner trusts equal dim names to mean equal sizes,
// so the names must be sound: the last test runs a whole U-Net at a non-square size with every
// intermediate value as an output and checks each declared dim against what onnxruntime produced.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Graph, type Dim } from '../../app/onnx/graph.ts';
import { encodeModel, onnx } from '../../app/onnx/model-proto.ts';
import * as op from '../../app/onnx/ops.ts';
import { groupNorm } from '../../app/onnx/layers.ts';
import { convOutputDim, isUnknownDim, multiplyDims, productDim, reshapeShape, scaledDim } from '../../app/onnx/shapes.ts';
import { saveModel } from '../../app/onnx/serialize.ts';
import { ModelSession } from '../../app/runtime/onnx-runtime.ts';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { buildUnetGraph } from '../../app/models/unet.ts';
import { unetTimestep } from '../../app/models/unet-timestep.ts';
import { goldenDir } from '../models/golden-paths.ts';
import { randomTensor } from '../models/tensor-compare.ts';
import { f32, temporaryDirectory } from './run-graph.ts';

const roots: string[] = [];
after(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

describe('symbolic dims derived by formula', () => {
  it('a same-padded stride-1 convolution keeps the symbol; downsampling names the formula', () => {
    assert.equal(convOutputDim('height', 3, 1, 1, 1, 1), 'height');
    assert.equal(convOutputDim('height', 1, 1, 0, 0, 1), 'height');
    assert.equal(convOutputDim('height', 3, 2, 1, 1, 1), 'ceil(height/2)');
    assert.equal(convOutputDim('ceil(height/2)', 3, 2, 1, 1, 1), 'ceil((ceil(height/2))/2)');
    assert.equal(convOutputDim('height', 3, 1, 0, 0, 1), 'height-2');
    assert.equal(convOutputDim('width', 4, 3, 0, 0, 1), 'floor((width-4)/3)+1');
    assert.equal(convOutputDim(9, 3, 2, 1, 1, 1), 5);
    assert.ok(isUnknownDim(convOutputDim('?7', 3, 1, 1, 1, 1)), 'a formula of an unknown is unknown');
  });

  it('the formulas give the sizes onnxruntime computes', () => {
    const evaluate = (dim: Dim, height: number): number =>
      typeof dim === 'number'
        ? dim
        : (new Function('height', 'ceil', 'floor', `return ${dim};`) as (h: number, c: typeof Math.ceil, f: typeof Math.floor) => number)(height, Math.ceil, Math.floor);
    for (const height of [5, 6, 7, 24, 33]) {
      for (const [kernel, stride, begin, end] of [[3, 2, 1, 1], [3, 1, 0, 0], [4, 3, 0, 0], [2, 2, 0, 1]] as const) {
        assert.equal(evaluate(convOutputDim('height', kernel, stride, begin, end, 1), height), convOutputDim(height, kernel, stride, begin, end, 1));
      }
      assert.equal(evaluate(scaledDim('height', 2), height), 2 * height);
      assert.equal(evaluate(scaledDim('height', 1.5), height), Math.floor(1.5 * height));
    }
  });

  it('products are named with sorted factors, so every order gives the same name', () => {
    assert.equal(productDim(1, ['width', 'height']), 'height*width');
    assert.equal(productDim(10, ['height', 'width']), productDim(5, ['width', 2, 'height']));
    assert.equal(productDim(1, ['ceil(height/2)', 'w']), '(ceil(height/2))*w');
    assert.equal(productDim(3, [4]), 12);
    assert.equal(multiplyDims(1, 'tokens'), 'tokens');
    assert.ok(isUnknownDim(productDim(1, ['?3', 'height'])));
    assert.ok(isUnknownDim(productDim(0.5, ['height'])), 'a fraction of a symbol has no name');
  });

  it('Reshape leftovers: [batch, 320, h, w] → [0, 32, -1] is 10·h·w', () => {
    assert.deepEqual(reshapeShape(['batch', 320, 'h', 'w'], [0, 32, -1]), ['batch', 32, '10*h*w']);
    assert.deepEqual(reshapeShape(['batch', 32, 'h', 'w'], [0, 32, -1]), ['batch', 32, 'h*w']);
    assert.deepEqual(reshapeShape(['batch', 4, 'h', 'w'], [0, 0, -1]), ['batch', 4, 'h*w']);
    assert.ok(isUnknownDim(reshapeShape(['batch', 4, 'h', 'w'], [0, 8, -1])[2]!), '(h·w)/2 has no name');
  });
});

describe('declared intermediate shapes', () => {
  it('every intermediate value is written as value_info with its dims; graph outputs are not repeated', () => {
    const g = new Graph('declared');
    const x = g.input('x', 'float32', ['batch', 4, 'height', 'width']);
    const w = g.constant(f32([8, 4, 3, 3], new Float32Array(288).fill(0.01)));
    const down = op.conv(g, x, w, undefined, { strides: [2, 2], pads: [1, 1, 1, 1] });
    const normalized = groupNorm(g, down, 2);
    g.output(op.resizeNearest(g, normalized, 2), 'y');
    const model = onnx.ModelProto.decode(encodeModel(g, new Map()));
    const declared = new Map((model.graph?.valueInfo ?? []).map((info) => [info.name, (info.type?.tensorType?.shape?.dim ?? []).map((dim) => dim.dimParam || Number(dim.dimValue))]));
    assert.deepEqual(declared.get(down.name), ['batch', 8, 'ceil(height/2)', 'ceil(width/2)']);
    assert.equal(declared.has('y'), false);
    const nodeOutputs = (model.graph?.node ?? []).flatMap((node) => node.output ?? []).filter((name) => name !== 'y');
    assert.deepEqual([...declared.keys()].sort(), [...nodeOutputs].sort());
  });

  it('the tiny U-Net at 24×16: every declared dim matches what onnxruntime computed', async () => {
    const unet = openDiffusersComponent(join(goldenDir, 'models', 'afa', 'unet'), parseUnetConfig);
    const graph = buildUnetGraph(unet.weights, unet.config);
    const declared = new Map<string, readonly Dim[]>();
    for (const node of graph.nodes) {
      for (const value of node.outputs) {
        if (value.shape && value.dtype === 'float32' && !graph.outputs.some((output) => output.name === value.name)) {
          declared.set(value.name, value.shape);
          graph.output(value);
        }
      }
    }
    // Nothing left unknown: that is what keeps onnxruntime's planner linear in the node count.
    const unknown = [...declared].filter(([, shape]) => shape.some(isUnknownDim)).map(([name]) => name);
    assert.deepEqual(unknown, []);
    const dir = temporaryDirectory('afa-declared-');
    roots.push(dir);
    const saved = saveModel(graph, { dir, modelFile: 'unet.onnx', weightsFile: 'unet.weights' });
    const session = await ModelSession.create(saved.modelPath, { intraOpThreads: 1 });
    try {
      const results = await session.run({
        sample: randomTensor([2, 4, 24, 16], 3),
        timestep: unetTimestep(321, 2),
        encoder_hidden_states: randomTensor([2, 77, 32], 5),
      });
      const bound = new Map<string, number>([['height', 24], ['width', 16], ['batch', 2], ['tokens', 77]]);
      const problems: string[] = [];
      for (const [name, shape] of declared) {
        const actual = results[name]!.shape;
        if (actual.length !== shape.length) problems.push(`${name}: rank ${actual.length}, declared [${shape.join(', ')}]`);
        shape.forEach((dim, axis) => {
          const size = actual[axis]!;
          const expected = typeof dim === 'number' ? dim : bound.get(dim);
          if (expected === undefined) bound.set(dim as string, size);
          else if (expected !== size) problems.push(`${name} axis ${axis}: ${size}, declared ${dim} = ${expected}`);
        });
      }
      assert.deepEqual(problems.slice(0, 5), []);
      assert.equal(bound.get('ceil((ceil((ceil(height/2))/2))/2)'), 3);
    } finally {
      await session.release();
      unet.close();
    }
  });
});
