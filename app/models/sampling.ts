// diffusers Downsample2D / Upsample2D with use_conv=True (0.20).
import type { Graph, Value } from '../onnx/graph.ts';
import { conv, resizeNearest, resizeNearestLike } from '../onnx/ops.ts';
import type { ModuleWeights } from './module-weights.ts';

/**
 * Downsample2D: conv 3x3 stride 2 with `padding` on every side; with padding 0 (the VAE encoder) diffusers
 * first pads right and bottom by one (`F.pad(x, (0, 1, 0, 1))`), i.e. ONNX pads [0, 0, 1, 1].
 * x [B, C, H, W] → [B, C, H/2, W/2].
 */
export function downsample2D(g: Graph, w: ModuleWeights, x: Value, channels: number, padding: number): Value {
  const weight = w.get(g, 'conv.weight', [channels, channels, 3, 3]);
  const pads = padding === 0 ? [0, 0, 1, 1] : padding;
  return conv(g, x, weight, w.get(g, 'conv.bias', [channels]), { strides: 2, pads });
}

/**
 * Upsample2D: nearest ×2 (F.interpolate(scale_factor=2.0)) then conv 3x3 pad 1. [B, C, H, W] → [B, C, 2H, 2W];
 * with `sizeOf`, nearest to that tensor's height and width instead (diffusers' `output_size`: the U-Net
 * passes its next skip, so a latent of 12 (96 px) going 12 → 6 → 3 → 2 down comes back 2 → 3 → 6 → 12).
 */
export function upsample2D(g: Graph, w: ModuleWeights, x: Value, channels: number, sizeOf?: Value): Value {
  const upsampled = sizeOf ? resizeNearestLike(g, x, sizeOf) : resizeNearest(g, x, 2);
  return conv(g, upsampled, w.get(g, 'conv.weight', [channels, channels, 3, 3]), w.get(g, 'conv.bias', [channels]), { pads: 1 });
}
