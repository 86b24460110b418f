// The builder itself: names and scopes, immutability, weights (sharing, casts), validation messages.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../app/common/errors.ts';
import { Graph } from '../../app/onnx/graph.ts';
import * as op from '../../app/onnx/ops.ts';
import { linear } from '../../app/onnx/layers.ts';
import { f32, lazy, runGraph } from './run-graph.ts';

describe('Graph', () => {
  it('names nodes by nested scopes and keeps names unique', () => {
    const g = new Graph('scopes');
    const x = g.input('x', 'float32', [1, 4]);
    const w = g.weight('w', lazy(f32([4, 4], new Float32Array(16))));
    const q = g.scope('down_blocks.0', () => g.scope('attentions.1', () => g.scope('attn1', () => g.scope('to_q', () => op.matMul(g, x, w)))));
    const again = g.scope('down_blocks.0', () => g.scope('attentions.1', () => g.scope('attn1', () => g.scope('to_q', () => op.matMul(g, x, w)))));
    assert.equal(q.name, 'down_blocks.0/attentions.1/attn1/to_q/MatMul');
    assert.equal(again.name, 'down_blocks.0/attentions.1/attn1/to_q/MatMul_1');
    assert.equal(g.scopePath, '');
    assert.deepEqual(
      g.nodes.map((node) => node.name),
      ['down_blocks.0/attentions.1/attn1/to_q/MatMul', 'down_blocks.0/attentions.1/attn1/to_q/MatMul_1'],
    );
  });

  it('restores the scope when the block throws', () => {
    const g = new Graph('scopes');
    assert.throws(() => g.scope('broken', () => op.matMul(g, g.input('a', 'int64', [2]), g.input('b', 'int64', [2]))));
    assert.equal(g.scopePath, '');
  });

  it('values and nodes are frozen', () => {
    const g = new Graph('frozen');
    const x = g.input('x', 'float32', [2, 3]);
    const y = op.neg(g, x);
    assert.ok(Object.isFrozen(x) && Object.isFrozen(x.shape) && Object.isFrozen(y));
    assert.ok(Object.isFrozen(g.nodes[0]) && Object.isFrozen(g.nodes[0].inputs) && Object.isFrozen(g.nodes[0].attrs));
  });

  it('shares a weight used twice under one name and rejects a different tensor under it', () => {
    const g = new Graph('shared');
    const source = lazy(f32([2, 2], new Float32Array(4)));
    const first = g.weight('proj.weight', source);
    assert.equal(g.weight('proj.weight', source), first);
    assert.equal(g.initializers.length, 1);
    assert.throws(() => g.weight('proj.weight', lazy(f32([4], new Float32Array(4)))), /already added as float32 \[2, 2\], now float32 \[4\]/);
  });

  it('keeps same-named weights of different sources apart under weight namespaces', async () => {
    const g = new Graph('namespaces');
    const x = g.input('x', 'float32', [1, 2]);
    const first = g.weightNamespace('expert1.', () => g.weight('w', lazy(f32([2, 2], Float32Array.of(1, 0, 0, 1)))));
    const second = g.weightNamespace('expert2.', () => g.weight('w', lazy(f32([2, 2], Float32Array.of(2, 0, 0, 2)))));
    const again = g.weightNamespace('expert1.', () => g.weight('w', lazy(f32([2, 2], Float32Array.of(1, 0, 0, 1)))));
    assert.equal(first.name, 'expert1.w');
    assert.equal(second.name, 'expert2.w');
    assert.equal(again, first);
    g.output(op.matMul(g, x, first), 'a');
    g.output(op.matMul(g, x, second), 'b');
    const out = await runGraph(g, { x: f32([1, 2], Float32Array.of(3, 4)) });
    assert.deepEqual([...out.a!.data], [3, 4]);
    assert.deepEqual([...out.b!.data], [6, 8]);
  });

  it('casts float16 weights to the float32 compute dtype, stores float32 as float16 on request', async () => {
    const g = new Graph('cast');
    const half = { dtype: 'float16' as const, shape: [3], data: Uint16Array.from([0x3c00, 0xc000, 0x3800]) }; // 1, -2, 0.5
    const w16 = g.weight('half', lazy(half));
    assert.equal(w16.dtype, 'float32');
    assert.equal(g.nodes.at(-1)?.op, 'Cast');
    const stored = g.weight('stored-as-half', lazy(f32([3], Float32Array.from([0.1, 3, -7]))), { storeAs: 'float16' });
    assert.equal(stored.dtype, 'float32');
    assert.equal(g.initializers.find((init) => init.value.name === 'stored-as-half')?.value.dtype, 'float16');
    const x = g.input('x', 'float32', [3]);
    g.output(op.add(g, op.mul(g, x, w16), stored), 'y');
    const { y } = await runGraph(g, { x: f32([3], Float32Array.from([1, 1, 1])) });
    // 0.1 rounds to the nearest float16, 0.0999755859375.
    assert.deepEqual([...(y.data as Float32Array)], [1 + 0.0999755859375, -2 + 3, 0.5 - 7]);
  });

  it('bfloat16 weights are stored as float32 by default', () => {
    const g = new Graph('bf16');
    const value = g.weight('w', lazy({ dtype: 'bfloat16', shape: [1], data: Uint16Array.of(0x3fc0) /* 1.5 */ }));
    assert.equal(g.initializers[0].value.dtype, 'float32');
    assert.equal(value.dtype, 'float32');
    assert.notEqual(g.nodes.at(-1)?.op, 'Cast');
  });

  it('output renames through Identity and allows an input or a weight as an output', async () => {
    const g = new Graph('outputs');
    const x = g.input('x', 'float32', [2]);
    const w = g.weight('w', lazy(f32([2], Float32Array.from([5, 6]))));
    g.output(x, 'x_copy');
    g.output(w, 'weight_out');
    g.output(x);
    g.output(w);
    const sum = op.add(g, x, w);
    g.output(sum);
    g.output(sum, 'sum_again');
    assert.deepEqual(g.outputs.map((output) => output.name), ['x_copy', 'weight_out', 'x', 'w', sum.name, 'sum_again']);
    const out = await runGraph(g, { x: f32([2], Float32Array.from([1, 2])) });
    assert.deepEqual([...(out.x_copy.data as Float32Array)], [1, 2]);
    assert.deepEqual([...(out.weight_out.data as Float32Array)], [5, 6]);
    assert.deepEqual([...(out.x.data as Float32Array)], [1, 2]);
    assert.deepEqual([...(out.w.data as Float32Array)], [5, 6]);
    assert.deepEqual([...(out.sum_again.data as Float32Array)], [6, 8]);
  });

  it('saves only what the outputs need', async () => {
    const g = new Graph('prune');
    const x = g.input('x', 'float32', [2]);
    const unused = lazy(f32([2], new Float32Array(2)));
    op.mul(g, x, g.weight('unused', unused));
    g.output(op.neg(g, x), 'y');
    const { y } = await runGraph(g, { x: f32([2], Float32Array.from([1, -3])) });
    assert.deepEqual([...(y.data as Float32Array)], [-1, 3]);
    assert.equal(unused.reads, 0);
  });
});

describe('validation', () => {
  it('a dtype mismatch prints the node and every input with dtype and shape', () => {
    const g = new Graph('bad');
    const a = g.input('latents', 'float32', ['batch', 4, 64, 64]);
    const b = g.input('mask', 'int64', [1]);
    assert.throws(
      () => g.scope('mid_block', () => op.add(g, a, b)),
      (error: Error) => {
        assert.ok(error instanceof UserError);
        assert.match(error.message, /Add needs inputs of one dtype; got float32 and int64/);
        assert.match(error.message, /Add node 'mid_block\/Add'/);
        assert.match(error.message, /input 0: 'latents' float32 \[batch, 4, 64, 64\]/);
        assert.match(error.message, /input 1: 'mask' int64 \[1\]/);
        return true;
      },
    );
  });

  it('rank and size mismatches name the offending input', () => {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', [1, 4, 8, 8]);
    const w = g.weight('conv.weight', lazy(f32([8, 3, 3, 3], new Float32Array(216))));
    assert.throws(() => op.conv(g, x, w), /x has 4 channels but the weight expects 3 per group × 1 groups[\s\S]*'conv.weight' float32 \[8, 3, 3, 3\]/);
    assert.throws(() => op.gemm(g, x, w), /Gemm needs A of rank 2; 'x' float32 \[1, 4, 8, 8\] has rank 4/);
    assert.throws(() => op.matMul(g, g.input('a', 'float32', [2, 3]), g.input('b', 'float32', [4, 5])), /last axis of A must equal the second-to-last of B[\s\S]*'a' float32 \[2, 3\][\s\S]*'b' float32 \[4, 5\]/);
    assert.throws(() => op.reshape(g, x, [3, -1, 5]), /Reshape cannot turn 256 elements into \[3, -1, 5\]/);
    assert.throws(() => op.reshape(g, x, [3, 5]), /Reshape cannot turn 256 elements into \[3, 5\]/);
    assert.throws(() => linear(g, x, g.weight('w2', lazy(f32([3, 5], new Float32Array(15))))), /MatMul shapes do not agree/);
  });

  it('a missing (undefined) input is named by position, not a TypeError', () => {
    const g = new Graph('missing');
    const x = g.input('x', 'float32', [2, 3]);
    const missing = undefined as unknown as Parameters<typeof op.matMul>[2];
    assert.throws(() => op.matMul(g, x, missing), (error: Error) => error instanceof UserError && /MatMul is missing input 1[\s\S]*input 0: 'x' float32 \[2, 3\][\s\S]*input 1: \(omitted\)/.test(error.message));
    assert.throws(() => op.reshape(g, missing, [6]), /Reshape is missing input 0/);
    assert.throws(() => op.add(g, x, missing), /Add is missing input 1[\s\S]*input 0: 'x' float32/);
    assert.throws(() => op.mul(g, missing, 2), /Mul is missing input 0/);
    assert.throws(() => op.concat(g, [x, missing], 0), /Concat is missing input 1/);
  });

  it('duplicate names and values of other graphs are refused', () => {
    const g = new Graph('one');
    const x = g.input('x', 'float32', [2]);
    assert.throws(() => g.input('x', 'float32', [2]), /already has a value named 'x'/);
    assert.throws(() => g.weight('x', lazy(f32([2], new Float32Array(2)))), /already has a value named 'x'/);
    const other = new Graph('two');
    assert.throws(() => op.neg(other, x), /Input 0 'x' float32 \[2\] is not a value of graph 'two'[\s\S]*in Neg node 'Neg'/);
    assert.throws(() => other.output(x), /is not a value of graph 'two'/);
    g.output(x, 'y');
    assert.throws(() => g.output(x, 'y'), /already has an output named 'y'/);
    const forged = { name: 'x', dtype: 'float32' as const, shape: [2] };
    assert.throws(() => op.neg(g, forged), /not a value of graph 'one'/);
  });
});
