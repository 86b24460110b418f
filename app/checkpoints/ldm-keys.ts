// Tensor names of the original CompVis/LDM single-file layout and the diffusers names they become,
// derived from the component configs the way diffusers' convert_ldm_unet_checkpoint,
// convert_ldm_vae_checkpoint and convert_ldm_clip_checkpoint (v0.20–0.27) walk the modules:
//
// UNet (`model.diffusion_model.`), with L = layers_per_block and n = len(block_out_channels):
//   input_blocks.0.0                → conv_in;   time_embed.{0,2} → time_embedding.linear_{1,2}
//   input_blocks.{1+i(L+1)+j}.{0,1} → down_blocks.i.{resnets,attentions}.j          (j < L)
//   input_blocks.{(i+1)(L+1)}.0.op  → down_blocks.i.downsamplers.0.conv             (i < n-1)
//   middle_block.{0,1,2}            → mid_block.resnets.0, mid_block.attentions.0, mid_block.resnets.1
//   output_blocks.{i(L+1)+j}.{0,1}  → up_blocks.i.{resnets,attentions}.j            (j ≤ L)
//   output_blocks.{i(L+1)+L}.{1|2}.conv → up_blocks.i.upsamplers.0.conv (index 2 after an attention)
//   out.{0,2}                       → conv_norm_out, conv_out
// ResBlock leaves in_layers.{0,2}, emb_layers.1, out_layers.{0,3}, skip_connection become norm1, conv1,
// time_emb_proj, norm2, conv2, conv_shortcut; SpatialTransformer leaves keep their names.
//
// VAE (`first_stage_model.`): encoder.down.i.block.j / decoder.up.{n-1-i}.block.j → resnets, mid.block_{1,2}
// and mid.attn_1 → mid_block, nin_shortcut → conv_shortcut. The mid attention's q/k/v/proj_out are 1×1
// convolutions [C, C, 1, 1] in LDM and linear layers [C, C] (to_q/to_k/to_v/to_out.0) in diffusers: same
// bytes, another shape (`reshape`).
//
// Text encoder: `cond_stage_model.transformer.text_model.*` → `text_model.*` (transformers ≥ 4.x layout);
// checkpoints saved with older transformers lack the `text_model.` level.
import type { TextEncoderLayout, UnetLayout, VaeLayout } from './component-config.ts';

export interface KeyMapping {
  readonly diffusers: string;
  readonly ldm: string;
}

/**
 * A merge-block-weighted block in the sd-webui MBW convention (bbc-mc/sdweb-merge-block-weighted-gui):
 * 'IN00'..'IN11', 'M00', 'OUT00'..'OUT11'; 'base' for every tensor outside the UNet (VAE, text encoder),
 * which MBW merges with base_alpha.
 */
export type MbwBlock = string;

export interface UnetKeyMapping extends KeyMapping {
  readonly block: MbwBlock;
}

export interface VaeKeyMapping extends KeyMapping {
  /** The LDM tensor is a 1×1 conv weight [C, C, 1, 1]; diffusers holds it as a linear weight [C, C]. */
  readonly reshape?: 'conv1x1-to-linear';
}

export const UNET_LDM_PREFIX = 'model.diffusion_model.';
export const VAE_LDM_PREFIX = 'first_stage_model.';
export const TEXT_ENCODER_LDM_PREFIX = 'cond_stage_model.transformer.text_model.';
/** Checkpoints saved with transformers < 4.x: CLIPTextTransformer directly under `transformer.`. */
export const TEXT_ENCODER_LDM_PREFIX_OLD = 'cond_stage_model.transformer.';

/** The 25 MBW blocks in the order of MBW's weight list (index = position). */
export const MBW_BLOCKS: readonly MbwBlock[] = Object.freeze([
  ...range(12).map((i) => `IN${pad2(i)}`),
  'M00',
  ...range(12).map((i) => `OUT${pad2(i)}`),
]);

type Pair = readonly [diffusers: string, ldm: string];

const RESBLOCK_LEAVES: readonly Pair[] = [
  ['norm1', 'in_layers.0'],
  ['conv1', 'in_layers.2'],
  ['time_emb_proj', 'emb_layers.1'],
  ['norm2', 'out_layers.0'],
  ['conv2', 'out_layers.3'],
];

/** Every UNet tensor of a diffusers UNet2DConditionModel with this layout and its LDM name. */
export function unetKeyMap(layout: UnetLayout): readonly UnetKeyMapping[] {
  const { blockOutChannels: channels, layersPerBlock: layers } = layout;
  const blocks = channels.length;
  const out: UnetKeyMapping[] = [];
  const add = (pairs: readonly Pair[]) => {
    for (const [diffusers, ldm] of pairs) {
      const full = UNET_LDM_PREFIX + ldm;
      out.push({ diffusers, ldm: full, block: mbwBlockOfLdmKey(full) });
    }
  };

  add(weightAndBias('conv_in', 'input_blocks.0.0'));
  add(weightAndBias('time_embedding.linear_1', 'time_embed.0'));
  add(weightAndBias('time_embedding.linear_2', 'time_embed.2'));

  for (let i = 0; i < blocks; i++) {
    for (let j = 0; j < layers; j++) {
      const ldm = `input_blocks.${1 + i * (layers + 1) + j}`;
      const inChannels = j === 0 ? channels[Math.max(i - 1, 0)] : channels[i];
      add(resnet(`down_blocks.${i}.resnets.${j}`, `${ldm}.0`, inChannels !== channels[i]));
      if (layout.downHasAttention[i]) {
        add(transformer(`down_blocks.${i}.attentions.${j}`, `${ldm}.1`, layout.transformerLayers[i]));
      }
    }
    if (i < blocks - 1) add(weightAndBias(`down_blocks.${i}.downsamplers.0.conv`, `input_blocks.${(i + 1) * (layers + 1)}.0.op`));
  }

  add(resnet('mid_block.resnets.0', 'middle_block.0', false));
  add(transformer('mid_block.attentions.0', 'middle_block.1', layout.transformerLayers[blocks - 1]));
  add(resnet('mid_block.resnets.1', 'middle_block.2', false));

  const reversedTransformerLayers = [...layout.transformerLayers].reverse();
  for (let i = 0; i < blocks; i++) {
    for (let j = 0; j <= layers; j++) {
      const ldm = `output_blocks.${i * (layers + 1) + j}`;
      // Up-block resnets take the concatenated skip connection, so in ≠ out and the shortcut always exists.
      add(resnet(`up_blocks.${i}.resnets.${j}`, `${ldm}.0`, true));
      if (layout.upHasAttention[i]) {
        add(transformer(`up_blocks.${i}.attentions.${j}`, `${ldm}.1`, reversedTransformerLayers[i]));
      }
    }
    if (i < blocks - 1) {
      const ldm = `output_blocks.${i * (layers + 1) + layers}.${layout.upHasAttention[i] ? 2 : 1}.conv`;
      add(weightAndBias(`up_blocks.${i}.upsamplers.0.conv`, ldm));
    }
  }

  add(weightAndBias('conv_norm_out', 'out.0'));
  add(weightAndBias('conv_out', 'out.2'));
  return Object.freeze(out);
}

/** Every AutoencoderKL tensor with this layout and its LDM name. */
export function vaeKeyMap(layout: VaeLayout): readonly VaeKeyMapping[] {
  const { blockOutChannels: channels, layersPerBlock: layers } = layout;
  const blocks = channels.length;
  const out: VaeKeyMapping[] = [];
  const add = (pairs: readonly Pair[], reshape?: VaeKeyMapping['reshape']) => {
    for (const [diffusers, ldm] of pairs) out.push(reshape ? { diffusers, ldm: VAE_LDM_PREFIX + ldm, reshape } : { diffusers, ldm: VAE_LDM_PREFIX + ldm });
  };
  const vaeResnet = (diffusers: string, ldm: string, shortcut: boolean): Pair[] => [
    ...['norm1', 'conv1', 'norm2', 'conv2'].flatMap((leaf) => weightAndBias(`${diffusers}.${leaf}`, `${ldm}.${leaf}`)),
    ...(shortcut ? weightAndBias(`${diffusers}.conv_shortcut`, `${ldm}.nin_shortcut`) : []),
  ];
  const midBlock = (side: 'encoder' | 'decoder') => {
    add(vaeResnet(`${side}.mid_block.resnets.0`, `${side}.mid.block_1`, false));
    add(weightAndBias(`${side}.mid_block.attentions.0.group_norm`, `${side}.mid.attn_1.norm`));
    for (const [diffusers, ldm] of [['to_q', 'q'], ['to_k', 'k'], ['to_v', 'v'], ['to_out.0', 'proj_out']] as const) {
      add([[`${side}.mid_block.attentions.0.${diffusers}.weight`, `${side}.mid.attn_1.${ldm}.weight`]], 'conv1x1-to-linear');
      add([[`${side}.mid_block.attentions.0.${diffusers}.bias`, `${side}.mid.attn_1.${ldm}.bias`]]);
    }
    add(vaeResnet(`${side}.mid_block.resnets.1`, `${side}.mid.block_2`, false));
  };

  add(weightAndBias('encoder.conv_in', 'encoder.conv_in'));
  for (let i = 0; i < blocks; i++) {
    for (let j = 0; j < layers; j++) {
      const inChannels = j === 0 ? channels[Math.max(i - 1, 0)] : channels[i];
      add(vaeResnet(`encoder.down_blocks.${i}.resnets.${j}`, `encoder.down.${i}.block.${j}`, inChannels !== channels[i]));
    }
    if (i < blocks - 1) add(weightAndBias(`encoder.down_blocks.${i}.downsamplers.0.conv`, `encoder.down.${i}.downsample.conv`));
  }
  midBlock('encoder');
  add(weightAndBias('encoder.conv_norm_out', 'encoder.norm_out'));
  add(weightAndBias('encoder.conv_out', 'encoder.conv_out'));

  add(weightAndBias('decoder.conv_in', 'decoder.conv_in'));
  midBlock('decoder');
  const reversed = [...channels].reverse();
  for (let i = 0; i < blocks; i++) {
    const ldmLevel = blocks - 1 - i;
    for (let j = 0; j <= layers; j++) {
      const inChannels = j === 0 ? reversed[Math.max(i - 1, 0)] : reversed[i];
      add(vaeResnet(`decoder.up_blocks.${i}.resnets.${j}`, `decoder.up.${ldmLevel}.block.${j}`, inChannels !== reversed[i]));
    }
    if (i < blocks - 1) add(weightAndBias(`decoder.up_blocks.${i}.upsamplers.0.conv`, `decoder.up.${ldmLevel}.upsample.conv`));
  }
  add(weightAndBias('decoder.conv_norm_out', 'decoder.norm_out'));
  add(weightAndBias('decoder.conv_out', 'decoder.conv_out'));

  add(weightAndBias('quant_conv', 'quant_conv'));
  add(weightAndBias('post_quant_conv', 'post_quant_conv'));
  return Object.freeze(out);
}

/**
 * Every CLIPTextModel tensor and its LDM name under `ldmPrefix` (TEXT_ENCODER_LDM_PREFIX or the older
 * TEXT_ENCODER_LDM_PREFIX_OLD). `embeddings.position_ids` is a buffer (arange(77)), not a weight: it is
 * absent from newer saves and not listed.
 */
export function textEncoderKeyMap(layout: TextEncoderLayout, ldmPrefix: string = TEXT_ENCODER_LDM_PREFIX): readonly KeyMapping[] {
  const leaves: string[] = ['embeddings.token_embedding.weight', 'embeddings.position_embedding.weight'];
  for (let i = 0; i < layout.layers; i++) {
    for (const module of ['self_attn.k_proj', 'self_attn.v_proj', 'self_attn.q_proj', 'self_attn.out_proj', 'layer_norm1', 'mlp.fc1', 'mlp.fc2', 'layer_norm2']) {
      leaves.push(`encoder.layers.${i}.${module}.weight`, `encoder.layers.${i}.${module}.bias`);
    }
  }
  leaves.push('final_layer_norm.weight', 'final_layer_norm.bias');
  return Object.freeze(leaves.map((leaf) => ({ diffusers: `text_model.${leaf}`, ldm: ldmPrefix + leaf })));
}

/**
 * The MBW block of an LDM key, by the rule of MBW's merge loop, checked in this order: 'time_embed' →
 * IN00; '.out.' → OUT11; '.input_blocks.N.' → IN N; '.middle_block.N.' → M00; '.output_blocks.N.' →
 * OUT N. Keys outside `model.diffusion_model.` are 'base'.
 */
export function mbwBlockOfLdmKey(ldmKey: string): MbwBlock {
  if (!ldmKey.startsWith(UNET_LDM_PREFIX)) return 'base';
  if (ldmKey.includes('time_embed')) return 'IN00';
  if (ldmKey.includes('.out.')) return 'OUT11';
  const numbered = /\.(input_blocks|middle_block|output_blocks)\.(\d+)\./.exec(ldmKey);
  if (!numbered) return 'base';
  const index = Number(numbered[2]);
  if (numbered[1] === 'middle_block') return 'M00';
  return `${numbered[1] === 'input_blocks' ? 'IN' : 'OUT'}${pad2(index)}`;
}

/** Position of a block in MBW's 25-entry weight list, or -1 for 'base'. */
export function mbwBlockIndex(block: MbwBlock): number {
  return MBW_BLOCKS.indexOf(block);
}

function resnet(diffusers: string, ldm: string, shortcut: boolean): Pair[] {
  const pairs = RESBLOCK_LEAVES.flatMap(([d, l]) => weightAndBias(`${diffusers}.${d}`, `${ldm}.${l}`));
  if (shortcut) pairs.push(...weightAndBias(`${diffusers}.conv_shortcut`, `${ldm}.skip_connection`));
  return pairs;
}

/** diffusers Transformer2DModel and LDM SpatialTransformer use the same leaf names. */
function transformer(diffusers: string, ldm: string, depth: number): Pair[] {
  const leaves: string[] = ['norm.weight', 'norm.bias', 'proj_in.weight', 'proj_in.bias'];
  for (let k = 0; k < depth; k++) {
    const block = `transformer_blocks.${k}`;
    leaves.push(`${block}.norm1.weight`, `${block}.norm1.bias`);
    for (const attention of ['attn1', 'attn2']) {
      // q/k/v projections have no bias in diffusers' Attention (bias=False) nor in LDM's CrossAttention.
      leaves.push(`${block}.${attention}.to_q.weight`, `${block}.${attention}.to_k.weight`, `${block}.${attention}.to_v.weight`);
      leaves.push(`${block}.${attention}.to_out.0.weight`, `${block}.${attention}.to_out.0.bias`);
      if (attention === 'attn1') leaves.push(`${block}.norm2.weight`, `${block}.norm2.bias`);
    }
    leaves.push(`${block}.norm3.weight`, `${block}.norm3.bias`);
    leaves.push(`${block}.ff.net.0.proj.weight`, `${block}.ff.net.0.proj.bias`, `${block}.ff.net.2.weight`, `${block}.ff.net.2.bias`);
  }
  leaves.push('proj_out.weight', 'proj_out.bias');
  return leaves.map((leaf) => [`${diffusers}.${leaf}`, `${ldm}.${leaf}`] as const);
}

function weightAndBias(diffusers: string, ldm: string): Pair[] {
  return [
    [`${diffusers}.weight`, `${ldm}.weight`],
    [`${diffusers}.bias`, `${ldm}.bias`],
  ];
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

function pad2(value: number): string {
  return String(value).padStart(2, '0');
}
