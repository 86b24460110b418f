// The graph that trains a whole VAE from scratch (the demo family's): reconstruction + KL objective.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseVaeConfig } from '../../app/models/vae-config.ts';
import { SyntheticWeights } from '../../app/models/synthetic-weights.ts';
import { AdamW } from '../../app/optimizer/adamw.ts';
import { TrainingSession } from '../../app/training/training-session.ts';
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
