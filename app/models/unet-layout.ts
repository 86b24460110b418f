// The AFA aggregation points of a U-Net (AFA, ICLR 2025; Tenvence/afa UNet2DConditionAggregatorModel):
// the U-Net is cut after conv_in, after every resnet(+attention) layer and every down/up-sampler, after
// the mid block, and once more at the very end, where the last layer of the last up block, conv_norm_out,
// SiLU and conv_out form one point. For SD1.5 that is 25 points (IN00..IN11, M00, OUT00..OUT10, OUT11+out).
// The list is derived from the config, so any config of the family gets its own consistent layout.
//
// Skips follow diffusers: every down-side point pushes its output; every up-side layer concatenates
// (channel axis, after its input) the most recently pushed output and pops it.
import type { UnetConfig } from './unet-config.ts';

export type UnetPointKind = 'conv-in' | 'down' | 'downsample' | 'mid' | 'up' | 'output';

export interface UnetPoint {
  readonly index: number;
  /** Diffusers modules the point applies, as in the golden manifest, e.g. `down_blocks.0.resnets.1+attentions.1`. */
  readonly name: string;
  /** LDM/MBW block name: IN00.., M00, OUT00..; the last point is the last OUT block plus the output head. */
  readonly block: string;
  readonly kind: UnetPointKind;
  /** Index of the down block (kinds down/downsample) or up block (up/output); -1 otherwise. */
  readonly blockIndex: number;
  /** Resnet index inside that block (down/up/output); -1 otherwise. */
  readonly layer: number;
  /** Whether the layer has a Transformer2DModel (cross-attention) after its resnet. */
  readonly attention: boolean;
  /** Whether the point ends with the block's 2x upsampler. */
  readonly upsample: boolean;
  /** Channels of the hidden state entering the point ([B, inChannels, H/inScale, W/inScale]). */
  readonly inChannels: number;
  /** Channels of the skip it concatenates (0 when none). */
  readonly skipChannels: number;
  readonly outChannels: number;
  /** Spatial downscale factor of the input and output relative to the latent (1, 2, 4, 8 for SD1.5). */
  readonly inScale: number;
  readonly outScale: number;
  /** Index of the point whose output this point concatenates as its skip, or -1. */
  readonly skipFrom: number;
  /** Whether its output is pushed on the skip stack. */
  readonly pushesSkip: boolean;
  /** Weight-name prefixes (diffusers) this point reads. */
  readonly modules: readonly string[];
}

export function unetLayout(config: UnetConfig): readonly UnetPoint[] {
  const points: UnetPoint[] = [];
  const stack: { index: number; channels: number }[] = [];
  const channels = config.block_out_channels;
  const levels = channels.length;
  let scale = 1;
  let current = channels[0];

  const add = (point: Omit<UnetPoint, 'index'>): void => {
    const index = points.length;
    points.push(Object.freeze({ index, ...point, modules: Object.freeze([...point.modules]) }));
    if (point.pushesSkip) stack.push({ index, channels: point.outChannels });
  };
  const inBlock = (): string => `IN${String(points.length).padStart(2, '0')}`;

  add({
    name: 'conv_in', block: inBlock(), kind: 'conv-in', blockIndex: -1, layer: -1, attention: false, upsample: false,
    inChannels: config.in_channels, skipChannels: 0, outChannels: current, inScale: 1, outScale: 1,
    skipFrom: -1, pushesSkip: true, modules: ['conv_in'],
  });

  for (let level = 0; level < levels; level++) {
    const attention = config.down_block_types[level] === 'CrossAttnDownBlock2D';
    for (let layer = 0; layer < config.layers_per_block; layer++) {
      const prefix = `down_blocks.${level}`;
      const modules = [`${prefix}.resnets.${layer}`, ...(attention ? [`${prefix}.attentions.${layer}`] : [])];
      add({
        name: attention ? `${prefix}.resnets.${layer}+attentions.${layer}` : `${prefix}.resnets.${layer}`,
        block: inBlock(), kind: 'down', blockIndex: level, layer, attention, upsample: false,
        inChannels: current, skipChannels: 0, outChannels: channels[level], inScale: scale, outScale: scale,
        skipFrom: -1, pushesSkip: true, modules,
      });
      current = channels[level];
    }
    if (level < levels - 1) {
      add({
        name: `down_blocks.${level}.downsamplers`, block: inBlock(), kind: 'downsample', blockIndex: level, layer: -1,
        attention: false, upsample: false, inChannels: current, skipChannels: 0, outChannels: current,
        inScale: scale, outScale: scale * 2, skipFrom: -1, pushesSkip: true, modules: [`down_blocks.${level}.downsamplers.0`],
      });
      scale *= 2;
    }
  }

  add({
    name: 'mid_block', block: 'M00', kind: 'mid', blockIndex: -1, layer: -1, attention: true, upsample: false,
    inChannels: current, skipChannels: 0, outChannels: current, inScale: scale, outScale: scale,
    skipFrom: -1, pushesSkip: false, modules: ['mid_block'],
  });

  let outBlock = 0;
  for (let block = 0; block < levels; block++) {
    const width = channels[levels - 1 - block];
    const attention = config.up_block_types[block] === 'CrossAttnUpBlock2D';
    const layers = config.layers_per_block + 1;
    for (let layer = 0; layer < layers; layer++) {
      const skip = stack.pop();
      if (!skip) throw new Error('unetLayout: skip stack underflow (down and up blocks do not mirror each other)');
      const prefix = `up_blocks.${block}`;
      const last = layer === layers - 1;
      const upsample = last && block < levels - 1;
      const output = last && block === levels - 1;
      const parts = [`resnets.${layer}`, ...(attention ? [`attentions.${layer}`] : []), ...(upsample ? ['upsamplers'] : [])];
      const modules = [
        `${prefix}.resnets.${layer}`,
        ...(attention ? [`${prefix}.attentions.${layer}`] : []),
        ...(upsample ? [`${prefix}.upsamplers.0`] : []),
        ...(output ? ['conv_norm_out', 'conv_out'] : []),
      ];
      const mbw = `OUT${String(outBlock++).padStart(2, '0')}`;
      add({
        name: output ? 'conv_norm_out+conv_act+conv_out' : `${prefix}.${parts.join('+')}`,
        block: output ? `${mbw}+out` : mbw,
        kind: output ? 'output' : 'up', blockIndex: block, layer, attention, upsample,
        inChannels: current, skipChannels: skip.channels, outChannels: output ? config.out_channels : width,
        inScale: scale, outScale: upsample ? scale / 2 : scale, skipFrom: skip.index, pushesSkip: false, modules,
      });
      current = width;
      if (upsample) scale /= 2;
    }
  }
  if (stack.length !== 0) throw new Error('unetLayout: skips left on the stack (down and up blocks do not mirror each other)');
  return Object.freeze(points);
}

/** Latent height/width must be divisible by this (2^number of downsamplers; 8 for SD1.5, i.e. 64 px). */
export function latentSizeMultiple(config: UnetConfig): number {
  return 2 ** (config.block_out_channels.length - 1);
}

/**
 * For an upsampling point, the index of the point whose output sets the upsampler's size: the skip the
 * next point concatenates (diffusers: `upsample_size = down_block_res_samples[-1].shape[2:]`). -1 for
 * points without an upsampler.
 */
export function upsampleSizeFrom(layout: readonly UnetPoint[], point: UnetPoint): number {
  if (!point.upsample) return -1;
  return layout[point.index + 1]?.skipFrom ?? -1;
}
