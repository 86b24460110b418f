// The graphs that train whole models from scratch (the demo family): the VAE's reconstruction + KL
// objective, and the text encoder trained jointly with a U-Net from token ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseClipTextConfig } from '../../app/models/clip-text-config.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { parseVaeConfig } from '../../app/models/vae-config.ts';
import { SyntheticWeights } from '../../app/models/synthetic-weights.ts';
import { AdamW } from '../../app/optimizer/adamw.ts';
import { TRAINING_INPUTS } from '../../app/training/training-graph.ts';
import { TrainingSession } from '../../app/training/training-session.ts';
import { buildTextUnetTrainingGraph, INPUT_IDS } from '../../app/training/unet-training-graph.ts';
import { buildVaeTrainingGraph, VAE_KL_OUTPUT, VAE_RECONSTRUCTION_LOSS_OUTPUT, VAE_RECONSTRUCTION_OUTPUT, VAE_TRAINING_INPUTS } from '../../app/training/vae-training-graph.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { normal, random } from '../autodiff/finite-differences.ts';

const f32 = (shape: number[], seed: number): Tensor<'float32'> => {
  const next = random(seed);
  return { dtype: 'float32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => normal(next)) };
};

const vaeConfig = parseVaeConfig({
  block_out_channels: [8, 16],
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'],
  latent_channels: 4,
  layers_per_block: 1,
  norm_num_groups: 4,
  scaling_factor: 0.5,
});

test('the VAE objective is the pixel MSE plus β times the mean KL to a unit Gaussian, and training lowers it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'afa-vae-train-'));
  const klWeight = 0.01;
  const built = buildVaeTrainingGraph(new SyntheticWeights(), vaeConfig, { batch: 2, height: 8, width: 8 }, { klWeight });
  const session = await TrainingSession.create(built, { dir });
  try {
    const image = f32([2, 3, 8, 8], 1);
    for (let i = 0; i < image.data.length; i++) image.data[i] = Math.tanh(image.data[i]!);
    const feeds = { [VAE_TRAINING_INPUTS.image]: image, [VAE_TRAINING_INPUTS.noise]: f32([2, 4, 4, 4], 2) };
    const outputs = await session.session.run(Object.fromEntries([...Object.entries(feeds), ...[...session.parameters].map(([name, data]) => [name, { dtype: 'float32', shape: session.shapes.get(name)!, data }])]) as Record<string, Tensor>);
    const reconstruction = outputs[VAE_RECONSTRUCTION_OUTPUT]!.data as Float32Array;
    let sum = 0;
    for (let i = 0; i < reconstruction.length; i++) sum += (reconstruction[i]! - image.data[i]!) ** 2;
    const mse = (outputs[VAE_RECONSTRUCTION_LOSS_OUTPUT]!.data as Float32Array)[0]!;
    const kl = (outputs[VAE_KL_OUTPUT]!.data as Float32Array)[0]!;
    const loss = (outputs.loss!.data as Float32Array)[0]!;
    assert.ok(Math.abs(mse - sum / reconstruction.length) <= 1e-5 * mse, `mse ${mse} vs ${sum / reconstruction.length}`);
    assert.ok(kl > 0, `KL ${kl}`);
    assert.ok(Math.abs(loss - (mse + klWeight * kl)) <= 1e-5 * loss, `loss ${loss} vs ${mse} + ${klWeight}·${kl}`);

    const optimizer = new AdamW({ lr: 3e-3, weightDecay: 0 });
    const losses: number[] = [];
    for (let step = 0; step < 60; step++) {
      const result = await session.computeFeeds(feeds);
      losses.push(result.loss);
      optimizer.update(session.parameters, result.gradients);
    }
    assert.ok(Math.min(...losses.slice(-5)) < losses[0]! / 3, `loss went from ${losses[0]} to ${Math.min(...losses.slice(-5))}`);
  } finally {
    await session.release();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a text encoder trained jointly with a U-Net receives gradients through the cross-attention, token embeddings included', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'afa-text-unet-train-'));
  const text = parseClipTextConfig({ vocab_size: 50, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 6 });
  const unet = parseUnetConfig({
    block_out_channels: [8, 16],
    down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
    up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
    attention_head_dim: 2,
    cross_attention_dim: 16,
    norm_num_groups: 4,
    layers_per_block: 1,
  });
  const weights = new SyntheticWeights();
  const built = buildTextUnetTrainingGraph({ weights, config: text }, { weights, config: unet }, { batch: 2, height: 4, width: 4 });
  const names = built.parameters.map((parameter) => parameter.value.name);
  assert.ok(names.includes('text_model.embeddings.token_embedding.weight'));
  assert.ok(names.includes('conv_in.weight'));
  const session = await TrainingSession.create(built, { dir });
  try {
    const ids = BigInt64Array.from([49, 3, 7, 2, 1, 1, 49, 5, 2, 1, 1, 1].map(BigInt));
    const { loss, gradients } = await session.computeFeeds({
      [INPUT_IDS]: { dtype: 'int64', shape: [2, 6], data: ids },
      [TRAINING_INPUTS.sample]: f32([2, 4, 4, 4], 3),
      [TRAINING_INPUTS.timestep]: { dtype: 'float32', shape: [2], data: Float32Array.of(10, 900) },
      [TRAINING_INPUTS.target]: f32([2, 4, 4, 4], 4),
    });
    assert.ok(Number.isFinite(loss));
    const embedding = gradients.get('text_model.embeddings.token_embedding.weight')!;
    const row = (token: number) => embedding.subarray(token * 16, (token + 1) * 16);
    // Rows of tokens in the batch get gradients; a token that never occurs gets exactly none.
    for (const token of [49, 3, 7, 5]) assert.ok(row(token).some((value) => value !== 0), `token ${token} has no gradient`);
    assert.ok(row(20).every((value) => value === 0), 'an unused token got a gradient');
  } finally {
    await session.release();
    rmSync(dir, { recursive: true, force: true });
  }
});
