// Classifier-free guidance on a [2, C, h, w] prediction ordered [uncond, cond]:
// ε = ε_u + g·(ε_c − ε_u), computed in float32 like diffusers (`noise_pred_uncond + g * (text - uncond)`).
import type { Tensor } from '../tensor/tensor.ts';

export function applyGuidance(prediction: Tensor<'float32'>, scale: number): Tensor<'float32'> {
  const [batch, ...rest] = prediction.shape;
  if (batch !== 2) throw new Error(`guidance needs a batch of 2 ([uncond, cond]), got ${batch}`);
  const half = prediction.data.length / 2;
  const out = new Float32Array(half);
  const g = Math.fround(scale);
  const data = prediction.data;
  for (let i = 0; i < half; i++) {
    const uncond = data[i]!;
    // Each float32 operation is rounded as torch rounds it: (c − u) → ×g → + u.
    out[i] = Math.fround(uncond + Math.fround(g * Math.fround(data[half + i]! - uncond)));
  }
  return { dtype: 'float32', shape: [1, ...rest], data: out };
}
