// MBW: the block of every U-Net tensor (against the golden key_map.json, produced by the conversion
// script's own functions), the (1 − α, α) float32 arithmetic, base α outside the U-Net, refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { UserError } from '../../app/common/errors.ts';
import { MBW_BLOCKS } from '../../app/checkpoints/ldm-keys.ts';
import { mbwCoefficients, mbwMerge, unetBlockAlphas } from '../../app/ensemble/mbw-merge.ts';
import { isMergedTensor, memberOf } from '../../app/ensemble/weight-merge.ts';
import { float32 } from '../../app/tensor/tensor.ts';
import { MemoryWeights } from '../../app/tensor/weights.ts';
import { golden } from '../checkpoints/golden-paths.ts';
import { goldenConfig } from '../checkpoints/fixtures.ts';

function userError(code: string, pattern: RegExp) {
  return (error: unknown) => error instanceof UserError && error.code === code && pattern.test(error.message);
}

const BLOCKS = MBW_BLOCKS.map((_, index) => index / 24); // IN00 = 0 … OUT11 = 1, all distinct

test('every diffusers U-Net tensor gets the α of its MBW block as the golden key map lists it', () => {
  const keyMap = JSON.parse(readFileSync(golden('models', 'single_file', 'key_map.json'), 'utf8')) as { unet: { diffusers: string; mbw_block: string }[] };
  const alphas = unetBlockAlphas(goldenConfig('unet'), { blocks: BLOCKS, base: 0.5 });
  assert.equal(alphas.size, keyMap.unet.length);
  for (const { diffusers, mbw_block } of keyMap.unet) {
    assert.equal(alphas.get(diffusers), BLOCKS[MBW_BLOCKS.indexOf(mbw_block)], diffusers);
  }
});

test('θ = (1 − α)·θ_A + α·θ_B with 1 − α taken in double precision, then both as float32 multipliers', () => {
  const values = { a: [0.123456789, -7.5, 3.3e-5], b: [1.987654321, 0.25, -1e-3] };
  const a = new MemoryWeights({ 'conv_in.weight': float32([3], values.a) }, 'A');
  const b = new MemoryWeights({ 'conv_in.weight': float32([3], values.b) }, 'B');
  const merged = mbwMerge([a, b], { blocks: BLOCKS.map(() => 0.3), base: 0.9 }, goldenConfig('unet'));
  const out = merged.get('conv_in.weight').read().data as Float32Array;
  const [wa, wb] = mbwCoefficients(0.3);
  assert.equal(wa, 1 - 0.3);
  const f = Math.fround;
  values.a.forEach((_, i) => assert.equal(out[i], f(f(f(wa) * f(values.a[i]!)) + f(f(wb) * f(values.b[i]!)))));
});

test('blocks at α = 0 or 1 pass model A or B through untouched; tensors outside the U-Net take base α', () => {
  const blocks = BLOCKS.map(() => 0.5);
  blocks[0] = 0; // IN00: conv_in, time embedding
  blocks[24] = 1; // OUT11: last up layer and the output head (conv_out)
  const tensors = (value: number) => new MemoryWeights({ 'conv_in.weight': float32([2], [value, value]), 'conv_out.weight': float32([2], [value, value]), 'mid_block.resnets.0.conv1.weight': float32([2], [value, value]) }, `model ${value}`);
  const [a, b] = [tensors(1), tensors(3)];
  const merged = mbwMerge([a, b], { blocks, base: 0.25 }, goldenConfig('unet'));
  assert.equal(memberOf(merged.get('conv_in.weight')), 0);
  assert.equal(memberOf(merged.get('conv_out.weight')), 1);
  const mid = merged.get('mid_block.resnets.0.conv1.weight');
  assert.ok(isMergedTensor(mid));
  assert.deepEqual([...(mid.read().data as Float32Array)], [2, 2]);

  // Text encoder / VAE: no U-Net config, every tensor takes base α.
  const text = (value: number) => new MemoryWeights({ 'text_model.final_layer_norm.weight': float32([1], [value]) }, `text ${value}`);
  const mergedText = mbwMerge([text(1), text(3)], { blocks, base: 0.25 });
  assert.deepEqual([...(mergedText.get('text_model.final_layer_norm.weight').read().data as Float32Array)], [1.5]);
});

test('MBW refuses other than 2 models, a wrong number of blocks and α outside [0, 1]', () => {
  const m = (name: string) => new MemoryWeights({ x: float32([1], [1]) }, name);
  const weights = { blocks: BLOCKS, base: 0.3 };
  assert.throws(() => mbwMerge([m('a'), m('b'), m('c')], weights), userError('invalid-argument', /MBW merges exactly 2 models \(A and B\); got 3/));
  assert.throws(() => mbwMerge([m('a')], weights), userError('invalid-argument', /got 1/));
  assert.throws(() => mbwMerge([m('a'), m('b')], { blocks: BLOCKS.slice(1), base: 0.3 }), userError('invalid-argument', /needs 25 block weights \(IN00…OUT11\); got 24/));
  assert.throws(() => mbwMerge([m('a'), m('b')], { blocks: BLOCKS.map((v, i) => (i === 12 ? -0.1 : v)), base: 0.3 }), userError('invalid-argument', /block M00 is -0.1/));
  assert.throws(() => mbwMerge([m('a'), m('b')], { blocks: BLOCKS, base: 1.5 }), userError('invalid-argument', /the base .* is 1.5/));
  const other = new MemoryWeights({ x: float32([2], [1, 2]) }, 'other');
  assert.throws(() => mbwMerge([m('a'), other], weights), userError('mismatch', /Model B has a different architecture than model A: tensor 'x' is \[2\] instead of \[1\]/));
});
