// Detection from synthetic headers: real tensor names, zero-size tensors except the few whose shapes
// detection reads (given realistic SD shapes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SD15_CONFIGS, textEncoderLayout, unetLayout, vaeLayout } from '../../app/checkpoints/component-config.ts';
import { assertSupported, detectCheckpoint } from '../../app/checkpoints/detect.ts';
import { textEncoderKeyMap, unetKeyMap, vaeKeyMap } from '../../app/checkpoints/ldm-keys.ts';
import { crossCheckConfig, inferUnetConfig, inferVaeConfig, ldmUnetNaming, ldmVaeNaming } from '../../app/checkpoints/infer-config.ts';
import { openCheckpoint } from '../../app/checkpoints/open-checkpoint.ts';
import { UserError } from '../../app/common/errors.ts';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';
import { temporaryDirectory, writeHeaderOnly } from './fixtures.ts';

const SD1_NAMES = [
  ...unetKeyMap(unetLayout(SD15_CONFIGS.unet)).map((key) => key.ldm),
  ...vaeKeyMap(vaeLayout(SD15_CONFIGS.vae)).map((key) => key.ldm),
  ...textEncoderKeyMap(textEncoderLayout(SD15_CONFIGS.textEncoder)).map((key) => key.ldm),
  'cond_stage_model.transformer.text_model.embeddings.position_ids',
];
const TO_K = 'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight';
const CONV_IN = 'model.diffusion_model.input_blocks.0.0.weight';
const PROJ_IN = 'model.diffusion_model.input_blocks.1.1.proj_in.weight';

function detect(t: { after(fn: () => void): void }, names: readonly string[], shapes: Record<string, readonly number[]>, metadata?: Record<string, string>) {
  const path = join(temporaryDirectory(t), 'model.safetensors');
  writeHeaderOnly(path, names, shapes);
  const file = SafetensorsFile.open(path);
  try {
    return { path, detection: detectCheckpoint(file, metadata ?? file.metadata) };
  } finally {
    file.close();
  }
}

function refusal(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof UserError);
    assert.equal(error.code, 'unsupported');
    assert.match(error.message, pattern);
    assert.match(error.message, /Only Stable Diffusion 1\.x/);
    return true;
  };
}

test('SD1.x: CLIP-L text encoder and cross-attention width 768', (t) => {
  const { path, detection } = detect(t, SD1_NAMES, { [TO_K]: [320, 768], [CONV_IN]: [320, 4, 3, 3], [PROJ_IN]: [320, 320, 1, 1] });
  assert.equal(detection.family, 'sd1');
  assert.equal(detection.crossAttentionDim, 768);
  assert.equal(detection.unetInChannels, 4);
  assert.equal(detection.textEncoderPrefix, 'cond_stage_model.transformer.text_model.');
  assert.equal(detection.prediction, 'unknown');
  assert.doesNotThrow(() => assertSupported(detection, path));
});

test('SD2.x: OpenCLIP text encoder, width 1024, linear proj_in', (t) => {
  const names = [
    ...SD1_NAMES.filter((name) => !name.startsWith('cond_stage_model.')),
    'cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight',
    'cond_stage_model.model.token_embedding.weight',
  ];
  const { path, detection } = detect(t, names, { [TO_K]: [320, 1024], [CONV_IN]: [320, 4, 3, 3], [PROJ_IN]: [320, 320] });
  assert.equal(detection.family, 'sd2');
  assert.throws(() => assertSupported(detection, path), refusal(/Stable Diffusion 2\.x.*cross-attention width 1024.*OpenCLIP/));
});

test('SDXL: conditioner embedders and label_emb', (t) => {
  const names = [
    'conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight',
    'conditioner.embedders.1.model.token_embedding.weight',
    'model.diffusion_model.label_emb.0.0.weight',
    'model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight',
  ];
  const { path, detection } = detect(t, names, { 'model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight': [640, 2048] });
  assert.equal(detection.family, 'sdxl');
  assert.throws(() => assertSupported(detection, path), refusal(/Stable Diffusion XL/));
});

test('SD1.x inpainting: conv_in takes 9 channels', (t) => {
  const { path, detection } = detect(t, SD1_NAMES, { [TO_K]: [320, 768], [CONV_IN]: [320, 9, 3, 3] });
  assert.equal(detection.family, 'sd1-inpainting');
  assert.throws(() => assertSupported(detection, path), refusal(/inpainting.*input channels 9/));
});

test('v-prediction hints in the metadata are refused for SD1.x', (t) => {
  const shapes = { [TO_K]: [320, 768], [CONV_IN]: [320, 4, 3, 3] };
  const spec = detect(t, SD1_NAMES, shapes, { 'modelspec.prediction_type': 'v' });
  assert.equal(spec.detection.prediction, 'v_prediction');
  assert.throws(() => assertSupported(spec.detection, spec.path), (error: unknown) => error instanceof UserError && /v-prediction/.test(error.message));
  assert.equal(detect(t, SD1_NAMES, shapes, { ss_v_parameterization: 'True' }).detection.prediction, 'v_prediction');
  assert.equal(detect(t, [...SD1_NAMES, 'v_pred'], shapes).detection.prediction, 'v_prediction');
  assert.equal(detect(t, SD1_NAMES, shapes, { 'modelspec.prediction_type': 'epsilon' }).detection.prediction, 'epsilon');
});

test('LoRAs and standalone VAEs are named as such', (t) => {
  const lora = detect(t, ['lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight', 'lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight'], {});
  assert.equal(lora.detection.family, 'lora');
  assert.throws(() => assertSupported(lora.detection, lora.path), refusal(/LoRA/));
  const vae = detect(t, ['encoder.down.0.block.0.conv1.weight', 'decoder.up.0.block.0.conv1.weight'], {});
  assert.equal(vae.detection.family, 'vae-only');
});

test('opening an SDXL file refuses it before looking for SD1 tensors', (t) => {
  const { path } = detect(t, ['conditioner.embedders.0.transformer.text_model.final_layer_norm.weight', 'model.diffusion_model.label_emb.0.0.weight'], {});
  assert.throws(() => openCheckpoint(path), refusal(/Stable Diffusion XL/));
});

test('the U-Net and VAE configs inferred from an SD1.5-sized header equal the SD1.5 defaults', (t) => {
  // Realistic sizes only on the dimensions inference reads; the others are 0 so the file stays tiny.
  const shapes: Record<string, readonly number[]> = {
    [CONV_IN]: [320, 4, 3, 3],
    'model.diffusion_model.out.2.weight': [4, 320, 3, 3],
    [TO_K]: [320, 768],
    [PROJ_IN]: [320, 320, 1, 1],
    'first_stage_model.encoder.conv_in.weight': [128, 3, 3, 3],
    'first_stage_model.decoder.conv_out.weight': [3, 128, 3, 3],
    'first_stage_model.quant_conv.weight': [8, 8, 1, 1],
  };
  [320, 640, 1280, 1280].forEach((channels, i) => (shapes[`model.diffusion_model.input_blocks.${1 + 3 * i}.0.in_layers.2.weight`] = [channels, 0, 3, 3]));
  [128, 256, 512, 512].forEach((channels, i) => (shapes[`first_stage_model.encoder.down.${i}.block.0.conv1.weight`] = [channels, 0, 3, 3]));
  const path = join(temporaryDirectory(t), 'sd15-header.safetensors');
  writeHeaderOnly(path, SD1_NAMES, shapes);
  const file = SafetensorsFile.open(path);
  try {
    const unet = inferUnetConfig(file, ldmUnetNaming);
    for (const field of ['in_channels', 'out_channels', 'block_out_channels', 'layers_per_block', 'down_block_types', 'up_block_types', 'cross_attention_dim', 'transformer_layers_per_block', 'use_linear_projection']) {
      assert.deepEqual(unet[field], SD15_CONFIGS.unet[field], field);
    }
    const vae = inferVaeConfig(file, ldmVaeNaming);
    for (const field of ['in_channels', 'out_channels', 'latent_channels', 'block_out_channels', 'layers_per_block']) {
      assert.deepEqual(vae[field], SD15_CONFIGS.vae[field], field);
    }
    assert.doesNotThrow(() => crossCheckConfig('unet', unet, SD15_CONFIGS.unet, path, ''));
    assert.doesNotThrow(() => crossCheckConfig('vae', vae, SD15_CONFIGS.vae, path, ''));
  } finally {
    file.close();
  }
});
