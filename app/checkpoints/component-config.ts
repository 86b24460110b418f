// The diffusers/transformers config.json of each SD1.x component, as plain JSON, and the few fields the
// checkpoint code needs from them. A single-file checkpoint carries no config: shapes that the weights
// cannot reveal (GroupNorm groups, attention heads) come from the defaults below (the released SD1.5
// configs) or from what the caller passes; everything the weights do reveal is cross-checked
// (infer-config.ts).
import { UserError } from '../common/errors.ts';

/** A config.json as diffusers/transformers write it (snake_case keys). Stored verbatim in model.json. */
export type ComponentConfig = Readonly<Record<string, unknown>>;

export type ComponentName = 'unet' | 'textEncoder' | 'vae';

export interface ComponentConfigs {
  readonly unet: ComponentConfig;
  readonly textEncoder: ComponentConfig;
  readonly vae: ComponentConfig;
}

/** Partial configs merged (key by key, top level) over the defaults or the folder's own config.json. */
export type ConfigOverrides = Partial<Readonly<Record<ComponentName, ComponentConfig>>>;

/** runwayml/stable-diffusion-v1-5 unet/config.json (diffusers UNet2DConditionModel). */
export const SD15_UNET_CONFIG: ComponentConfig = Object.freeze({
  _class_name: 'UNet2DConditionModel',
  act_fn: 'silu',
  attention_head_dim: 8,
  block_out_channels: [320, 640, 1280, 1280],
  center_input_sample: false,
  cross_attention_dim: 768,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  downsample_padding: 1,
  flip_sin_to_cos: true,
  freq_shift: 0,
  in_channels: 4,
  layers_per_block: 2,
  mid_block_scale_factor: 1,
  norm_eps: 1e-5,
  norm_num_groups: 32,
  out_channels: 4,
  sample_size: 64,
  transformer_layers_per_block: 1,
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  upcast_attention: false,
  use_linear_projection: false,
});

/** The text half of openai/clip-vit-large-patch14 (transformers CLIPTextModel), SD1.x's text encoder. */
export const SD15_TEXT_ENCODER_CONFIG: ComponentConfig = Object.freeze({
  architectures: ['CLIPTextModel'],
  attention_dropout: 0,
  bos_token_id: 0,
  dropout: 0,
  eos_token_id: 2,
  hidden_act: 'quick_gelu',
  hidden_size: 768,
  initializer_factor: 1,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 77,
  model_type: 'clip_text_model',
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 1,
  projection_dim: 768,
  vocab_size: 49408,
});

/** runwayml/stable-diffusion-v1-5 vae/config.json (diffusers AutoencoderKL). */
export const SD15_VAE_CONFIG: ComponentConfig = Object.freeze({
  _class_name: 'AutoencoderKL',
  act_fn: 'silu',
  block_out_channels: [128, 256, 512, 512],
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  in_channels: 3,
  latent_channels: 4,
  layers_per_block: 2,
  norm_num_groups: 32,
  out_channels: 3,
  sample_size: 512,
  scaling_factor: 0.18215,
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
});

export const SD15_CONFIGS: ComponentConfigs = Object.freeze({
  unet: SD15_UNET_CONFIG,
  textEncoder: SD15_TEXT_ENCODER_CONFIG,
  vae: SD15_VAE_CONFIG,
});

/** Applies the caller's overrides over `base`, component by component. */
export function mergeConfigs(base: ComponentConfigs, overrides: ConfigOverrides | undefined): ComponentConfigs {
  const merge = (name: ComponentName) => Object.freeze({ ...base[name], ...(overrides?.[name] ?? {}) });
  return Object.freeze({ unet: merge('unet'), textEncoder: merge('textEncoder'), vae: merge('vae') });
}

/** What the UNet key layout depends on (diffusers UNet2DConditionModel.__init__). */
export interface UnetLayout {
  readonly blockOutChannels: readonly number[];
  readonly layersPerBlock: number;
  /** Per down block (in order): whether it is a CrossAttnDownBlock2D. */
  readonly downHasAttention: readonly boolean[];
  /** Per up block (in order, deepest first): whether it is a CrossAttnUpBlock2D. */
  readonly upHasAttention: readonly boolean[];
  /** BasicTransformerBlocks inside each Transformer2DModel, per down block (up blocks use it reversed). */
  readonly transformerLayers: readonly number[];
}

export interface VaeLayout {
  readonly blockOutChannels: readonly number[];
  readonly layersPerBlock: number;
}

export interface TextEncoderLayout {
  readonly layers: number;
}

export function unetLayout(config: ComponentConfig): UnetLayout {
  const blockOutChannels = positiveIntegers(config, 'block_out_channels', 'unet');
  const blocks = blockOutChannels.length;
  const downTypes = strings(config, 'down_block_types', 'unet');
  const upTypes = strings(config, 'up_block_types', 'unet');
  if (downTypes.length !== blocks || upTypes.length !== blocks) {
    throw invalid('unet', `down_block_types and up_block_types must have ${blocks} entries, like block_out_channels`);
  }
  const downHasAttention = downTypes.map((type) => blockHasAttention(type, 'CrossAttnDownBlock2D', 'DownBlock2D'));
  const upHasAttention = upTypes.map((type) => blockHasAttention(type, 'CrossAttnUpBlock2D', 'UpBlock2D'));
  const midType = config.mid_block_type ?? 'UNetMidBlock2DCrossAttn';
  if (midType !== 'UNetMidBlock2DCrossAttn') {
    throw new UserError('unsupported', `UNet mid_block_type '${String(midType)}' is not supported.`, 'Only SD1.x UNets are supported today.');
  }
  const transformerValue = config.transformer_layers_per_block ?? 1;
  const transformerLayers = Array.isArray(transformerValue)
    ? positiveIntegers(config, 'transformer_layers_per_block', 'unet')
    : new Array<number>(blocks).fill(positiveInteger(transformerValue, 'transformer_layers_per_block', 'unet'));
  if (transformerLayers.length !== blocks) throw invalid('unet', `transformer_layers_per_block must have ${blocks} entries`);
  return Object.freeze({
    blockOutChannels,
    layersPerBlock: positiveInteger(config.layers_per_block, 'layers_per_block', 'unet'),
    downHasAttention,
    upHasAttention,
    transformerLayers,
  });
}

export function vaeLayout(config: ComponentConfig): VaeLayout {
  return Object.freeze({
    blockOutChannels: positiveIntegers(config, 'block_out_channels', 'vae'),
    layersPerBlock: positiveInteger(config.layers_per_block, 'layers_per_block', 'vae'),
  });
}

export function textEncoderLayout(config: ComponentConfig): TextEncoderLayout {
  return Object.freeze({ layers: positiveInteger(config.num_hidden_layers, 'num_hidden_layers', 'textEncoder') });
}

function blockHasAttention(type: string, withAttention: string, without: string): boolean {
  if (type === withAttention) return true;
  if (type === without) return false;
  throw new UserError('unsupported', `UNet block type '${type}' is not supported.`, `SD1.x UNets use ${withAttention} and ${without}.`);
}

function positiveInteger(value: unknown, field: string, component: ComponentName): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw invalid(component, `${field} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function positiveIntegers(config: ComponentConfig, field: string, component: ComponentName): readonly number[] {
  const value = config[field];
  if (!Array.isArray(value) || value.length === 0) throw invalid(component, `${field} must be a non-empty list`);
  return Object.freeze(value.map((item: unknown) => positiveInteger(item, field, component)));
}

function strings(config: ComponentConfig, field: string, component: ComponentName): readonly string[] {
  const value = config[field];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw invalid(component, `${field} must be a list of strings`);
  }
  return Object.freeze([...(value as string[])]);
}

function invalid(component: ComponentName, detail: string): UserError {
  return new UserError('invalid-argument', `The ${component} config is invalid: ${detail}.`, 'Check the config.json you passed.');
}
