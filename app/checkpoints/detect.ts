// What a single-file checkpoint is, from its tensor names and shapes alone (no data is read), so an
// unsupported file is refused with a message that says what was found before anything is converted.
// Signatures (as the original repositories and the tools people use name their tensors):
//   SD1.x  CompVis/LDM: `model.diffusion_model.input_blocks.*`, CLIP ViT-L/14 text encoder under
//          `cond_stage_model.transformer.*`, cross-attention width 768 (attn2.to_k [C, 768]).
//   SD2.x  Stability-AI/stablediffusion: OpenCLIP ViT-H under `cond_stage_model.model.*`, cross-attention
//          width 1024, proj_in as a linear layer [C, C] instead of a 1×1 conv [C, C, 1, 1].
//   SDXL   generative-models (sgm): `conditioner.embedders.*`, `model.diffusion_model.label_emb.*`.
//   Inpainting / instruct-pix2pix variants: conv_in takes 9 / 8 channels instead of 4.
//   SD3 (`joint_blocks`), Flux (`double_blocks`), LoRAs, standalone VAEs and UNets: refused by name.
// v-prediction cannot be seen in the weights; safetensors metadata sometimes says so
// (`modelspec.prediction_type` of Stability-AI/ModelSpec, `ss_v_parameterization` of kohya-ss sd-scripts)
// and some trainers add a `v_pred` marker tensor.
import { UserError } from '../common/errors.ts';
import type { WeightSource } from '../tensor/weights.ts';
import { TEXT_ENCODER_LDM_PREFIX, TEXT_ENCODER_LDM_PREFIX_OLD, UNET_LDM_PREFIX, VAE_LDM_PREFIX } from './ldm-keys.ts';

export type CheckpointFamily =
  | 'sd1'
  | 'sd1-inpainting'
  | 'sd1-instruct-pix2pix'
  | 'sd2'
  | 'sdxl'
  | 'sd3'
  | 'flux'
  | 'lora'
  | 'unet-only'
  | 'vae-only'
  | 'text-encoder-only'
  | 'unknown';

export type PredictionType = 'epsilon' | 'v_prediction' | 'unknown';

export interface Detection {
  readonly family: CheckpointFamily;
  /** Human-readable findings ("cross-attention width 768", ...), used in messages and the import log. */
  readonly evidence: readonly string[];
  /** The LDM prefix of the CLIP text encoder tensors, when there is one. */
  readonly textEncoderPrefix?: string;
  /** Width of the text embeddings the UNet cross-attends to (attn2.to_k [C, width]). */
  readonly crossAttentionDim?: number;
  /** Input channels of conv_in. */
  readonly unetInChannels?: number;
  readonly prediction: PredictionType;
  /** EMA copies of the UNet (`model_ema.*`) are present; they are ignored, like diffusers' default. */
  readonly hasEma: boolean;
}

const FAMILY_NAMES: Readonly<Record<CheckpointFamily, string>> = {
  sd1: 'Stable Diffusion 1.x',
  'sd1-inpainting': 'Stable Diffusion 1.x inpainting model',
  'sd1-instruct-pix2pix': 'InstructPix2Pix model',
  sd2: 'Stable Diffusion 2.x model',
  sdxl: 'Stable Diffusion XL model',
  sd3: 'Stable Diffusion 3 model',
  flux: 'Flux model',
  lora: 'LoRA (a small add-on, not a full model)',
  'unet-only': 'standalone U-Net without text encoder and VAE',
  'vae-only': 'standalone VAE',
  'text-encoder-only': 'standalone text encoder',
  unknown: 'file of an unknown kind',
};

export function familyName(family: CheckpointFamily): string {
  return FAMILY_NAMES[family];
}

/** Classifies a single-file checkpoint by its names and shapes (and safetensors metadata, if any). */
export function detectCheckpoint(source: WeightSource, metadata: Readonly<Record<string, string>> = {}): Detection {
  const names = source.names();
  const evidence: string[] = [];
  const some = (test: (name: string) => boolean) => names.some(test);
  const shape = (name: string) => (source.has(name) ? source.get(name).shape : undefined);
  const prediction = predictionHint(source, metadata, evidence);
  const hasEma = some((name) => name.startsWith('model_ema.'));
  const done = (family: CheckpointFamily, extra: Partial<Detection> = {}): Detection =>
    Object.freeze({ family, evidence: Object.freeze(evidence), prediction, hasEma, ...extra });

  if (some((name) => name.startsWith('conditioner.embedders.')) || some((name) => name.startsWith(`${UNET_LDM_PREFIX}label_emb.`))) {
    evidence.push('SDXL conditioner tensors (conditioner.embedders.*, label_emb)');
    return done('sdxl');
  }
  if (some((name) => name.includes('joint_blocks.'))) {
    evidence.push('MMDiT joint_blocks');
    return done('sd3');
  }
  if (some((name) => name.includes('double_blocks.'))) {
    evidence.push('double_blocks / single_blocks transformer');
    return done('flux');
  }
  if (some((name) => name.startsWith(`${UNET_LDM_PREFIX}input_blocks.`))) return classifyLdm(source, evidence, done, shape);
  if (some((name) => /(^|\.)lora_(up|down|A|B)\b|^lora_(unet|te)/.test(name))) {
    evidence.push('LoRA tensors (lora_up / lora_down)');
    return done('lora');
  }
  if (some((name) => name.startsWith('down_blocks.')) && some((name) => name.startsWith('conv_in.'))) {
    evidence.push('diffusers U-Net tensor names without a text encoder or VAE');
    return done('unet-only');
  }
  if (some((name) => /^(first_stage_model\.)?(encoder\.down\.|decoder\.up\.|encoder\.down_blocks\.|decoder\.up_blocks\.)/.test(name))) {
    evidence.push('VAE encoder/decoder tensors only');
    return done('vae-only');
  }
  if (some((name) => name.startsWith('text_model.') || name.startsWith('cond_stage_model.'))) {
    evidence.push('text encoder tensors only');
    return done('text-encoder-only');
  }
  evidence.push(`no known tensor names (first: ${names.slice(0, 3).map((name) => `'${name}'`).join(', ') || 'none'})`);
  return done('unknown');
}

function classifyLdm(
  source: WeightSource,
  evidence: string[],
  done: (family: CheckpointFamily, extra?: Partial<Detection>) => Detection,
  shape: (name: string) => readonly number[] | undefined,
): Detection {
  const names = source.names();
  const crossKey = names.find((name) => name.startsWith(UNET_LDM_PREFIX) && name.endsWith('.attn2.to_k.weight'));
  const crossShape = crossKey ? shape(crossKey) : undefined;
  const crossAttentionDim = crossShape?.length === 2 ? crossShape[1] : undefined;
  if (crossAttentionDim !== undefined) evidence.push(`cross-attention width ${crossAttentionDim}`);
  const convIn = shape(`${UNET_LDM_PREFIX}input_blocks.0.0.weight`);
  const unetInChannels = convIn?.length === 4 ? convIn[1] : undefined;
  if (unetInChannels !== undefined) evidence.push(`U-Net input channels ${unetInChannels}`);
  const projIn = names.find((name) => name.startsWith(UNET_LDM_PREFIX) && name.endsWith('.proj_in.weight'));
  const linearProjection = projIn !== undefined && shape(projIn)?.length === 2;
  if (linearProjection) evidence.push('linear proj_in (SD2-style)');

  const openClip = names.some((name) => name.startsWith('cond_stage_model.model.'));
  const textEncoderPrefix = names.some((name) => name.startsWith(TEXT_ENCODER_LDM_PREFIX))
    ? TEXT_ENCODER_LDM_PREFIX
    : names.some((name) => name.startsWith(TEXT_ENCODER_LDM_PREFIX_OLD))
      ? TEXT_ENCODER_LDM_PREFIX_OLD
      : undefined;
  if (openClip) evidence.push('OpenCLIP text encoder (cond_stage_model.model.*)');
  else if (textEncoderPrefix) evidence.push('CLIP text encoder (cond_stage_model.transformer.*)');
  else evidence.push('no text encoder tensors');
  if (!names.some((name) => name.startsWith(VAE_LDM_PREFIX))) evidence.push('no VAE tensors');

  const extra = { textEncoderPrefix, crossAttentionDim, unetInChannels };
  if (openClip || crossAttentionDim === 1024 || linearProjection) return done('sd2', extra);
  if (unetInChannels === 9) return done('sd1-inpainting', extra);
  if (unetInChannels === 8) return done('sd1-instruct-pix2pix', extra);
  return done('sd1', extra);
}

function predictionHint(source: WeightSource, metadata: Readonly<Record<string, string>>, evidence: string[]): PredictionType {
  const spec = metadata['modelspec.prediction_type']?.toLowerCase();
  if (spec === 'v' || spec === 'v_prediction') {
    evidence.push(`metadata modelspec.prediction_type = ${spec}`);
    return 'v_prediction';
  }
  if (metadata.ss_v_parameterization?.toLowerCase() === 'true') {
    evidence.push('metadata ss_v_parameterization = True');
    return 'v_prediction';
  }
  if (source.has('v_pred')) {
    evidence.push("marker tensor 'v_pred'");
    return 'v_prediction';
  }
  if (spec === 'epsilon') return 'epsilon';
  return 'unknown';
}

/**
 * Throws UserError('unsupported') unless the checkpoint is an SD1.x text-to-image model predicting noise
 * (epsilon). The message names what was found.
 */
export function assertSupported(detection: Detection, path: string): void {
  const found = detection.evidence.join(', ');
  if (detection.family !== 'sd1') {
    throw new UserError(
      'unsupported',
      `${path} looks like a ${familyName(detection.family)} (found: ${found}). Only Stable Diffusion 1.x text-to-image checkpoints are supported today.`,
      hintFor(detection.family),
    );
  }
  if (detection.prediction === 'v_prediction') {
    throw new UserError(
      'unsupported',
      `${path} is a Stable Diffusion 1.x checkpoint trained for v-prediction (found: ${found}). Only noise-prediction (epsilon) models are supported today.`,
      'Import a regular SD1.x checkpoint.',
    );
  }
}

function hintFor(family: CheckpointFamily): string {
  switch (family) {
    case 'lora':
      return 'LoRAs cannot be imported as models; import the full checkpoint the LoRA was trained for.';
    case 'unet-only':
    case 'vae-only':
    case 'text-encoder-only':
      return 'Import a full checkpoint (U-Net, text encoder and VAE in one file) or a diffusers folder.';
    case 'sd1-inpainting':
    case 'sd1-instruct-pix2pix':
      return 'Import the regular (text-to-image) version of this model.';
    default:
      return 'Import an SD1.x checkpoint (for example a Stable Diffusion 1.5 fine-tune).';
  }
}
