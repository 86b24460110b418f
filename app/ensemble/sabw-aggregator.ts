// One SABW aggregator (spatial-aware block-wise weighting; AFA paper §3.2, the official `Aggregator`):
//   x      = concat_k features_k                      [B, K·C, h, w]   (k-major, as features.reshape(B, K·C, h, w))
//   x      = conv_in(x)                               [B, D, h, w]     (1×1)
//   x      = ResnetBlock2D(x, temb)                   (32 groups, ε 1e-6: diffusers' defaults)
//   x      = Transformer2DModel(x, context)           (GroupNorm 32 / ε 1e-6, L × [self-attn, cross-attn, GEGLU])
//   logits = conv_out(x)                              [B, K, h, w]     (1×1, no bias, zero-initialised when new)
//   w      = softmax_k(logits)                        per pixel over the K experts
//   fused  = Σ_k w[:, k] · features_k                 [B, C, h, w]
// Without spatial awareness (config.spatial false, the paper's ablation): logits = mean_{h,w} conv_out(x)
// [B, K, 1, 1], so w is one weight per expert for the whole feature map; the exposed weight map is that
// weight broadcast to [B, K, h, w], so contribution maps and their readers see the same shape either way.
import type { Graph, Value } from '../onnx/graph.ts';
import { concat, conv, expand, mul, reduceMean, reduceSum, shape, unsqueeze } from '../onnx/ops.ts';
import { softmaxInFloat32 } from '../onnx/layers.ts';
import type { WeightSource } from '../tensor/weights.ts';
import { ModuleWeights } from '../models/module-weights.ts';
import { resnetBlock2D } from '../models/resnet-block.ts';
import { transformer2D } from '../models/transformer-2d.ts';
import { AGGREGATOR_NORM_EPS, AGGREGATOR_NORM_GROUPS, type AggregatorConfig } from './aggregator-config.ts';

export interface AggregatorOutputs {
  /** The fused feature [B, C, h, w] every expert receives next. */
  readonly fused: Value;
  /** Per-pixel expert weights [B, K, h, w] (they sum to 1 over K). */
  readonly weights: Value;
}

/** Stacks K features [B, C, h, w] into [B, K, C, h, w]. */
export function stackExperts(g: Graph, features: readonly Value[]): Value {
  return concat(g, features.map((feature) => unsqueeze(g, feature, [1])), 1);
}

/** Σ_k weights[:, k] · stacked[:, k]: weights [B, K, h, w], stacked [B, K, C, h, w] → [B, C, h, w]. */
export function weightedSum(g: Graph, stacked: Value, weights: Value): Value {
  return reduceSum(g, mul(g, stacked, unsqueeze(g, weights, [2])), [1], false);
}

export function sabwAggregator(
  g: Graph,
  weights: WeightSource,
  config: AggregatorConfig,
  features: readonly Value[],
  temb: Value,
  context: Value,
): AggregatorOutputs {
  const K = config.numExperts;
  if (features.length !== K) throw new RangeError(`aggregator for ${K} experts got ${features.length} features`);
  const w = new ModuleWeights(weights);
  const C = config.inChannels;
  const D = config.hiddenSize;
  let x = concat(g, features, 1);
  x = g.scope('conv_in', () => conv(g, x, w.get(g, 'conv_in.weight', [D, K * C, 1, 1]), w.get(g, 'conv_in.bias', [D])));
  x = g.scope('res_block', () =>
    resnetBlock2D(g, w.child('res_block'), x, temb, {
      inChannels: D,
      outChannels: D,
      groups: AGGREGATOR_NORM_GROUPS,
      eps: AGGREGATOR_NORM_EPS,
      tembChannels: config.timeEmbeddingChannels,
    }),
  );
  x = g.scope('transformer', () =>
    transformer2D(g, w.child('transformer'), x, context, {
      channels: D,
      heads: config.numAttentionHeads,
      contextChannels: config.crossAttentionDim,
      groups: AGGREGATOR_NORM_GROUPS,
      layers: config.numLayers,
    }),
  );
  const logits = g.scope('conv_out', () => conv(g, x, w.get(g, 'conv_out.weight', [K, D, 1, 1])));
  if (config.spatial === false) {
    // The mean over h×w before the softmax (not the softmax's mean): the weights still sum to 1 over K.
    const pointWeights = softmaxInFloat32(g, reduceMean(g, logits, [2, 3], true), 1);
    return { fused: weightedSum(g, stackExperts(g, features), pointWeights), weights: expand(g, pointWeights, shape(g, logits)) };
  }
  const expertWeights = softmaxInFloat32(g, logits, 1);
  return { fused: weightedSum(g, stackExperts(g, features), expertWeights), weights: expertWeights };
}
