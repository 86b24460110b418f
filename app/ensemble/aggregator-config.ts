// The shape of one SABW aggregator (AFA paper §3.2; the official `Aggregator` class): concat of the N
// experts' features [B, N·C, h, w] → 1×1 conv to `hiddenSize` → ResnetBlock2D conditioned on the
// timestep embedding → Transformer2DModel (self-attn, cross-attn to the prompt, GEGLU FF; `numLayers`)
// → 1×1 conv (no bias) to N channels → softmax over the experts per pixel.
// `spatial: false` is the paper's ablation without spatial awareness (one weight per expert per point):
// the same layers and weights, with conv_out's logits averaged over h×w before the softmax.
import { UserError } from '../common/errors.ts';

export interface AggregatorConfig {
  /** Channels C of the features it fuses (the aggregation point's channels). */
  readonly inChannels: number;
  readonly hiddenSize: number;
  readonly numExperts: number;
  /** BasicTransformerBlocks in the transformer. */
  readonly numLayers: number;
  readonly numAttentionHeads: number;
  /** Width of the prompt embedding (768 for SD1.x). */
  readonly crossAttentionDim: number;
  /** Width of the timestep embedding (4 × block_out_channels[0]). */
  readonly timeEmbeddingChannels: number;
  /**
   * false: the ablation without spatial awareness — the logits are averaged over h×w before the softmax,
   * so each expert gets one weight per point (still per sample, timestep and prompt). Absent or true: the
   * paper's per-pixel SABW weights. Only the studio's format records it (the official code has no such
   * aggregator; its config.json gets a `spatial: false` key it would ignore).
   */
  readonly spatial?: boolean;
}

/** SD1.5 as released by the AFA authors: hidden 128, 8 heads, 2 transformer layers. */
/** The width, heads and depth of an aggregator (what a new set is built with). */
export interface AggregatorSize {
  readonly hiddenSize: number;
  readonly numAttentionHeads: number;
  readonly numLayers: number;
  /** false: the ablation without spatial awareness (AggregatorConfig.spatial). */
  readonly spatial?: boolean;
}

export const SD15_AGGREGATOR_DEFAULTS: AggregatorSize = Object.freeze({ hiddenSize: 128, numAttentionHeads: 8, numLayers: 2 });

/** GroupNorm inside the official aggregator uses diffusers' defaults: 32 groups, ε = 1e-6. */
export const AGGREGATOR_NORM_GROUPS = 32;
export const AGGREGATOR_NORM_EPS = 1e-6;

function positiveInteger(json: Record<string, unknown>, key: string, source: string): number {
  const value = json[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new UserError('corrupt-file', `${source}: '${key}' must be a positive whole number, got ${JSON.stringify(value)}.`);
  }
  return value;
}

/** Reads the official `aggregator_{i}/config.json` (snake_case keys written by `Aggregator.save_pretrained`). */
export function parseOfficialAggregatorConfig(json: unknown, source: string): AggregatorConfig {
  if (typeof json !== 'object' || json === null) throw new UserError('corrupt-file', `${source} is not a JSON object.`);
  const raw = json as Record<string, unknown>;
  const config: AggregatorConfig = {
    inChannels: positiveInteger(raw, 'in_channels', source),
    hiddenSize: positiveInteger(raw, 'hidden_size', source),
    numExperts: positiveInteger(raw, 'num_experts', source),
    numLayers: positiveInteger(raw, 'num_layers', source),
    numAttentionHeads: positiveInteger(raw, 'num_attn_heads', source),
    crossAttentionDim: positiveInteger(raw, 'cross_attn_dim', source),
    timeEmbeddingChannels: positiveInteger(raw, 'temb_channels', source),
    ...(raw.spatial === undefined ? {} : { spatial: raw.spatial as boolean }),
  };
  return validateAggregatorConfig(config, source);
}

export function toOfficialAggregatorConfig(config: AggregatorConfig): Record<string, number | boolean> {
  return {
    in_channels: config.inChannels,
    hidden_size: config.hiddenSize,
    num_experts: config.numExperts,
    num_layers: config.numLayers,
    num_attn_heads: config.numAttentionHeads,
    cross_attn_dim: config.crossAttentionDim,
    temb_channels: config.timeEmbeddingChannels,
    ...(config.spatial === false ? { spatial: false } : {}),
  };
}

export function validateAggregatorConfig(config: AggregatorConfig, source: string): AggregatorConfig {
  if (config.spatial !== undefined && typeof config.spatial !== 'boolean') {
    throw new UserError('corrupt-file', `${source}: 'spatial' must be true or false, got ${JSON.stringify(config.spatial)}.`);
  }
  if (config.hiddenSize % AGGREGATOR_NORM_GROUPS !== 0) {
    throw new UserError('unsupported', `${source}: hidden size ${config.hiddenSize} is not a multiple of ${AGGREGATOR_NORM_GROUPS} (the aggregator's GroupNorm groups).`);
  }
  if (config.hiddenSize % config.numAttentionHeads !== 0) {
    throw new UserError('unsupported', `${source}: hidden size ${config.hiddenSize} is not divisible by ${config.numAttentionHeads} heads.`);
  }
  return Object.freeze({ ...config });
}
