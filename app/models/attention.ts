// Multi-head scaled dot-product attention as diffusers 0.20's AttnProcessor and transformers' CLIP
// attention compute it, on [B, L, C] tensors.
// - diffusers attention runs as onnxruntime's fused MultiHeadAttention (com.microsoft contrib op; CPU,
//   CUDA, WebGPU and DirectML kernels). On the CPU it is a flash-attention kernel that never materialises
//   the [B, heads, L, L] scores: for SD1.5 at 512² (L = 4096) one self-attention takes ≈ 0.7 s and 0.2 GB
//   instead of ≈ 1.9 s and 2.4 GB with MatMul/Softmax/MatMul, which matters most for the lock-step layer
//   sessions, each of which keeps its own peak memory. Same math: softmax(scale·q·kᵀ)·v with the scale
//   multiplying the product (diffusers' baddbmm alpha); only the summation order differs (~1e-7).
// - CLIP (causal mask, query scaled before the product) uses the explicit form, attentionCore.
import { attribute, type Graph, type Value } from '../onnx/graph.ts';
import { add, cast, matMul, mul, reshape, softmax, transpose } from '../onnx/ops.ts';
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
  // A 16-bit graph takes the mask and the softmax in float32 (as diffusers and transformers upcast the
  // scores): float16's lowest value plus a negative score overflows, and exp loses the small weights.
  const reduced = scores.dtype !== 'float32';
  if (reduced) scores = cast(g, scores, 'float32');
  if (options.mask) scores = add(g, scores, options.mask);
  let probabilities = softmax(g, scores, -1);
  if (reduced) probabilities = cast(g, probabilities, values.dtype);
  const mixed = matMul(g, probabilities, values); // [B, h, Lq, d]
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
  const mixed = fusedAttention(g, q, k, v, heads, c);
  return linear(g, mixed, w.get(g, 'to_out.0.weight', [c, c]), w.get(g, 'to_out.0.bias', [c]));
}

/**
 * softmax(q·kᵀ·head_width^-0.5)·v per head, q [B, Lq, C], k and v [B, Lk, C] → [B, Lq, C], as one
 * com.microsoft MultiHeadAttention node. The scale is passed explicitly (float32 of head_width^-0.5, the
 * value diffusers hands baddbmm) rather than left to the kernel's own 1/sqrt.
 */
export function fusedAttention(g: Graph, q: Value, k: Value, v: Value, heads: number, channels: number): Value {
  const scale = Math.fround((channels / heads) ** -0.5);
  const [output] = g.node({
    op: 'MultiHeadAttention',
    domain: 'com.microsoft',
    inputs: [q, k, v],
    outputs: [{ dtype: q.dtype, shape: q.shape }],
    attrs: { num_heads: attribute.int(heads), scale: attribute.float(scale) },
  });
  return output;
}
