// diffusers Transformer2DModel (0.20) for continuous inputs with 1x1-conv projections
// (use_linear_projection false, as in SD1.x), one BasicTransformerBlock per layer:
//   r = x;  h = proj_in(GroupNorm(x, eps 1e-6))  → [B, HW, C]
//   per block: h += attn1(LN1(h));  h += attn2(LN2(h), context);  h += GEGLU-FF(LN3(h))
//   out = proj_out(h → [B, C, H, W]) + r
// Used by the U-Net's cross-attention layers and by AFA's aggregators.
import type { Graph, Value } from '../onnx/graph.ts';
import { add, conv, gelu, layerNorm, mul, reshape, shape, split, transpose } from '../onnx/ops.ts';
import { groupNorm, linear } from '../onnx/layers.ts';
import { diffusersAttention } from './attention.ts';
import type { ModuleWeights } from './module-weights.ts';

export interface Transformer2DOptions {
  readonly channels: number;
  readonly heads: number;
  readonly contextChannels: number;
  readonly groups: number;
  /** Number of BasicTransformerBlocks (transformer_layers_per_block; 1 in SD1.x). */
  readonly layers?: number;
}

/** x [B, C, H, W], context [B, L, contextChannels] → [B, C, H, W]. */
export function transformer2D(g: Graph, w: ModuleWeights, x: Value, context: Value, options: Transformer2DOptions): Value {
  const c = options.channels;
  // Transformer2DModel builds its GroupNorm with eps=1e-6 whatever the U-Net's norm_eps.
  let h = groupNorm(g, x, options.groups, w.get(g, 'norm.weight', [c]), w.get(g, 'norm.bias', [c]), 1e-6);
  h = conv(g, h, w.get(g, 'proj_in.weight', [c, c, 1, 1]), w.get(g, 'proj_in.bias', [c]));
  h = transpose(g, reshape(g, h, [0, c, -1]), [0, 2, 1]); // [B, HW, C]
  for (let layer = 0; layer < (options.layers ?? 1); layer++) {
    h = g.scope(`transformer_blocks.${layer}`, () => basicTransformerBlock(g, w.child(`transformer_blocks.${layer}`), h, context, options));
  }
  // [B, HW, C] → [B, C, HW] → [B, C, H, W] (the runtime shape of x; H and W may be symbolic).
  const back = transpose(g, h, [0, 2, 1]);
  const spatial = g.node({ op: 'Reshape', inputs: [back, shape(g, x)], outputs: [{ dtype: x.dtype, shape: x.shape }] })[0];
  const projected = conv(g, spatial, w.get(g, 'proj_out.weight', [c, c, 1, 1]), w.get(g, 'proj_out.bias', [c]));
  return add(g, projected, x);
}

/** BasicTransformerBlock (norm_type 'layer_norm', LayerNorm eps 1e-5) on h [B, L, C]. */
export function basicTransformerBlock(g: Graph, w: ModuleWeights, h: Value, context: Value, options: Transformer2DOptions): Value {
  const c = options.channels;
  const norm = (name: string, x: Value) => layerNorm(g, x, w.get(g, `${name}.weight`, [c]), w.get(g, `${name}.bias`, [c]), { epsilon: 1e-5 });
  const attention = { heads: options.heads, queryChannels: c, contextChannels: options.contextChannels, qkvBias: false };
  let x = h;
  x = add(g, g.scope('attn1', () => diffusersAttention(g, w.child('attn1'), norm('norm1', x), undefined, attention)), x);
  x = add(g, g.scope('attn2', () => diffusersAttention(g, w.child('attn2'), norm('norm2', x), context, attention)), x);
  x = add(g, g.scope('ff', () => gegluFeedForward(g, w.child('ff'), norm('norm3', x), c)), x);
  return x;
}

/** FeedForward(dim, mult 4, 'geglu'): net.0 = GEGLU (proj → value·GELU(gate)), net.2 = linear. */
export function gegluFeedForward(g: Graph, w: ModuleWeights, x: Value, channels: number): Value {
  const inner = 4 * channels;
  const projected = linear(g, x, w.get(g, 'net.0.proj.weight', [2 * inner, channels]), w.get(g, 'net.0.proj.bias', [2 * inner]));
  // GEGLU: `hidden_states, gate = proj(x).chunk(2, dim=-1); return hidden_states * F.gelu(gate)` (exact GELU).
  const [value, gate] = split(g, projected, [inner, inner], -1);
  const activated = mul(g, value, gelu(g, gate));
  return linear(g, activated, w.get(g, 'net.2.weight', [channels, inner]), w.get(g, 'net.2.bias', [channels]));
}
