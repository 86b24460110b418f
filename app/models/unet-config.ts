// The U-Net description the builders take: diffusers' UNet2DConditionModel config.json field names
// (diffusers 0.20), restricted to what the Stable Diffusion 1.x family uses. Anything that would change
// the computation in a way the builders do not implement is refused when the config is parsed.
import { ConfigReader } from './config-reader.ts';

export type UnetDownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';
export type UnetUpBlockType = 'UpBlock2D' | 'CrossAttnUpBlock2D';

export interface UnetConfig {
  /** Latent edge length the model was trained at (64 for SD1.5 = 512 px); informational. */
  readonly sample_size: number;
  readonly in_channels: number;
  readonly out_channels: number;
  readonly down_block_types: readonly UnetDownBlockType[];
  readonly up_block_types: readonly UnetUpBlockType[];
  /** Channels of each resolution level, e.g. [320, 640, 1280, 1280]; C0 = block_out_channels[0]. */
  readonly block_out_channels: readonly number[];
  readonly layers_per_block: number;
  /**
   * SD1.x semantics: the NUMBER of attention heads (diffusers keeps the misnamed field for backwards
   * compatibility: `num_attention_heads = num_attention_heads or attention_head_dim`). One value for all
   * levels or one per down block (up blocks use the reversed list, as diffusers does).
   */
  readonly attention_head_dim: number | readonly number[];
  /** Width of the text embeddings the cross-attention reads, [B, 77, cross_attention_dim]. */
  readonly cross_attention_dim: number;
  readonly norm_num_groups: number;
  readonly norm_eps: number;
  readonly act_fn: 'silu';
  readonly flip_sin_to_cos: boolean;
  readonly freq_shift: number;
  readonly downsample_padding: number;
  readonly use_linear_projection: false;
  readonly upcast_attention: false;
}

/** runwayml/stable-diffusion-v1-5 unet/config.json (860M parameters). */
export const SD15_UNET_CONFIG: UnetConfig = Object.freeze({
  sample_size: 64,
  in_channels: 4,
  out_channels: 4,
  down_block_types: Object.freeze(['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'] as const),
  up_block_types: Object.freeze(['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'] as const),
  block_out_channels: Object.freeze([320, 640, 1280, 1280]),
  layers_per_block: 2,
  attention_head_dim: 8,
  cross_attention_dim: 768,
  norm_num_groups: 32,
  norm_eps: 1e-5,
  act_fn: 'silu',
  flip_sin_to_cos: true,
  freq_shift: 0,
  downsample_padding: 1,
  use_linear_projection: false,
  upcast_attention: false,
});

/** Parses a diffusers unet/config.json; throws UserError naming the field for anything unsupported. */
export function parseUnetConfig(json: unknown, source = 'U-Net config.json'): UnetConfig {
  const reader = new ConfigReader(json, source);
  // Fields whose non-default values select architectures (SD2 projections, SDXL add-embeddings,
  // class conditioning, ...) that the graph builders do not implement.
  reader.refuse('center_input_sample', [false], 'input re-centering');
  reader.refuse('mid_block_type', ['UNetMidBlock2DCrossAttn'], 'other mid blocks');
  reader.refuse('only_cross_attention', [false], 'cross-attention-only transformer blocks');
  reader.refuse('dual_cross_attention', [false], 'dual cross-attention');
  reader.refuse('use_linear_projection', [false], 'SD 2.x-style linear projections');
  reader.refuse('upcast_attention', [false], 'upcast attention');
  reader.refuse('class_embed_type', [], 'class embeddings');
  reader.refuse('num_class_embeds', [], 'class embeddings');
  reader.refuse('addition_embed_type', [], 'additional embeddings (SDXL)');
  reader.refuse('encoder_hid_dim', [], 'encoder hidden projections');
  reader.refuse('encoder_hid_dim_type', [], 'encoder hidden projections');
  reader.refuse('time_cond_proj_dim', [], 'timestep conditioning projections');
  reader.refuse('time_embedding_type', ['positional'], 'Fourier time embeddings');
  reader.refuse('time_embedding_dim', [], 'custom time embedding widths');
  reader.refuse('time_embedding_act_fn', [], 'extra time embedding activations');
  reader.refuse('timestep_post_act', [], 'post-activation of the time embedding');
  reader.refuse('resnet_time_scale_shift', ['default'], 'scale-shift time conditioning');
  reader.refuse('resnet_skip_time_act', [false], 'skipping the time activation');
  reader.refuse('resnet_out_scale_factor', [1], 'scaled residual outputs');
  reader.refuse('mid_block_scale_factor', [1], 'scaled mid-block outputs');
  reader.refuse('conv_in_kernel', [3], 'other input kernel sizes');
  reader.refuse('conv_out_kernel', [3], 'other output kernel sizes');
  reader.refuse('cross_attention_norm', [], 'normalised cross-attention inputs');
  reader.refuse('transformer_layers_per_block', [1], 'several transformer layers per block');
  reader.refuse('attention_type', ['default'], 'gated attention');
  reader.refuse('mid_block_only_cross_attention', [false], 'cross-attention-only mid blocks');

  const downBlockTypes = reader.choices<UnetDownBlockType>('down_block_types', ['CrossAttnDownBlock2D', 'DownBlock2D']);
  const upBlockTypes = reader.choices<UnetUpBlockType>('up_block_types', ['UpBlock2D', 'CrossAttnUpBlock2D']);
  const blockOutChannels = reader.integers('block_out_channels');
  const levels = blockOutChannels.length;
  if (downBlockTypes.length !== levels || upBlockTypes.length !== levels) {
    throw reader.mismatch(
      `down_block_types (${downBlockTypes.length}), up_block_types (${upBlockTypes.length}) and block_out_channels (${levels}) must have the same length`,
    );
  }
  const heads = readHeads(reader, levels);
  const groups = reader.integer('norm_num_groups', 32);
  const config: UnetConfig = {
    sample_size: reader.integer('sample_size', 64),
    in_channels: reader.integer('in_channels', 4),
    out_channels: reader.integer('out_channels', 4),
    down_block_types: downBlockTypes,
    up_block_types: upBlockTypes,
    block_out_channels: blockOutChannels,
    layers_per_block: reader.integer('layers_per_block', 2),
    attention_head_dim: heads,
    cross_attention_dim: reader.integer('cross_attention_dim', 1280),
    norm_num_groups: groups,
    norm_eps: reader.number('norm_eps', 1e-5),
    act_fn: reader.choice('act_fn', ['silu'], 'silu'),
    flip_sin_to_cos: reader.boolean('flip_sin_to_cos', true),
    freq_shift: reader.integer('freq_shift', 0, 0),
    downsample_padding: reader.integer('downsample_padding', 1, 0),
    use_linear_projection: false,
    upcast_attention: false,
  };
  checkUnetConsistency(config, reader);
  return Object.freeze(config);
}

/** Number of attention heads of down block `level` (up blocks mirror it: up block i uses level n-1-i). */
export function attentionHeads(config: UnetConfig, level: number): number {
  const heads = config.attention_head_dim;
  return typeof heads === 'number' ? heads : heads[level];
}

function readHeads(reader: ConfigReader, levels: number): number | readonly number[] {
  // diffusers: `num_attention_heads = num_attention_heads or attention_head_dim`.
  const key = reader.has('num_attention_heads') ? 'num_attention_heads' : 'attention_head_dim';
  const value = reader.raw(key);
  if (Array.isArray(value)) {
    const list = reader.integers(key);
    if (list.length !== levels) throw reader.mismatch(`${key} lists ${list.length} values for ${levels} blocks`);
    return list;
  }
  return reader.integer(key, 8);
}

function checkUnetConsistency(config: UnetConfig, reader: ConfigReader): void {
  const channels = config.block_out_channels;
  for (const [level, width] of channels.entries()) {
    if (width % config.norm_num_groups !== 0) {
      throw reader.mismatch(`block_out_channels[${level}] = ${width} is not divisible by norm_num_groups = ${config.norm_num_groups}`);
    }
    const heads = attentionHeads(config, level);
    if (width % heads !== 0) throw reader.mismatch(`block_out_channels[${level}] = ${width} is not divisible by ${heads} attention heads`);
  }
  if (config.block_out_channels[0] % 2 !== 0) throw reader.mismatch('block_out_channels[0] must be even (sinusoidal time embedding)');
}
