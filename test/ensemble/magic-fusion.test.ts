// MagicFusion (saliency-aware noise blending) has no golden case: these are properties of its formula —
// the smoothing matches torch's AvgPool2d / bilinear resize on hand-computed cases, a constant guidance
// response gives a flat saliency inside the border, identical models give that model's guided ε, the mask
// follows where each model's response is relatively stronger, and the schedule lets one model lay out
// the first steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../app/common/errors.ts';
import { averagePool4x4, magicFusionPhase, magicFusionStep, noiseSaliency, resizeBilinear } from '../../app/ensemble/magic-fusion.ts';
import { applyGuidance } from '../../app/pipeline/guidance.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { randomTensor } from '../models/tensor-compare.ts';

const [C, H, W] = [4, 8, 8];
const STEP = { index: 10, total: 20 }; // a blending step with the default schedule

/** A [2, C, H, W] prediction [uncond, cond] with cond − uncond = difference(y, x) in every channel. */
function prediction(difference: (y: number, x: number) => number, uncond = 0.25): Tensor<'float32'> {
  const data = new Float32Array(2 * C * H * W);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        data[c * H * W + y * W + x] = uncond;
        data[(C + c) * H * W + y * W + x] = uncond + difference(y, x);
      }
    }
  }
  return { dtype: 'float32', shape: [2, C, H, W], data };
}

test('smoothing matches torch AvgPool2d(4, stride 1, padding 1) and bilinear interpolation (align_corners=False)', () => {
  const pooled = averagePool4x4(new Float64Array(16).fill(1), 4, 4);
  assert.deepEqual([...pooled], [9, 12, 9, 12, 16, 12, 9, 12, 9].map((n) => n / 16), 'zero padding counts in the mean');
  assert.deepEqual([...resizeBilinear(Float64Array.of(0, 1, 2), 1, 3, 1, 4)], [0, 0.625, 1.375, 2]);
  assert.deepEqual([...resizeBilinear(Float64Array.of(2, 4), 1, 2, 1, 3)], [2, 3, 4]);
});

test('the saliency of a constant guidance response is a distribution, flat inside the border and symmetric', () => {
  for (const kappa of [1, 5]) {
    const saliency = noiseSaliency(prediction(() => 0.1), 7.5, kappa);
    assert.ok(Math.abs(saliency.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    const at = (y: number, x: number) => saliency[y * W + x]!;
    const inner = at(2, 2);
    for (let y = 2; y < H - 2; y++) for (let x = 2; x < W - 2; x++) assert.equal(at(y, x), inner);
    assert.ok(at(0, 0) < at(0, 3) && at(0, 3) < inner, 'zero padding lowers the border, most in the corners');
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) assert.ok(Math.abs(at(y, x) - at(H - 1 - y, W - 1 - x)) < 1e-15);
  }
});

test('identical models give exactly that model\'s guided ε, hard or soft', () => {
  const a = randomTensor([2, C, H, W], 3);
  for (const mask of ['hard', 'soft'] as const) {
    const result = magicFusionStep(a, a, 7.5, STEP, { mask });
    assert.equal(result.phase, 'blend');
    assert.deepEqual(result.noise, applyGuidance(a, 7.5));
  }
});

test('the mask is in [0, 1] (0 or 1 when hard) and each pixel takes its ε from the model the mask names', () => {
  const [a, b] = [randomTensor([2, C, H, W], 5), randomTensor([2, C, H, W], 9)];
  const [epsA, epsB] = [applyGuidance(a, 5), applyGuidance(b, 5)];
  const hard = magicFusionStep(a, b, 5, STEP);
  const soft = magicFusionStep(a, b, 5, STEP, { mask: 'soft', kappaA: 2, kappaB: 0.5 });
  assert.deepEqual(hard.mask!.shape, [1, 1, H, W]);
  assert.ok(hard.mask!.data.every((m) => m === 0 || m === 1));
  assert.ok(hard.mask!.data.some((m) => m === 0) && hard.mask!.data.some((m) => m === 1), 'random responses pick both models');
  assert.ok(soft.mask!.data.every((m) => m >= 0 && m <= 1));
  for (let c = 0; c < C; c++) {
    for (let p = 0; p < H * W; p++) {
      const i = c * H * W + p;
      assert.equal(hard.noise.data[i], hard.mask!.data[p] === 1 ? epsB.data[i] : epsA.data[i]);
      const m = soft.mask!.data[p]!;
      assert.ok(Math.abs(soft.noise.data[i]! - (epsA.data[i]! + m * (epsB.data[i]! - epsA.data[i]!))) < 1e-6);
    }
  }
});

test('each pixel trusts the model whose guidance response is relatively stronger there', () => {
  const a = prediction((_, x) => (x < W / 2 ? 1 : 0.01)); // A responds on the left
  const b = prediction((_, x) => (x < W / 2 ? 0.01 : 1)); // B on the right
  const { mask } = magicFusionStep(a, b, 7.5, STEP);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (x <= 2) assert.equal(mask!.data[y * W + x], 0, `(${y}, ${x}) keeps A`);
      if (x >= W - 3) assert.equal(mask!.data[y * W + x], 1, `(${y}, ${x}) takes B`);
    }
  }
  // Saliencies are per-model distributions: B's response scaled down everywhere still wins where it is
  // B's own strongest, as long as the softmax keeps the same shape (κ scaled up by the same factor).
  const weakB = prediction((_, x) => (x < W / 2 ? 0.001 : 0.1));
  const scaled = magicFusionStep(a, weakB, 7.5, STEP, { kappaB: 10 });
  assert.deepEqual(scaled.mask, mask);
});

test('the first steps use the lead model alone (the other model is not needed), then blending starts', () => {
  const phases = Array.from({ length: 20 }, (_, index) => magicFusionPhase(index, 20));
  assert.deepEqual(phases.slice(0, 4), ['a', 'a', 'a', 'blend'], 'default: 15 % of the steps lay out with model A');
  assert.ok(phases.slice(3).every((phase) => phase === 'blend'));
  const a = randomTensor([2, C, H, W], 11);
  const early = magicFusionStep(a, undefined, 7.5, { index: 0, total: 20 });
  assert.deepEqual(early, { noise: applyGuidance(a, 7.5), phase: 'a' });
  assert.throws(() => magicFusionStep(a, undefined, 7.5, STEP), /needs model B's prediction/);
  // The official merge_mode 2: blend first, then the lead model alone.
  const late = { fusionStart: 0, fusionEnd: 0.4, leadModel: 'b' } as const;
  assert.deepEqual(Array.from({ length: 10 }, (_, i) => magicFusionPhase(i, 10, late)), ['blend', 'blend', 'blend', 'blend', 'b', 'b', 'b', 'b', 'b', 'b']);
  assert.deepEqual(magicFusionStep(undefined, a, 7.5, { index: 9, total: 10 }, late).noise, applyGuidance(a, 7.5));
});

test('MagicFusion refuses unguided predictions and invalid settings', () => {
  const isUserError = (pattern: RegExp) => (error: unknown) => error instanceof UserError && pattern.test(error.message);
  const unguided = randomTensor([1, C, H, W]);
  const a = randomTensor([2, C, H, W]);
  assert.throws(() => magicFusionStep(unguided, unguided, 7.5, STEP), isUserError(/\[unconditional, conditional\] \(batch 2\).*guidance scale above 1/));
  assert.throws(() => magicFusionStep(a, a, 7.5, STEP, { kappaA: 0 }), isUserError(/kappaA must be a number above 0/));
  assert.throws(() => magicFusionStep(a, a, 7.5, STEP, { fusionStart: 0.8, fusionEnd: 0.5 }), isUserError(/fusionStart must not exceed fusionEnd/));
  assert.throws(() => magicFusionStep(a, a, 7.5, STEP, { fusionEnd: 1.5 }), isUserError(/between 0 and 1/));
});
