import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { UserError } from '../../app/common/errors.ts';
import { MemoryWeights } from '../../app/tensor/weights.ts';
import { float32 } from '../../app/tensor/tensor.ts';
import { parseUnetConfig, SD15_UNET_CONFIG } from '../../app/models/unet-config.ts';
import { parseClipTextConfig, SD15_TEXT_ENCODER_CONFIG } from '../../app/models/clip-text-config.ts';
import { parseVaeConfig, SD15_VAE_CONFIG } from '../../app/models/vae-config.ts';
import { buildUnetGraph } from '../../app/models/unet.ts';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { goldenJson } from './golden-paths.ts';

const unetJson = goldenJson('models/afa/unet/config.json') as Record<string, unknown>;

function rejects(fn: () => unknown, code: UserError['code'], pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof UserError && error.code === code && pattern.test(error.message));
}

test('the golden diffusers configs parse to the tiny SD1.5 topology', () => {
  const unet = parseUnetConfig(unetJson);
  assert.deepEqual(unet.block_out_channels, [32, 32, 64, 64]);
  assert.equal(unet.attention_head_dim, 4);
  assert.equal(parseClipTextConfig(goldenJson('models/afa/text_encoder/config.json')).eos_token_id, 2);
  assert.equal(parseVaeConfig(goldenJson('models/afa/vae/config.json')).scaling_factor, 0.18215);
  // The SD1.5 constants survive a JSON round trip through the parsers unchanged.
  assert.deepEqual(parseUnetConfig(JSON.parse(JSON.stringify(SD15_UNET_CONFIG))), SD15_UNET_CONFIG);
  assert.deepEqual(parseClipTextConfig(JSON.parse(JSON.stringify(SD15_TEXT_ENCODER_CONFIG))), SD15_TEXT_ENCODER_CONFIG);
  assert.deepEqual(parseVaeConfig(JSON.parse(JSON.stringify(SD15_VAE_CONFIG))), SD15_VAE_CONFIG);
});

test('U-Net options the builders do not implement are refused by name', () => {
  rejects(() => parseUnetConfig({ ...unetJson, use_linear_projection: true }), 'unsupported', /use_linear_projection/);
  rejects(() => parseUnetConfig({ ...unetJson, addition_embed_type: 'text_time' }), 'unsupported', /addition_embed_type.*SDXL/);
  rejects(() => parseUnetConfig({ ...unetJson, class_embed_type: 'timestep' }), 'unsupported', /class_embed_type/);
  rejects(() => parseUnetConfig({ ...unetJson, act_fn: 'gelu' }), 'unsupported', /act_fn/);
  rejects(() => parseUnetConfig({ ...unetJson, down_block_types: ['SimpleCrossAttnDownBlock2D', 'DownBlock2D', 'DownBlock2D', 'DownBlock2D'] }), 'unsupported', /SimpleCrossAttnDownBlock2D/);
  rejects(() => parseUnetConfig({ ...unetJson, transformer_layers_per_block: 2 }), 'unsupported', /transformer_layers_per_block/);
});

test('inconsistent or malformed U-Net configs say what is wrong', () => {
  rejects(() => parseUnetConfig({ ...unetJson, block_out_channels: [32, 64, 64] }), 'unsupported', /same length/);
  rejects(() => parseUnetConfig({ ...unetJson, norm_num_groups: 5 }), 'unsupported', /not divisible by norm_num_groups/);
  rejects(() => parseUnetConfig({ ...unetJson, attention_head_dim: 3 }), 'unsupported', /3 attention heads/);
  rejects(() => parseUnetConfig({ ...unetJson, layers_per_block: 0 }), 'corrupt-file', /layers_per_block = 0/);
  rejects(() => parseUnetConfig([1, 2]), 'corrupt-file', /not a JSON object/);
  // SD2-style per-block head counts are accepted when there is one per block.
  assert.deepEqual(parseUnetConfig({ ...unetJson, attention_head_dim: [2, 2, 4, 4] }).attention_head_dim, [2, 2, 4, 4]);
});

test('text encoder and VAE configs refuse what they cannot run', () => {
  const clip = goldenJson('models/afa/text_encoder/config.json') as Record<string, unknown>;
  rejects(() => parseClipTextConfig({ ...clip, hidden_act: 'relu' }), 'unsupported', /hidden_act/);
  rejects(() => parseClipTextConfig({ ...clip, num_attention_heads: 5 }), 'unsupported', /not divisible/);
  const vae = goldenJson('models/afa/vae/config.json') as Record<string, unknown>;
  rejects(() => parseVaeConfig({ ...vae, up_block_types: ['UpDecoderBlock2D'] }), 'unsupported', /up_block_types/);
  rejects(() => parseVaeConfig({ ...vae, shift_factor: 0.1159 }), 'unsupported', /shift_factor/);
  rejects(() => parseVaeConfig({ ...vae, scaling_factor: -1 }), 'unsupported', /scaling_factor/);
});

test('weights that do not match the config are reported by tensor name and shape', () => {
  const config = parseUnetConfig(unetJson);
  rejects(() => buildUnetGraph(new MemoryWeights({}), config), 'mismatch', /Weight 'time_embedding\.linear_1\.weight' is missing/);
  const wrong = new MemoryWeights({ 'time_embedding.linear_1.weight': float32([128, 16]) });
  rejects(() => buildUnetGraph(wrong, config), 'mismatch', /has shape \[128, 16\], but the model config implies \[128, 32\]/);
});

test('a component folder with only pickled weights is refused as unsafe', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pickled-'));
  try {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(unetJson));
    writeFileSync(join(dir, 'diffusion_pytorch_model.bin'), 'not really a pickle');
    rejects(() => openDiffusersComponent(dir, parseUnetConfig), 'unsafe-file', /pickled weights/);
    rejects(() => openDiffusersComponent(join(dir, 'missing'), parseUnetConfig), 'not-found', /no config\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
