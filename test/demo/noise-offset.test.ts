// Offset noise of the demo family's U-Net stages: one shift per (example, channel), the same on every
// pixel of that channel, scaled by the recipe's offset; the rest of ε untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addNoiseOffset } from '../../app/demo/train-family.ts';
import { TrainingRandom } from '../../app/training/training-random.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';

test('addNoiseOffset shifts each channel of each example by offset × its own draw', () => {
  const random = new TrainingRandom(11);
  const [batch, channels, plane] = [3, 4, 5 * 7];
  const base = random.normal(0, 0, batch * channels * plane);
  const draws = random.normal(1, 0, batch * channels);
  const noise: Tensor<'float32'> = { dtype: 'float32', shape: [batch, channels, 5, 7], data: base.slice() };
  addNoiseOffset(noise, 0.3, draws);
  for (let i = 0; i < batch * channels; i++) {
    for (let k = i * plane; k < (i + 1) * plane; k++) {
      assert.ok(Math.abs(noise.data[k]! - base[k]! - 0.3 * draws[i]!) < 1e-6, `element ${k}`);
    }
  }
  // Distinct (example, channel) pairs get distinct shifts.
  assert.equal(new Set(Array.from(draws, (d) => d.toFixed(6))).size, draws.length);
});

test('addNoiseOffset refuses draws that do not match the batch and channels', () => {
  const noise: Tensor<'float32'> = { dtype: 'float32', shape: [2, 4, 2, 2], data: new Float32Array(32) };
  assert.throws(() => addNoiseOffset(noise, 0.3, new Float32Array(4)), /4 draws for 2×4 channels/);
});
