// diffusers ResnetBlock2D (0.20, resnet_time_scale_shift 'default', output_scale_factor 1):
//   h = conv1(SiLU(norm1(x)));  h += time_emb_proj(SiLU(temb))[:, :, None, None]  (when temb is given)
//   h = conv2(SiLU(norm2(h)));  (dropout is a no-op at inference)
//   out = shortcut(x) + h, shortcut = 1x1 conv_shortcut when the channel count changes.
// Used by the U-Net (with temb), the VAE (without) and AFA's aggregators.
import type { Graph, Value } from '../onnx/graph.ts';
import { add, conv, unsqueeze } from '../onnx/ops.ts';
import { groupNorm, linear, silu } from '../onnx/layers.ts';
import type { ModuleWeights } from './module-weights.ts';

export interface ResnetOptions {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly groups: number;
  readonly eps: number;
  /** Width of temb [B, temb] when the block is time-conditioned. */
  readonly tembChannels?: number;
}

/** x [B, in, H, W] (+ temb [B, tembChannels]) → [B, out, H, W]. */
export function resnetBlock2D(g: Graph, w: ModuleWeights, x: Value, temb: Value | undefined, options: ResnetOptions): Value {
  const { inChannels, outChannels, groups, eps } = options;
  let h = groupNorm(g, x, groups, w.get(g, 'norm1.weight', [inChannels]), w.get(g, 'norm1.bias', [inChannels]), eps);
  h = conv3x3(g, w, 'conv1', silu(g, h), inChannels, outChannels);
  if (temb && options.tembChannels !== undefined) {
    const projection = g.scope('time_emb_proj', () => {
      const weight = w.get(g, 'time_emb_proj.weight', [outChannels, options.tembChannels as number]);
      const projected = linear(g, silu(g, temb), weight, w.get(g, 'time_emb_proj.bias', [outChannels]));
      return unsqueeze(g, projected, [2, 3]);
    });
    h = add(g, h, projection);
  }
  h = groupNorm(g, h, groups, w.get(g, 'norm2.weight', [outChannels]), w.get(g, 'norm2.bias', [outChannels]), eps);
  h = conv3x3(g, w, 'conv2', silu(g, h), outChannels, outChannels);
  const shortcut =
    inChannels === outChannels
      ? x
      : conv(g, x, w.get(g, 'conv_shortcut.weight', [outChannels, inChannels, 1, 1]), w.get(g, 'conv_shortcut.bias', [outChannels]));
  return add(g, shortcut, h);
}

/** A 3x3 convolution with padding 1 (stride 1 unless given), weights `<name>.weight/.bias`. */
export function conv3x3(g: Graph, w: ModuleWeights, name: string, x: Value, inChannels: number, outChannels: number, stride = 1): Value {
  const weight = w.get(g, `${name}.weight`, [outChannels, inChannels, 3, 3]);
  return conv(g, x, weight, w.get(g, `${name}.bias`, [outChannels]), { pads: 1, strides: stride });
}
