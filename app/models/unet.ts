// The SD1.x U-Net (diffusers UNet2DConditionModel 0.20) as ONNX graph builders, written once and usable
// in two shapes:
// - whole: `buildUnetGraph` wires every aggregation point in one graph (sample, timestep, text → ε);
// - lock-step: `buildUnetLayerGraphs` makes one graph per AFA aggregation point plus one for the time
//   embedding, so an ensemble can run K experts point by point and fuse their features in between.
// Both call `unetPoint`, so the two shapes compute the same arithmetic by construction; initializers are
// named after the checkpoint tensors, so all these graphs can share one weights file.
//
// Graph I/O (float32, NCHW; 'batch', 'height', 'width', 'tokens' are symbolic):
//   sample [batch, in_channels, height, width]       latents already scaled by the sampler
//   timestep [batch] float32                          see unetTimestep() for int64/float64/0-d inputs
//   encoder_hidden_states [batch, tokens, cross_attention_dim]
//   → noise_pred [batch, out_channels, height, width]
// Any height and width work: as in diffusers, each upsampler resizes to the size of the skip that follows
// it (`upsampleTo`), so latents not divisible by latentSizeMultiple(config) (e.g. 12 for 96 px) line up.
import type { WeightSource } from '../tensor/weights.ts';
import { Graph, type GraphOptions, type Value } from '../onnx/graph.ts';
import { concat, shape } from '../onnx/ops.ts';
import { groupNorm, silu } from '../onnx/layers.ts';
import { ModuleWeights } from './module-weights.ts';
import { conv3x3, resnetBlock2D } from './resnet-block.ts';
import { downsample2D, upsample2D } from './sampling.ts';
import { transformer2D } from './transformer-2d.ts';
import { attentionHeads, type UnetConfig } from './unet-config.ts';
import { unetLayout, upsampleSizeFrom, type UnetPoint } from './unet-layout.ts';
import { unetTimeEmbedding, unetTimeProjection, timeEmbeddingMlp } from './unet-time-embedding.ts';

export { unetTimeEmbedding } from './unet-time-embedding.ts';

/** What a point reads besides the weights. */
export interface UnetPointInputs {
  /** The current feature, [B, point.inChannels, H/inScale, W/inScale]. */
  readonly hidden: Value;
  /** The skip this up layer concatenates after `hidden` on the channel axis (up/output points only). */
  readonly skip?: Value;
  /**
   * Upsampling points only: the tensor whose height and width the upsampler produces (the skip the next
   * point reads; see upsampleSizeFrom). Without it the upsampler doubles, which only fits latents
   * divisible by latentSizeMultiple(config).
   */
  readonly upsampleTo?: Value;
  /** Time embedding [B, 4·C0] (from unetTimeEmbedding). */
  readonly temb: Value;
  /** Text embeddings [B, tokens, cross_attention_dim]. */
  readonly context: Value;
}

/** Adds AFA aggregation point `pointIndex` of the U-Net to `g` and returns its output feature. */
export function unetPoint(g: Graph, weights: WeightSource, config: UnetConfig, pointIndex: number, inputs: UnetPointInputs): Value {
  const point = unetLayout(config)[pointIndex];
  if (!point) throw new RangeError(`unetPoint: point ${pointIndex} does not exist (the config has ${unetLayout(config).length})`);
  return g.scope(`point${String(point.index).padStart(2, '0')}`, () => buildPoint(g, new ModuleWeights(weights), config, point, inputs));
}

function buildPoint(g: Graph, root: ModuleWeights, config: UnetConfig, point: UnetPoint, inputs: UnetPointInputs): Value {
  const { temb, context } = inputs;
  const groups = config.norm_num_groups;
  const resnet = { groups, eps: config.norm_eps, tembChannels: 4 * config.block_out_channels[0] };
  const levels = config.block_out_channels.length;
  const cross = (prefix: string, x: Value, level: number, channels: number) =>
    g.scope(prefix, () =>
      transformer2D(g, root.child(prefix), x, context, {
        channels,
        heads: attentionHeads(config, level),
        contextChannels: config.cross_attention_dim,
        groups,
      }),
    );
  const res = (prefix: string, x: Value, inChannels: number, outChannels: number) =>
    g.scope(prefix, () => resnetBlock2D(g, root.child(prefix), x, temb, { ...resnet, inChannels, outChannels }));

  switch (point.kind) {
    case 'conv-in':
      return conv3x3(g, root, 'conv_in', inputs.hidden, point.inChannels, point.outChannels);
    case 'down': {
      const prefix = `down_blocks.${point.blockIndex}`;
      let h = res(`${prefix}.resnets.${point.layer}`, inputs.hidden, point.inChannels, point.outChannels);
      if (point.attention) h = cross(`${prefix}.attentions.${point.layer}`, h, point.blockIndex, point.outChannels);
      return h;
    }
    case 'downsample': {
      const prefix = `down_blocks.${point.blockIndex}.downsamplers.0`;
      return g.scope(prefix, () => downsample2D(g, root.child(prefix), inputs.hidden, point.inChannels, config.downsample_padding));
    }
    case 'mid': {
      // UNetMidBlock2DCrossAttn: resnet, then (attention, resnet); heads of the deepest level.
      const c = point.inChannels;
      let h = res('mid_block.resnets.0', inputs.hidden, c, c);
      h = cross('mid_block.attentions.0', h, levels - 1, c);
      return res('mid_block.resnets.1', h, c, c);
    }
    case 'up':
    case 'output': {
      if (!inputs.skip) throw new RangeError(`unetPoint: point ${point.index} (${point.name}) needs its skip input`);
      const prefix = `up_blocks.${point.blockIndex}`;
      const width = config.block_out_channels[levels - 1 - point.blockIndex];
      // Up blocks: `hidden_states = torch.cat([hidden_states, res_hidden_states], dim=1)`.
      let h = concat(g, [inputs.hidden, inputs.skip], 1);
      h = res(`${prefix}.resnets.${point.layer}`, h, point.inChannels + point.skipChannels, width);
      if (point.attention) h = cross(`${prefix}.attentions.${point.layer}`, h, levels - 1 - point.blockIndex, width);
      if (point.upsample) {
        const up = `${prefix}.upsamplers.0`;
        h = g.scope(up, () => upsample2D(g, root.child(up), h, width, inputs.upsampleTo));
      }
      return point.kind === 'output' ? outputHead(g, root, config, h) : h;
    }
  }
}

/** conv_norm_out (GroupNorm, norm_eps) → SiLU → conv_out: [B, C0, H, W] → [B, out_channels, H, W]. */
function outputHead(g: Graph, root: ModuleWeights, config: UnetConfig, h: Value): Value {
  const c = config.block_out_channels[0];
  return g.scope('conv_out', () => {
    const normed = groupNorm(g, h, config.norm_num_groups, root.get(g, 'conv_norm_out.weight', [c]), root.get(g, 'conv_norm_out.bias', [c]), config.norm_eps);
    return conv3x3(g, root, 'conv_out', silu(g, normed), c, config.out_channels);
  });
}

/** Declares the U-Net's inputs on `g` and returns noise_pred (not yet marked as an output). */
export function addUnet(g: Graph, weights: WeightSource, config: UnetConfig): { sample: Value; timestep: Value; context: Value; noisePred: Value } {
  const sample = g.computeInput('sample', ['batch', config.in_channels, 'height', 'width']);
  const timestep = g.input('timestep', 'float32', ['batch']);
  const context = g.computeInput('encoder_hidden_states', ['batch', 'tokens', config.cross_attention_dim]);
  const temb = unetTimeEmbedding(g, weights, config, timestep);
  const outputs: Value[] = [];
  let hidden = sample;
  const layout = unetLayout(config);
  for (const point of layout) {
    const skip = point.skipFrom >= 0 ? outputs[point.skipFrom] : undefined;
    const sizeFrom = upsampleSizeFrom(layout, point);
    hidden = unetPoint(g, weights, config, point.index, { hidden, skip, upsampleTo: sizeFrom >= 0 ? outputs[sizeFrom] : undefined, temb, context });
    outputs.push(hidden);
    if (point.kind !== 'output') hidden = pointBoundary(g, hidden);
  }
  return { sample, timestep, context, noisePred: hidden };
}

/**
 * Hands a point's output to the next point in plain NCHW layout, as the layer graphs receive it.
 * Without it, onnxruntime's CPU layout pass keeps the whole graph in its blocked NCHWc format across
 * points and folds residual additions whose operand comes from the previous point into the convolution
 * (NchwcConv with a Sum input), which rounds differently from the separate Add each layer graph does:
 * whole and lock-step results then differ by ~1e-6. A Reshape to the tensor's own shape is not an NCHWc
 * op, so the operand reaches the next point in NCHW and both shapes get the same fusions, bit for bit.
 * It costs the same reorder the layer graphs do at their boundaries.
 */
function pointBoundary(g: Graph, x: Value): Value {
  return g.node({ op: 'Reshape', inputs: [x, shape(g, x)], outputs: [{ dtype: x.dtype, shape: x.shape }] })[0];
}

/** The whole U-Net as one graph: (sample, timestep, encoder_hidden_states) → noise_pred. */
export function buildUnetGraph(weights: WeightSource, config: UnetConfig, name = 'unet', options: GraphOptions = {}): Graph {
  const g = new Graph(name, options);
  const { noisePred } = addUnet(g, weights, config);
  g.output(noisePred, 'noise_pred');
  return g;
}

export interface UnetLayerGraphs {
  /** timestep [batch] float32 → time_proj [batch, C0], temb [batch, 4·C0]. */
  readonly timeEmbedding: Graph;
  /**
   * One graph per aggregation point (index = point index). Inputs: hidden, temb, context, and skip for
   * the up/output points, and `upsample_to` (the skip the next point reads, for its size) for the points
   * that end with an upsampler; output: feature. Every point graph declares temb and context, used or
   * not, so a lock-step runner feeds each the same way.
   */
  readonly points: readonly Graph[];
}

/** The U-Net cut at its aggregation points: one graph per point plus the time embedding. */
export function buildUnetLayerGraphs(weights: WeightSource, config: UnetConfig, name = 'unet', options: GraphOptions = {}): UnetLayerGraphs {
  const time = new Graph(`${name}_time_embedding`, options);
  const timestep = time.input('timestep', 'float32', ['batch']);
  const projected = unetTimeProjection(time, config, timestep);
  time.output(projected, 'time_proj');
  time.output(timeEmbeddingMlp(time, weights, config, projected), 'temb');

  const c0 = config.block_out_channels[0];
  const layout = unetLayout(config);
  const points = layout.map((point) => {
    const g = new Graph(`${name}_point${String(point.index).padStart(2, '0')}`, options);
    const size = (scale: number): string[] => (scale === 1 ? ['height', 'width'] : [`height/${scale}`, `width/${scale}`]);
    const hidden = g.computeInput('hidden', ['batch', point.inChannels, ...size(point.inScale)]);
    const skip = point.skipFrom >= 0 ? g.computeInput('skip', ['batch', point.skipChannels, ...size(point.inScale)]) : undefined;
    const sizeFrom = upsampleSizeFrom(layout, point);
    const sizePoint = layout[sizeFrom];
    const upsampleTo = sizePoint ? g.computeInput('upsample_to', ['batch', sizePoint.outChannels, ...size(sizePoint.outScale)]) : undefined;
    const temb = g.computeInput('temb', ['batch', 4 * c0]);
    const context = g.computeInput('context', ['batch', 'tokens', config.cross_attention_dim]);
    g.output(unetPoint(g, weights, config, point.index, { hidden, skip, upsampleTo, temb, context }), 'feature');
    return g;
  });
  return { timeEmbedding: time, points };
}
