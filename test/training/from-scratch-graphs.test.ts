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
import { buildVaeTrainingGraph, VAE_COLOUR_OUTPUT, VAE_KL_OUTPUT, VAE_POSTERIOR_MEAN_OUTPUT, VAE_RECONSTRUCTION_LOSS_OUTPUT, VAE_RECONSTRUCTION_OUTPUT, VAE_TRAINING_INPUTS } from '../../app/training/vae-training-graph.ts';
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

test('with a colour weight γ the VAE objective adds γ times the distance of μ’s first three channels to each cell’s mean RGB, and training pulls them together', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'afa-vae-colour-'));
  const klWeight = 0.01;
  const colourWeight = 2;
  const built = buildVaeTrainingGraph(new SyntheticWeights(), vaeConfig, { batch: 2, height: 8, width: 8 }, { klWeight, colourWeight });
  const plain = buildVaeTrainingGraph(new SyntheticWeights(), vaeConfig, { batch: 2, height: 8, width: 8 }, { klWeight });
  const session = await TrainingSession.create(built, { dir: join(dir, 'colour') });
  const without = await TrainingSession.create(plain, { dir: join(dir, 'plain') });
  try {
    const image = f32([2, 3, 8, 8], 3);
    for (let i = 0; i < image.data.length; i++) image.data[i] = Math.tanh(image.data[i]!);
    const feeds = { [VAE_TRAINING_INPUTS.image]: image, [VAE_TRAINING_INPUTS.noise]: f32([2, 4, 4, 4], 4) };
    const run = async (s: TrainingSession) => s.session.run(Object.fromEntries([...Object.entries(feeds), ...[...s.parameters].map(([name, data]) => [name, { dtype: 'float32', shape: s.shapes.get(name)!, data }])]) as Record<string, Tensor>);
    const outputs = await run(session);
    const scalar = (tensors: Record<string, Tensor>, name: string) => (tensors[name]!.data as Float32Array)[0]!;
    // The term by hand: μ [2, 4, 4, 4] (2× down), each latent cell against the mean RGB of its 2×2 pixels.
    const mean = outputs[VAE_POSTERIOR_MEAN_OUTPUT]!.data as Float32Array;
    assert.deepEqual(outputs[VAE_POSTERIOR_MEAN_OUTPUT]!.shape, [2, 4, 4, 4]);
    let sum = 0;
    for (let b = 0; b < 2; b++) for (let c = 0; c < 3; c++) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) {
      let cell = 0;
      for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) cell += image.data[((b * 3 + c) * 8 + y * 2 + dy) * 8 + x * 2 + dx]!;
      sum += (mean[((b * 4 + c) * 4 + y) * 4 + x]! - cell / 4) ** 2;
    }
    const colour = scalar(outputs, VAE_COLOUR_OUTPUT);
    assert.ok(Math.abs(colour - sum / 96) <= 1e-5 * colour, `colour term ${colour} vs ${sum / 96}`);
    const plainLoss = scalar(await run(without), 'loss');
    assert.ok(Math.abs(scalar(outputs, 'loss') - (plainLoss + colourWeight * colour)) <= 1e-5 * plainLoss, `loss ${scalar(outputs, 'loss')} vs ${plainLoss} + ${colourWeight}·${colour}`);
    assert.throws(() => buildVaeTrainingGraph(new SyntheticWeights(), vaeConfig, { batch: 2, height: 8, width: 8 }, { klWeight, colourWeight: -1 }), /colourWeight must be 0 or more/);

    const optimizer = new AdamW({ lr: 3e-3, weightDecay: 0 });
    for (let step = 0; step < 60; step++) optimizer.update(session.parameters, (await session.computeFeeds(feeds)).gradients);
    const last = scalar(await run(session), VAE_COLOUR_OUTPUT);
    assert.ok(last < colour / 10, `the colour term went from ${colour} to ${last}`);
  } finally {
    await session.release();
    await without.release();
    rmSync(dir, { recursive: true, force: true });
  }
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
