// Multi-head scaled dot-product attention as diffusers 0.20's AttnProcessor and transformers' CLIP
// attention compute it, on [B, L, C] tensors. Heads are split as [B, heads, L, C/heads] and the two
// products are batched 4-D MatMuls (onnxruntime runs them as one GEMM per batch·head without copies).
import type { Graph, Value } from '../onnx/graph.ts';
import { add, matMul, mul, reshape, softmax, transpose } from '../onnx/ops.ts';
import { linear } from '../onnx/layers.ts';
import type { ModuleWeights } from './module-weights.ts';

export interface AttentionCoreOptions {
  readonly heads: number;
  /** Channels of q/k/v (heads · head width). */
  readonly channels: number;
  /**
   * 'scores' (diffusers: baddbmm(q, kᵀ, alpha=scale), the scale multiplies the product) or 'query'
   * (transformers CLIP: q_proj(x) * scale before the product). Both use scale = head_width^-0.5.
   */
  readonly scaleAt: 'scores' | 'query';
  /** Added to the scores before the softmax, broadcast to [B, heads, Lq, Lk] (e.g. CLIP's causal mask). */
  readonly mask?: Value;
}

/** softmax(q·kᵀ·scale [+ mask]) · v with q [B, Lq, C], k and v [B, Lk, C] → [B, Lq, C]. */
export function attentionCore(g: Graph, q: Value, k: Value, v: Value, options: AttentionCoreOptions): Value {
  const { heads, channels } = options;
  const width = channels / heads;
  const scale = Math.fround(width ** -0.5);
  const split = (x: Value, perm: number[]) => transpose(g, reshape(g, x, [0, 0, heads, width]), perm);
  const query = split(options.scaleAt === 'query' ? mul(g, q, scale) : q, [0, 2, 1, 3]); // [B, h, Lq, d]
  const keys = split(k, [0, 2, 3, 1]); // [B, h, d, Lk]
  const values = split(v, [0, 2, 1, 3]); // [B, h, Lk, d]
  let scores = matMul(g, query, keys); // [B, h, Lq, Lk]
  if (options.scaleAt === 'scores') scores = mul(g, scores, scale);
  if (options.mask) scores = add(g, scores, options.mask);
  const mixed = matMul(g, softmax(g, scores, -1), values); // [B, h, Lq, d]
  return reshape(g, transpose(g, mixed, [0, 2, 1, 3]), [0, 0, channels]);
}

export interface DiffusersAttentionOptions {
  readonly heads: number;
  /** Channels of x (query_dim) and of the context (cross_attention_dim; = query_dim for self-attention). */
  readonly queryChannels: number;
  readonly contextChannels: number;
  /** Whether to_q/to_k/to_v have biases (the VAE's mid-block attention does; the U-Net's do not). */
  readonly qkvBias: boolean;
}

/**
 * diffusers `Attention` with AttnProcessor on x [B, L, C]: to_q(x), to_k/to_v(context ?? x), attention,
 * to_out.0 (linear with bias; to_out.1 is dropout). Self-attention when `context` is undefined.
 */
export function diffusersAttention(g: Graph, w: ModuleWeights, x: Value, context: Value | undefined, options: DiffusersAttentionOptions): Value {
  const { heads, queryChannels: c, contextChannels } = options;
  const source = context ?? x;
  const sourceChannels = context ? contextChannels : c;
  const projection = (name: string, input: Value, inChannels: number) =>
    linear(g, input, w.get(g, `${name}.weight`, [c, inChannels]), options.qkvBias ? w.get(g, `${name}.bias`, [c]) : undefined);
  const q = projection('to_q', x, c);
  const k = projection('to_k', source, sourceChannels);
  const v = projection('to_v', source, sourceChannels);
  const mixed = attentionCore(g, q, k, v, { heads, channels: c, scaleAt: 'scores' });
  return linear(g, mixed, w.get(g, 'to_out.0.weight', [c, c]), w.get(g, 'to_out.0.bias', [c]));
}
