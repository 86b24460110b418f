// What the weights themselves say about a component's config (channels, layer counts, widths), read from
// tensor shapes without reading any data, and the cross-check against the config that will build the
// graph. A single-file checkpoint carries no config, so a fine-tune of another size used with the SD1.5
// defaults is caught here with a message naming the field, instead of failing later inside a graph.
//
// Works on either naming: the LDM names of a single file (`ldm*Naming`) or the diffusers names of a
// folder (`diffusers*Naming`). Probing stops at the first absent tensor, so counts come from the file.
import { UserError } from '../common/errors.ts';
import type { WeightSource } from '../tensor/weights.ts';
import type { ComponentConfig, ComponentName } from './component-config.ts';
import { TEXT_ENCODER_LDM_PREFIX, UNET_LDM_PREFIX, VAE_LDM_PREFIX } from './ldm-keys.ts';

/** Config fields and the values the weights imply (only fields that could be inferred). */
export type InferredConfig = Readonly<Record<string, unknown>>;

/** Where the tensors that reveal a UNet's shape are, for down block i, layer j (layers per block L). */
export interface UnetNaming {
  readonly convIn: string;
  readonly convOut: string;
  /** Prefix of the resnet of down block i, layer j, given L (LDM numbering depends on it). */
  downResnet(i: number, j: number, layers: number): string;
  downAttention(i: number, j: number, layers: number): string;
  upAttention(i: number, j: number, layers: number): string;
}

export const ldmUnetNaming: UnetNaming = {
  convIn: `${UNET_LDM_PREFIX}input_blocks.0.0.weight`,
  convOut: `${UNET_LDM_PREFIX}out.2.weight`,
  downResnet: (i, j, layers) => `${UNET_LDM_PREFIX}input_blocks.${1 + i * (layers + 1) + j}.0`,
  downAttention: (i, j, layers) => `${UNET_LDM_PREFIX}input_blocks.${1 + i * (layers + 1) + j}.1`,
  upAttention: (i, j, layers) => `${UNET_LDM_PREFIX}output_blocks.${i * (layers + 1) + j}.1`,
};

export const diffusersUnetNaming: UnetNaming = {
  convIn: 'conv_in.weight',
  convOut: 'conv_out.weight',
  downResnet: (i, j) => `down_blocks.${i}.resnets.${j}`,
  downAttention: (i, j) => `down_blocks.${i}.attentions.${j}`,
  upAttention: (i, j) => `up_blocks.${i}.attentions.${j}`,
};

/** Resnet leaf names: the first conv of a resnet tells its output channels. */
const RESNET_CONV1 = { ldm: 'in_layers.2.weight', diffusers: 'conv1.weight' } as const;

export function inferUnetConfig(source: WeightSource, naming: UnetNaming): InferredConfig {
  const shape = shapeReader(source);
  const conv1 = naming === ldmUnetNaming ? RESNET_CONV1.ldm : RESNET_CONV1.diffusers;
  const inferred: Record<string, unknown> = {};
  const convIn = shape(naming.convIn);
  if (convIn?.length === 4) inferred.in_channels = convIn[1];
  const convOut = shape(naming.convOut);
  if (convOut?.length === 4) inferred.out_channels = convOut[0];

  // Layers per block: resnets of the first down block until the downsampler takes the next index.
  let layers = 0;
  while (layers < 64 && source.has(`${naming.downResnet(0, layers, layers)}.${conv1}`)) {
    // For LDM numbering the index of layer j does not depend on L for i = 0 (1 + j).
    layers++;
  }
  if (layers === 0) return Object.freeze(inferred);
  inferred.layers_per_block = layers;

  const channels: number[] = [];
  const downTypes: string[] = [];
  const transformerLayers: number[] = [];
  for (let i = 0; i < 16; i++) {
    const conv = shape(`${naming.downResnet(i, 0, layers)}.${conv1}`);
    if (!conv) break;
    channels.push(conv[0]);
    const attention = naming.downAttention(i, 0, layers);
    const hasAttention = source.has(`${attention}.proj_in.weight`);
    downTypes.push(hasAttention ? 'CrossAttnDownBlock2D' : 'DownBlock2D');
    if (hasAttention) transformerLayers.push(countWhile((k) => source.has(`${attention}.transformer_blocks.${k}.norm1.weight`)));
    else transformerLayers.push(1);
  }
  inferred.block_out_channels = channels;
  inferred.down_block_types = downTypes;
  inferred.up_block_types = channels.map((_, i) =>
    source.has(`${naming.upAttention(i, 0, layers)}.proj_in.weight`) ? 'CrossAttnUpBlock2D' : 'UpBlock2D',
  );
  if (transformerLayers.length > 0) {
    inferred.transformer_layers_per_block = transformerLayers.every((count) => count === transformerLayers[0]) ? transformerLayers[0] : transformerLayers;
  }

  const firstAttention = downTypes.indexOf('CrossAttnDownBlock2D');
  if (firstAttention >= 0) {
    const attention = naming.downAttention(firstAttention, 0, layers);
    const toK = shape(`${attention}.transformer_blocks.0.attn2.to_k.weight`);
    if (toK?.length === 2) inferred.cross_attention_dim = toK[1];
    const projIn = shape(`${attention}.proj_in.weight`);
    if (projIn) inferred.use_linear_projection = projIn.length === 2;
  }
  return Object.freeze(inferred);
}

export interface VaeNaming {
  readonly encoderConvIn: string;
  readonly decoderConvOut: string;
  readonly quantConv: string;
  encoderResnet(i: number, j: number): string;
}

export const ldmVaeNaming: VaeNaming = {
  encoderConvIn: `${VAE_LDM_PREFIX}encoder.conv_in.weight`,
  decoderConvOut: `${VAE_LDM_PREFIX}decoder.conv_out.weight`,
  quantConv: `${VAE_LDM_PREFIX}quant_conv.weight`,
  encoderResnet: (i, j) => `${VAE_LDM_PREFIX}encoder.down.${i}.block.${j}`,
};

export const diffusersVaeNaming: VaeNaming = {
  encoderConvIn: 'encoder.conv_in.weight',
  decoderConvOut: 'decoder.conv_out.weight',
  quantConv: 'quant_conv.weight',
  encoderResnet: (i, j) => `encoder.down_blocks.${i}.resnets.${j}`,
};

export function inferVaeConfig(source: WeightSource, naming: VaeNaming): InferredConfig {
  const shape = shapeReader(source);
  const inferred: Record<string, unknown> = {};
  const convIn = shape(naming.encoderConvIn);
  if (convIn?.length === 4) inferred.in_channels = convIn[1];
  const convOut = shape(naming.decoderConvOut);
  if (convOut?.length === 4) inferred.out_channels = convOut[0];
  // quant_conv maps the 2·latent moments (mean, logvar) to themselves: [2z, 2z, 1, 1].
  const quant = shape(naming.quantConv);
  if (quant?.length === 4) inferred.latent_channels = quant[0] / 2;
  const layers = countWhile((j) => source.has(`${naming.encoderResnet(0, j)}.conv1.weight`));
  if (layers > 0) {
    inferred.layers_per_block = layers;
    const channels: number[] = [];
    for (let i = 0; i < 16; i++) {
      const conv = shape(`${naming.encoderResnet(i, 0)}.conv1.weight`);
      if (!conv) break;
      channels.push(conv[0]);
    }
    inferred.block_out_channels = channels;
  }
  return Object.freeze(inferred);
}

/** `prefix` is where `embeddings.*` and `encoder.layers.*` live: the LDM prefix or diffusers' `text_model.`. */
export function inferTextEncoderConfig(source: WeightSource, prefix: string = TEXT_ENCODER_LDM_PREFIX): InferredConfig {
  const shape = shapeReader(source);
  const inferred: Record<string, unknown> = {};
  const tokens = shape(`${prefix}embeddings.token_embedding.weight`);
  if (tokens?.length === 2) {
    inferred.vocab_size = tokens[0];
    inferred.hidden_size = tokens[1];
  }
  const positions = shape(`${prefix}embeddings.position_embedding.weight`);
  if (positions?.length === 2) inferred.max_position_embeddings = positions[0];
  const layers = countWhile((i) => source.has(`${prefix}encoder.layers.${i}.layer_norm1.weight`));
  if (layers > 0) inferred.num_hidden_layers = layers;
  const fc1 = shape(`${prefix}encoder.layers.0.mlp.fc1.weight`);
  if (fc1?.length === 2) inferred.intermediate_size = fc1[0];
  return Object.freeze(inferred);
}

/** Values diffusers/transformers use for fields a config.json may leave out. */
const FIELD_DEFAULTS: Readonly<Record<string, unknown>> = {
  transformer_layers_per_block: 1,
  use_linear_projection: false,
  in_channels: 4,
  out_channels: 4,
};

/**
 * Throws UserError('mismatch') naming every field where the weights disagree with the config.
 * `where` says which file the weights came from; `configHint` how to pass the right config.
 */
export function crossCheckConfig(
  component: ComponentName,
  inferred: InferredConfig,
  config: ComponentConfig,
  where: string,
  configHint: string,
): void {
  const differences: string[] = [];
  for (const [field, value] of Object.entries(inferred)) {
    const configured = config[field] ?? (component === 'vae' && (field === 'in_channels' || field === 'out_channels') ? 3 : FIELD_DEFAULTS[field]);
    if (configured === undefined) continue;
    if (!sameValue(value, configured)) {
      differences.push(`${field}: the weights have ${JSON.stringify(value)}, the config says ${JSON.stringify(configured)}`);
    }
  }
  if (differences.length === 0) return;
  throw new UserError(
    'mismatch',
    `The ${COMPONENT_LABELS[component]} in ${where} does not match its config (${differences.join('; ')}).`,
    configHint,
  );
}

const COMPONENT_LABELS: Readonly<Record<ComponentName, string>> = { unet: 'U-Net', textEncoder: 'text encoder', vae: 'VAE' };

function sameValue(a: unknown, b: unknown): boolean {
  // transformer_layers_per_block may be one number or one per block; [1, 1, 1, 1] equals 1.
  if (Array.isArray(a) !== Array.isArray(b)) {
    const list = (Array.isArray(a) ? a : b) as unknown[];
    const single = Array.isArray(a) ? b : a;
    return list.every((item) => item === single);
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

function shapeReader(source: WeightSource): (name: string) => readonly number[] | undefined {
  return (name) => (source.has(name) ? source.get(name).shape : undefined);
}

function countWhile(present: (index: number) => boolean, limit = 1024): number {
  let count = 0;
  while (count < limit && present(count)) count++;
  return count;
}
