// Weighted merge of weights: the float32 arithmetic (golden formula order), the lazy view (nothing read
// until asked, members' tensors passed through untouched where the merge selects one member), refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../app/common/errors.ts';
import { checkMergeWeights, isMergedTensor, memberOf, mergeTerms, weightedMerge } from '../../app/ensemble/weight-merge.ts';
import { floatToHalf } from '../../app/tensor/half.ts';
import { float32, tensor, type Tensor } from '../../app/tensor/tensor.ts';
import { MemoryWeights, type LazyTensor, type WeightSource } from '../../app/tensor/weights.ts';

function userError(code: string, pattern: RegExp) {
  return (error: unknown) => error instanceof UserError && error.code === code && pattern.test(error.message);
}

/** A member whose reads are counted and whose tensors claim a file region (as a safetensors file's do). */
class CountingWeights implements WeightSource {
  reads = 0;
  constructor(
    private readonly tensors: Record<string, Tensor>,
    readonly description: string,
  ) {}
  names() {
    return Object.keys(this.tensors);
  }
  has(name: string) {
    return name in this.tensors;
  }
  get(name: string): LazyTensor {
    const t = this.tensors[name]!;
    return { dtype: t.dtype, shape: t.shape, region: { path: this.description, offset: 0, length: t.data.byteLength }, read: () => (this.reads++, t) };
  }
}

/** Independent float32 reference: one Float32Array cell per rounding step. */
function referenceMerge(values: readonly (readonly number[])[], weights: readonly number[]): Float32Array {
  const out = new Float32Array(values[0]!.length);
  const cell = new Float32Array(3);
  for (let i = 0; i < out.length; i++) {
    values.forEach((column, k) => {
      cell[0] = weights[k]!; // the multiplier as float32
      cell[1] = cell[0] * column[i]!; // product rounded to float32
      cell[2] = k === 0 ? cell[1] : cell[2]! + cell[1]!; // running sum rounded to float32
    });
    out[i] = cell[2]!;
  }
  return out;
}

test('mergeTerms rounds like float32 torch: ((w1·θ1) + w2·θ2) + w3·θ3, multipliers as float32', () => {
  const a = [0.1, -3.3333333, 1e-8, 123456.79, 0.7];
  const b = [0.2, 1.0000001, -2e-8, -98765.43, 0.3];
  const c = [0.3, 7.77, 3e-8, 0.5, -1];
  const weights = [0.5, 0.3, 0.2];
  const merged = mergeTerms([a, b, c].map((values, k) => ({ tensor: float32([values.length], values), weight: weights[k]! })));
  assert.deepEqual([...merged.data], [...referenceMerge([a, b, c].map((v) => [...Float32Array.from(v)]), weights)]);
  // The order matters: a double-precision sum rounded once differs for at least one of these values.
  const once = Float32Array.from(a.map((_, i) => 0.5 * Math.fround(a[i]!) + 0.3 * Math.fround(b[i]!) + 0.2 * Math.fround(c[i]!)));
  assert.notDeepEqual([...merged.data], [...once]);
});

test('mergeTerms converts float16 members to float32 first', () => {
  const half = tensor('float16', [2], Uint16Array.from([floatToHalf(0.5), floatToHalf(-2)]));
  const merged = mergeTerms([
    { tensor: half, weight: 0.25 },
    { tensor: float32([2], [1, 1]), weight: 0.75 },
  ]);
  assert.deepEqual([...merged.data], [0.125 + 0.75, -0.5 + 0.75]);
});

test('weightedMerge of in-memory weights equals the plain float32 reference for every tensor', () => {
  const names = ['conv.weight', 'conv.bias'];
  const members = [1, 2, 3].map(
    (seed) =>
      new MemoryWeights(
        Object.fromEntries(names.map((name, n) => [name, float32([2, 3], Array.from({ length: 6 }, (_, i) => Math.sin(seed * 10 + n * 6 + i) * 3))])),
        `member ${seed}`,
      ),
  );
  const weights = [0.5, 0.3, 0.2];
  const merged = weightedMerge(members, weights);
  assert.deepEqual(merged.names(), names);
  for (const name of names) {
    const lazy = merged.get(name);
    assert.ok(isMergedTensor(lazy));
    assert.deepEqual(lazy.shape, [2, 3]);
    const expected = referenceMerge(members.map((m) => [...(m.get(name).read().data as Float32Array)]), weights);
    assert.deepEqual([...(lazy.read().data as Float32Array)], [...expected]);
  }
});

test('the merged view reads nothing until a tensor is read, and passes a member with weight 1 through untouched', () => {
  const tensors = (value: number) => ({ w: float32([4], [value, value, value, value]) });
  const [a, b] = [new CountingWeights(tensors(1), '/a.safetensors'), new CountingWeights(tensors(2), '/b.safetensors')];
  const merged = weightedMerge([a, b], [0.25, 0.75]);
  const lazy = merged.get('w');
  assert.equal(a.reads + b.reads, 0);
  assert.equal(lazy.region, undefined, 'a computed tensor has no file region');
  assert.deepEqual([...(lazy.read().data as Float32Array)], [1.75, 1.75, 1.75, 1.75]);
  assert.equal(a.reads + b.reads, 2);
  assert.equal(merged.get('w'), lazy, 'the same object for the same name');

  const selected = weightedMerge([a, b], [0, 1]).get('w');
  assert.ok(!isMergedTensor(selected));
  assert.equal(memberOf(selected), 1);
  assert.deepEqual(selected.region, { path: '/b.safetensors', offset: 0, length: 16 }, 'referenced in place');
  assert.deepEqual([...(selected.read().data as Float32Array)], [2, 2, 2, 2]);

  const single = weightedMerge([a, b], [0, 0.5]).get('w');
  assert.ok(isMergedTensor(single) && single.terms.length === 1 && single.terms[0]!.member === 1, 'zero-weight members are left out');
});

test('merge weights are refused when wrong in number, negative, not finite or all 0', () => {
  assert.throws(() => checkMergeWeights([0.5, 0.5], 3), userError('invalid-argument', /3 models needs 3 weights; got 2/));
  assert.throws(() => checkMergeWeights([1.2, -0.2], 2), userError('invalid-argument', /weight 2 is negative/));
  assert.throws(() => checkMergeWeights([Number.NaN, 1], 2), userError('invalid-argument', /weight 1 is not a finite number/));
  assert.throws(() => checkMergeWeights([0, 0], 2), userError('invalid-argument', /Every merge weight is 0/));
  assert.throws(() => checkMergeWeights([1], 1), userError('invalid-argument', /at least 2 models/));
  assert.doesNotThrow(() => checkMergeWeights([2, 1], 2));
});

test('members of different architectures are refused, naming the tensor', () => {
  const a = new MemoryWeights({ x: float32([2, 2]), y: float32([3]) }, 'A');
  const shaped = new MemoryWeights({ x: float32([2, 3]), y: float32([3]) }, 'B');
  const missing = new MemoryWeights({ x: float32([2, 2]), z: float32([3]) }, 'C');
  const fewer = new MemoryWeights({ x: float32([2, 2]) }, 'D');
  assert.throws(() => weightedMerge([a, shaped], [0.5, 0.5]), userError('mismatch', /Model 2 has a different architecture than model 1: tensor 'x' is \[2, 3\] instead of \[2, 2\]/));
  assert.throws(() => weightedMerge([a, missing], [0.5, 0.5]), userError('mismatch', /it has no tensor 'y'/));
  assert.throws(() => weightedMerge([a, a, fewer], [0.3, 0.3, 0.4], ['base', 'style', 'detail']), userError('mismatch', /^Detail has a different architecture than base: it has no tensor 'y'/));
});
