import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, openSync, closeSync, ftruncateSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint } from '../../app/checkpoints/open-checkpoint.ts';
import { UserError } from '../../app/common/errors.ts';
import { castFloat } from '../../app/tensor/cast.ts';
import { SafetensorsFile, writeSafetensors } from '../../app/tensor/safetensors.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { AFA_FOLDER, EXPERT1_FP32, EXPERT2_FP16, temporaryDirectory, tinyConfigs } from './fixtures.ts';
import { golden } from './golden-paths.ts';

const FOLDER_FILES = {
  expert1: {
    unet: golden('models', 'afa', 'unet', 'diffusion_pytorch_model.safetensors'),
    textEncoder: golden('models', 'afa', 'text_encoder', 'model.safetensors'),
    vae: golden('models', 'afa', 'vae', 'diffusion_pytorch_model.safetensors'),
  },
  expert2: {
    unet: golden('models', 'afa', 'additional_unet_0', 'diffusion_pytorch_model.safetensors'),
    textEncoder: golden('models', 'afa', 'additional_text_encoder_0', 'model.safetensors'),
    vae: golden('models', 'afa', 'vae', 'diffusion_pytorch_model.safetensors'),
  },
};

function bytes(tensor: Tensor): Buffer {
  return Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
}

function assertUserError(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof UserError, `expected UserError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

for (const [label, path, files, half] of [
  ['fp32', EXPERT1_FP32, FOLDER_FILES.expert1, false],
  ['fp16', EXPERT2_FP16, FOLDER_FILES.expert2, true],
] as const) {
  test(`single file ${label}: every diffusers tensor equals the golden folder's (bitwise${half ? ' after .half()' : ''})`, () => {
    const checkpoint = openCheckpoint(path, { configOverrides: tinyConfigs(half ? 'additional_unet_0' : 'unet', half ? 'additional_text_encoder_0' : 'text_encoder') });
    try {
      assert.equal(checkpoint.format, 'single-file');
      assert.equal(checkpoint.detection.family, 'sd1');
      assert.equal(checkpoint.sourcePrecision, half ? 'fp16' : 'fp32');
      assert.deepEqual(checkpoint.ignoredTensors, []);
      assert.deepEqual(checkpoint.tokenizer, { kind: 'default' });
      for (const component of ['unet', 'textEncoder', 'vae'] as const) {
        const folder = SafetensorsFile.open(files[component]);
        try {
          const weights = checkpoint.components[component].weights;
          assert.deepEqual([...weights.names()].sort(), [...folder.names()].sort(), component);
          for (const name of weights.names()) {
            const ours = weights.get(name);
            const expected = half ? castFloat(folder.read(name), 'float16') : folder.read(name);
            assert.deepEqual(ours.shape, expected.shape, name);
            assert.ok(ours.region, `${name} keeps its file region`);
            const got = ours.read();
            assert.deepEqual(got.shape, expected.shape, name);
            assert.ok(bytes(got).equals(bytes(expected)), `${component} ${name} differs`);
          }
        } finally {
          folder.close();
        }
      }
    } finally {
      checkpoint.close();
    }
  });
}

test('the SD1.5 default config refuses the tiny checkpoint, naming the fields that differ', () => {
  assert.throws(() => openCheckpoint(EXPERT1_FP32), assertUserError('mismatch', /block_out_channels: the weights have \[32,32,64,64\], the config says \[320,640,1280,1280\]/));
});

test('diffusers folder: components, configs, tokenizer folder and identical weights', () => {
  const checkpoint = openCheckpoint(AFA_FOLDER);
  try {
    assert.equal(checkpoint.format, 'diffusers-folder');
    assert.equal(checkpoint.detection.family, 'sd1');
    assert.equal(checkpoint.detection.prediction, 'epsilon');
    assert.deepEqual(checkpoint.tokenizer, { kind: 'folder', path: join(AFA_FOLDER, 'tokenizer') });
    assert.equal(checkpoint.components.unet.config.norm_num_groups, 8);
    assert.deepEqual(checkpoint.weightFiles, [FOLDER_FILES.expert1.textEncoder, FOLDER_FILES.expert1.unet, FOLDER_FILES.expert1.vae]);
    const unet = SafetensorsFile.open(FOLDER_FILES.expert1.unet);
    try {
      for (const name of ['conv_in.weight', 'mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight']) {
        assert.ok(bytes(checkpoint.components.unet.weights.get(name).read()).equals(bytes(unet.read(name))));
      }
    } finally {
      unet.close();
    }
  } finally {
    checkpoint.close();
  }
});

test('extra tensors (EMA, position_ids, schedule buffers) are ignored; the old text-encoder layout is accepted', (t) => {
  const dir = temporaryDirectory(t);
  const source = SafetensorsFile.open(EXPERT1_FP32);
  const tensors = new Map<string, Tensor>();
  for (const name of source.names()) {
    tensors.set(name.replace('cond_stage_model.transformer.text_model.', 'cond_stage_model.transformer.'), source.read(name));
  }
  source.close();
  const extras = ['model_ema.decay', 'model_ema.diffusion_modelinput_blocks00weight', 'cond_stage_model.transformer.embeddings.position_ids', 'alphas_cumprod', 'optimizer.state'];
  for (const name of extras) tensors.set(name, { dtype: 'float32', shape: [1], data: new Float32Array(1) });
  const path = join(dir, 'old-layout.safetensors');
  writeSafetensors(path, tensors);
  const checkpoint = openCheckpoint(path, { configOverrides: tinyConfigs() });
  try {
    assert.deepEqual([...checkpoint.ignoredTensors].sort(), [...extras].sort());
    assert.equal(checkpoint.detection.hasEma, true);
    const token = checkpoint.components.textEncoder.weights.get('text_model.embeddings.token_embedding.weight');
    assert.deepEqual(token.shape, [1000, 32]);
  } finally {
    checkpoint.close();
  }
});

test('.ckpt, .pt and .bin files are refused as unsafe without being read', (t) => {
  const dir = temporaryDirectory(t);
  for (const name of ['model.ckpt', 'model.pt', 'model.pth', 'pytorch_model.bin']) {
    const path = join(dir, name);
    writeFileSync(path, 'not even a pickle');
    assert.throws(() => openCheckpoint(path), assertUserError('unsafe-file', /can run arbitrary code/));
  }
});

test('a pickle or a PyTorch zip renamed to .safetensors is refused as unsafe by its magic bytes', (t) => {
  const dir = temporaryDirectory(t);
  const pickle = join(dir, 'renamed-pickle.safetensors');
  writeFileSync(pickle, Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x58, 0x05, 0x00, 0x00, 0x00, 0x2e]));
  assert.throws(() => openCheckpoint(pickle), assertUserError('unsafe-file', /Python pickle/));
  const zip = join(dir, 'renamed-zip.safetensors');
  writeFileSync(zip, Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(60)]));
  assert.throws(() => openCheckpoint(zip), assertUserError('unsafe-file', /archive/));
});

test('a truncated copy of the fp16 checkpoint is refused as corrupt', (t) => {
  const dir = temporaryDirectory(t);
  const path = join(dir, 'truncated.safetensors');
  copyFileSync(EXPERT2_FP16, path);
  const fd = openSync(path, 'r+');
  ftruncateSync(fd, Math.floor(statSync(path).size / 2));
  closeSync(fd);
  assert.throws(() => openCheckpoint(path, { configOverrides: tinyConfigs() }), assertUserError('corrupt-file', /truncated/));
});

test('a corrupt header is refused as corrupt', (t) => {
  const dir = temporaryDirectory(t);
  const path = join(dir, 'corrupt.safetensors');
  const header = Buffer.from('{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]', 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(path, Buffer.concat([prefix, header, Buffer.alloc(8)]));
  assert.throws(() => openCheckpoint(path), assertUserError('corrupt-file', /not valid JSON/));
});

test('missing U-Net tensors are reported with a few of their names', (t) => {
  const dir = temporaryDirectory(t);
  const source = SafetensorsFile.open(EXPERT1_FP32);
  const tensors = new Map<string, Tensor>();
  const dropped = ['model.diffusion_model.middle_block.1.proj_out.weight', 'model.diffusion_model.output_blocks.5.2.conv.bias'];
  for (const name of source.names()) if (!dropped.includes(name)) tensors.set(name, source.read(name));
  source.close();
  const path = join(dir, 'incomplete.safetensors');
  writeSafetensors(path, tensors);
  assert.throws(
    () => openCheckpoint(path, { configOverrides: tinyConfigs() }),
    assertUserError('corrupt-file', /lacks 2 of the 684 tensors of the SD1\.x U-Net \('model\.diffusion_model\.middle_block\.1\.proj_out\.weight', 'model\.diffusion_model\.output_blocks\.5\.2\.conv\.bias'\)/),
  );
});

test('a checkpoint without VAE is refused with a message saying so', (t) => {
  const dir = temporaryDirectory(t);
  const source = SafetensorsFile.open(EXPERT1_FP32);
  const tensors = new Map<string, Tensor>();
  for (const name of source.names()) if (!name.startsWith('first_stage_model.')) tensors.set(name, source.read(name));
  source.close();
  const path = join(dir, 'no-vae.safetensors');
  writeSafetensors(path, tensors);
  assert.throws(() => openCheckpoint(path, { configOverrides: tinyConfigs() }), assertUserError('unsupported', /has no VAE/));
});

test('diffusers folders: pre-0.14 VAE attention names, sharded U-Net weights, and pickle-only components', (t) => {
  const root = temporaryDirectory(t);
  for (const folder of ['unet', 'text_encoder', 'vae', 'tokenizer', 'scheduler']) mkdirSync(join(root, folder));
  copyFileSync(join(AFA_FOLDER, 'model_index.json'), join(root, 'model_index.json'));
  for (const folder of ['unet', 'text_encoder', 'vae']) copyFileSync(join(AFA_FOLDER, folder, 'config.json'), join(root, folder, 'config.json'));
  copyFileSync(join(AFA_FOLDER, 'text_encoder', 'model.safetensors'), join(root, 'text_encoder', 'model.safetensors'));
  // VAE saved by diffusers < 0.14: query/key/value/proj_attn.
  const vae = SafetensorsFile.open(FOLDER_FILES.expert1.vae);
  const renamed = new Map<string, Tensor>();
  for (const name of vae.names()) {
    const old = name.replace('.to_q.', '.query.').replace('.to_k.', '.key.').replace('.to_v.', '.value.').replace('.to_out.0.', '.proj_attn.');
    renamed.set(old, vae.read(name));
  }
  vae.close();
  writeSafetensors(join(root, 'vae', 'diffusion_pytorch_model.safetensors'), renamed);
  // U-Net in two shards listed by an index.
  const unet = SafetensorsFile.open(FOLDER_FILES.expert1.unet);
  const shards: [Map<string, Tensor>, Map<string, Tensor>] = [new Map(), new Map()];
  const weightMap: Record<string, string> = {};
  unet.names().forEach((name, index) => {
    shards[index % 2].set(name, unet.read(name));
    weightMap[name] = `diffusion_pytorch_model-0000${(index % 2) + 1}-of-00002.safetensors`;
  });
  unet.close();
  shards.forEach((shard, index) => writeSafetensors(join(root, 'unet', `diffusion_pytorch_model-0000${index + 1}-of-00002.safetensors`), shard));
  writeFileSync(join(root, 'unet', 'diffusion_pytorch_model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));

  const checkpoint = openCheckpoint(root);
  try {
    assert.equal(checkpoint.weightFiles.length, 4);
    assert.deepEqual(checkpoint.tokenizer, { kind: 'default' }, 'an empty tokenizer folder is not a tokenizer');
    const toQ = checkpoint.components.vae.weights.get('decoder.mid_block.attentions.0.to_q.weight');
    assert.deepEqual(toQ.shape, [32, 32]);
    const reference = SafetensorsFile.open(FOLDER_FILES.expert1.vae);
    assert.ok(bytes(toQ.read()).equals(bytes(reference.read('decoder.mid_block.attentions.0.to_q.weight'))));
    reference.close();
    assert.equal(checkpoint.components.unet.weights.names().length, 684);
  } finally {
    checkpoint.close();
  }

  rmSync(join(root, 'text_encoder', 'model.safetensors'));
  writeFileSync(join(root, 'text_encoder', 'pytorch_model.bin'), Buffer.from([0x80, 0x02]));
  assert.throws(() => openCheckpoint(root), assertUserError('unsafe-file', /pytorch_model\.bin/));
});
