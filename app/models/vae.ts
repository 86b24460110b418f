// diffusers AutoencoderKL (0.20) as two ONNX graphs.
//   decoder: latents (pipeline space) → /scaling_factor → post_quant_conv → conv_in → mid block →
//            up blocks (layers_per_block + 1 resnets, 2x upsampler except the last) → GroupNorm → SiLU →
//            conv_out → image [B, out_channels, 8h, 8w] in ~[-1, 1] (unclamped), i.e.
//            `vae.decode(latents / scaling_factor).sample`. The division is inside the graph so callers
//            pass the sampler's latents as they are.
//   encoder: image [B, in_channels, H, W] in [-1, 1] → conv_in → down blocks (2x downsampler with
//            right/bottom padding except the last) → mid block → GroupNorm → SiLU → conv_out → quant_conv
//            → DiagonalGaussianDistribution: mean, logvar clamped to [-30, 20], std = exp(logvar / 2),
//            and scaled_mean = mean × scaling_factor (pipeline latents, as img2img uses them).
// Every resnet and norm of the VAE uses eps 1e-6 and norm_num_groups groups; no time embedding.
import type { WeightSource } from '../tensor/weights.ts';
import { Graph, type GraphOptions, type Value } from '../onnx/graph.ts';
import { add, conv, div, exp, mul, reshape, shape, split, transpose } from '../onnx/ops.ts';
import { groupNorm, silu } from '../onnx/layers.ts';
import { diffusersAttention } from './attention.ts';
import { ModuleWeights } from './module-weights.ts';
import { conv3x3, resnetBlock2D } from './resnet-block.ts';
import { downsample2D, upsample2D } from './sampling.ts';
import type { VaeConfig } from './vae-config.ts';

const VAE_EPS = 1e-6;

export function buildVaeDecoderGraph(weights: WeightSource, config: VaeConfig, name = 'vae_decoder', options: GraphOptions = {}): Graph {
  const g = new Graph(name, options);
  const latents = g.computeInput('latents', ['batch', config.latent_channels, 'height', 'width']);
  g.output(addVaeDecoder(g, weights, config, latents), 'image');
  return g;
}

export function buildVaeEncoderGraph(weights: WeightSource, config: VaeConfig, name = 'vae_encoder', options: GraphOptions = {}): Graph {
  const g = new Graph(name, options);
  const image = g.computeInput('image', ['batch', config.in_channels, 'height', 'width']);
  const { mean, logvar, std, scaledMean } = addVaeEncoder(g, weights, config, image);
  g.output(mean, 'mean');
  g.output(logvar, 'logvar');
  g.output(std, 'std');
  g.output(scaledMean, 'scaled_mean');
  return g;
}

/** Pipeline-space latents [B, L, h, w] → image [B, out, 8h, 8w] (for 4 levels). */
export function addVaeDecoder(g: Graph, weights: WeightSource, config: VaeConfig, latents: Value): Value {
  const root = new ModuleWeights(weights);
  const channels = config.block_out_channels;
  const levels = channels.length;
  const groups = config.norm_num_groups;
  const latent = config.latent_channels;
  let h = div(g, latents, Math.fround(config.scaling_factor));
  h = conv(g, h, root.get(g, 'post_quant_conv.weight', [latent, latent, 1, 1]), root.get(g, 'post_quant_conv.bias', [latent]));
  const d = root.child('decoder');
  let current = channels[levels - 1];
  h = g.scope('decoder.conv_in', () => conv3x3(g, d, 'conv_in', h, latent, current));
  h = g.scope('decoder.mid_block', () => midBlock(g, d.child('mid_block'), h, current, groups));
  for (let block = 0; block < levels; block++) {
    const width = channels[levels - 1 - block];
    const w = d.child(`up_blocks.${block}`);
    h = g.scope(`decoder.up_blocks.${block}`, () => {
      let x = h;
      for (let layer = 0; layer <= config.layers_per_block; layer++) {
        const inChannels = layer === 0 ? current : width;
        x = g.scope(`resnets.${layer}`, () =>
          resnetBlock2D(g, w.child(`resnets.${layer}`), x, undefined, { inChannels, outChannels: width, groups, eps: VAE_EPS }),
        );
      }
      if (block < levels - 1) x = g.scope('upsamplers.0', () => upsample2D(g, w.child('upsamplers.0'), x, width));
      return x;
    });
    current = width;
  }
  return g.scope('decoder.conv_out', () => outputHead(g, d, h, channels[0], config.out_channels, groups));
}

/** Image [B, in, H, W] → the latent distribution's mean, clamped logvar, std and scaled mean. */
export function addVaeEncoder(g: Graph, weights: WeightSource, config: VaeConfig, image: Value): { mean: Value; logvar: Value; std: Value; scaledMean: Value } {
  const root = new ModuleWeights(weights);
  const channels = config.block_out_channels;
  const levels = channels.length;
  const groups = config.norm_num_groups;
  const latent = config.latent_channels;
  const e = root.child('encoder');
  let h = g.scope('encoder.conv_in', () => conv3x3(g, e, 'conv_in', image, config.in_channels, channels[0]));
  let current = channels[0];
  for (let level = 0; level < levels; level++) {
    const width = channels[level];
    const w = e.child(`down_blocks.${level}`);
    h = g.scope(`encoder.down_blocks.${level}`, () => {
      let x = h;
      for (let layer = 0; layer < config.layers_per_block; layer++) {
        const inChannels = layer === 0 ? current : width;
        x = g.scope(`resnets.${layer}`, () =>
          resnetBlock2D(g, w.child(`resnets.${layer}`), x, undefined, { inChannels, outChannels: width, groups, eps: VAE_EPS }),
        );
      }
      // The encoder's Downsample2D has padding 0: F.pad(x, (0, 1, 0, 1)) then a stride-2 conv.
      if (level < levels - 1) x = g.scope('downsamplers.0', () => downsample2D(g, w.child('downsamplers.0'), x, width, 0));
      return x;
    });
    current = width;
  }
  h = g.scope('encoder.mid_block', () => midBlock(g, e.child('mid_block'), h, current, groups));
  h = g.scope('encoder.conv_out', () => outputHead(g, e, h, current, 2 * latent, groups));
  const moments = conv(g, h, root.get(g, 'quant_conv.weight', [2 * latent, 2 * latent, 1, 1]), root.get(g, 'quant_conv.bias', [2 * latent]));
  return g.scope('latent_dist', () => {
    const [mean, rawLogvar] = split(g, moments, [latent, latent], 1);
    const logvar = clip(g, rawLogvar, -30, 20);
    const std = exp(g, mul(g, logvar, 0.5));
    const scaledMean = mul(g, mean, Math.fround(config.scaling_factor));
    return { mean, logvar, std, scaledMean };
  });
}

/** UNetMidBlock2D: resnet, single-head self-attention with its own GroupNorm (residual), resnet. */
function midBlock(g: Graph, w: ModuleWeights, x: Value, channels: number, groups: number): Value {
  const resnet = { inChannels: channels, outChannels: channels, groups, eps: VAE_EPS };
  let h = g.scope('resnets.0', () => resnetBlock2D(g, w.child('resnets.0'), x, undefined, resnet));
  h = g.scope('attentions.0', () => spatialSelfAttention(g, w.child('attentions.0'), h, channels, groups));
  return g.scope('resnets.1', () => resnetBlock2D(g, w.child('resnets.1'), h, undefined, resnet));
}

/**
 * diffusers Attention(C, heads=1, dim_head=C, norm_num_groups, residual_connection, bias) on an image
 * x [B, C, H, W]: GroupNorm over [B, C, HW] (the same groups as over [B, C, H, W]), attention over the
 * HW positions, to_out, back to [B, C, H, W], plus x.
 */
function spatialSelfAttention(g: Graph, w: ModuleWeights, x: Value, channels: number, groups: number): Value {
  const normed = groupNorm(g, x, groups, w.get(g, 'group_norm.weight', [channels]), w.get(g, 'group_norm.bias', [channels]), VAE_EPS);
  const sequence = transpose(g, reshape(g, normed, [0, channels, -1]), [0, 2, 1]); // [B, HW, C]
  const attended = diffusersAttention(g, w, sequence, undefined, { heads: 1, queryChannels: channels, contextChannels: channels, qkvBias: true });
  const back = transpose(g, attended, [0, 2, 1]); // [B, C, HW]
  const spatial = g.node({ op: 'Reshape', inputs: [back, shape(g, x)], outputs: [{ dtype: x.dtype, shape: x.shape }] })[0];
  return add(g, spatial, x);
}

/** conv_norm_out (GroupNorm eps 1e-6) → SiLU → conv_out (3x3). */
function outputHead(g: Graph, w: ModuleWeights, x: Value, inChannels: number, outChannels: number, groups: number): Value {
  const normed = groupNorm(g, x, groups, w.get(g, 'conv_norm_out.weight', [inChannels]), w.get(g, 'conv_norm_out.bias', [inChannels]), VAE_EPS);
  return conv3x3(g, w, 'conv_out', silu(g, normed), inChannels, outChannels);
}

/** torch.clamp(x, low, high) (ONNX Clip with min/max inputs). */
function clip(g: Graph, x: Value, low: number, high: number): Value {
  return g.node({ op: 'Clip', inputs: [x, g.scalar(low, x.dtype), g.scalar(high, x.dtype)], outputs: [{ dtype: x.dtype, shape: x.shape }] })[0];
}

