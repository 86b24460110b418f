// The VAE description: diffusers' AutoencoderKL config.json field names (vae/config.json).
import { ConfigReader } from './config-reader.ts';

export interface VaeConfig {
  readonly in_channels: number;
  readonly out_channels: number;
  /** Channels per resolution level, encoder order (the decoder walks them in reverse). */
  readonly block_out_channels: readonly number[];
  /** Resnets per encoder block; decoder blocks have one more. */
  readonly layers_per_block: number;
  readonly latent_channels: number;
  readonly norm_num_groups: number;
  readonly act_fn: 'silu';
  /** Pipeline latents = VAE mean × scaling_factor; the decoder divides by it first. */
  readonly scaling_factor: number;
  /** Image edge length the VAE was trained at; informational. */
  readonly sample_size: number;
}

/** runwayml/stable-diffusion-v1-5 vae/config.json. */
export const SD15_VAE_CONFIG: VaeConfig = Object.freeze({
  in_channels: 3,
  out_channels: 3,
  block_out_channels: Object.freeze([128, 256, 512, 512]),
  layers_per_block: 2,
  latent_channels: 4,
  norm_num_groups: 32,
  act_fn: 'silu',
  scaling_factor: 0.18215,
  sample_size: 512,
});

export function parseVaeConfig(json: unknown, source = 'VAE config.json'): VaeConfig {
  const reader = new ConfigReader(json, source);
  const levels = reader.integers('block_out_channels', [64]).length;
  for (const key of ['down_block_types', 'up_block_types'] as const) {
    const kind = key === 'down_block_types' ? 'DownEncoderBlock2D' : 'UpDecoderBlock2D';
    const types = reader.choices(key, [kind], new Array<typeof kind>(levels).fill(kind));
    if (types.length !== levels) throw reader.mismatch(`${key} lists ${types.length} blocks for ${levels} block_out_channels`);
  }
  reader.refuse('use_quant_conv', [true], 'VAEs without quant_conv');
  reader.refuse('use_post_quant_conv', [true], 'VAEs without post_quant_conv');
  reader.refuse('mid_block_add_attention', [true], 'VAEs without mid-block attention');
  reader.refuse('shift_factor', [0], 'shifted latents (SD3/Flux VAEs)');
  reader.refuse('latents_mean', [], 'per-channel latent statistics');
  reader.refuse('latents_std', [], 'per-channel latent statistics');
  const config: VaeConfig = {
    in_channels: reader.integer('in_channels', 3),
    out_channels: reader.integer('out_channels', 3),
    block_out_channels: reader.integers('block_out_channels', [64]),
    layers_per_block: reader.integer('layers_per_block', 1),
    latent_channels: reader.integer('latent_channels', 4),
    norm_num_groups: reader.integer('norm_num_groups', 32),
    act_fn: reader.choice('act_fn', ['silu'], 'silu'),
    scaling_factor: reader.number('scaling_factor', 0.18215),
    sample_size: reader.integer('sample_size', 512),
  };
  for (const [level, width] of config.block_out_channels.entries()) {
    if (width % config.norm_num_groups !== 0) {
      throw reader.mismatch(`block_out_channels[${level}] = ${width} is not divisible by norm_num_groups = ${config.norm_num_groups}`);
    }
  }
  if (!(config.scaling_factor > 0)) throw reader.mismatch(`scaling_factor must be positive, got ${config.scaling_factor}`);
  return Object.freeze(config);
}
