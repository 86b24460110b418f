// Contrastive pretraining of a text encoder against an image encoder (the demo family's first stage).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseClipTextConfig } from '../../app/models/clip-text-config.ts';
import { SyntheticWeights } from '../../app/models/synthetic-weights.ts';
import { AdamW } from '../../app/optimizer/adamw.ts';
import { buildContrastiveTrainingGraph, CONTRASTIVE_INPUTS, CONTRASTIVE_LOGITS_OUTPUT, IMAGE_ENCODER_PREFIX, TEXT_PROJECTION } from '../../app/training/contrastive-training-graph.ts';
import { TrainingSession } from '../../app/training/training-session.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { normal, random } from '../autodiff/finite-differences.ts';

const text = parseClipTextConfig({ vocab_size: 40, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 6 });
const batch = 4;
const options = { widths: [4, 8], embedding: 8, scale: 10 };

function feeds(): Record<string, Tensor> {
  const next = random(5);
  const image: Tensor<'float32'> = { dtype: 'float32', shape: [batch, 3, 8, 8], data: Float32Array.from({ length: batch * 3 * 64 }, () => Math.tanh(normal(next))) };
  // Four captions that differ only in their third token (as "on the left" / "on the right" do).
  const ids = [0, 1, 2, 3].flatMap((b) => [39, 5, 10 + b, 38, 38, 38]);
  return { [CONTRASTIVE_INPUTS.image]: image, [CONTRASTIVE_INPUTS.inputIds]: { dtype: 'int64', shape: [batch, 6], data: BigInt64Array.from(ids.map(BigInt)) } };
}

async function withSession<T>(run: (session: TrainingSession) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'afa-contrastive-'));
  const weights = new SyntheticWeights();
  const session = await TrainingSession.create(buildContrastiveTrainingGraph({ weights, config: text }, weights, { batch, size: 8 }, options), { dir });
  try {
    return await run(session);
  } finally {
    await session.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

function parameterFeeds(session: TrainingSession): Record<string, Tensor> {
  return Object.fromEntries([...session.parameters].map(([name, data]) => [name, { dtype: 'float32', shape: session.shapes.get(name)!, data }]));
}

test('the contrastive loss is the mean of the row and column cross-entropies of the logits, with the true pairs on the diagonal', async () => {
  await withSession(async (session) => {
    const names = [...session.parameters.keys()];
    assert.ok(names.includes('text_model.embeddings.token_embedding.weight'));
    assert.ok(names.includes(TEXT_PROJECTION));
    assert.ok(names.includes(`${IMAGE_ENCODER_PREFIX}conv1.weight`));
    const outputs = await session.session.run({ ...feeds(), ...parameterFeeds(session) });
    const logits = outputs[CONTRASTIVE_LOGITS_OUTPUT]!.data as Float32Array;
    assert.deepEqual(outputs[CONTRASTIVE_LOGITS_OUTPUT]!.shape, [batch, batch]);
    // Normalized embeddings: every logit is scale·cos, within [−scale, scale].
    for (const value of logits) assert.ok(Math.abs(value) <= options.scale * (1 + 1e-5), `logit ${value}`);
    const at = (i: number, j: number) => logits[i * batch + j]!;
    const logSumExp = (values: number[]) => Math.log(values.reduce((sum, v) => sum + Math.exp(v), 0));
    let rows = 0;
    let columns = 0;
    for (let i = 0; i < batch; i++) {
      rows += logSumExp([0, 1, 2, 3].map((j) => at(i, j))) - at(i, i);
      columns += logSumExp([0, 1, 2, 3].map((j) => at(j, i))) - at(i, i);
    }
    const expected = (rows / batch + columns / batch) / 2;
    const loss = (outputs.loss!.data as Float32Array)[0]!;
    assert.ok(Math.abs(loss - expected) <= 1e-5 * expected, `loss ${loss}, from the logits ${expected}`);
  });
});

test('the contrastive gradients are the loss\'s slope, and training tells apart captions that differ in one word', async () => {
  await withSession(async (session) => {
    const data = feeds();
    const { loss, gradients } = await session.computeFeeds(data);
    // The token embeddings learn through the whole encoder: rows of the batch's tokens get gradients, a
    // token that never occurs gets exactly none.
    const embedding = gradients.get('text_model.embeddings.token_embedding.weight')!;
    const row = (token: number) => embedding.subarray(token * 16, (token + 1) * 16);
    for (const token of [39, 5, 10, 11, 12, 13, 38]) assert.ok(row(token).some((value) => value !== 0), `token ${token} has no gradient`);
    assert.ok(row(20).every((value) => value === 0), 'an unused token got a gradient');
    // Along the gradient direction d = g/‖g‖: (L(θ + h·d) − L(θ − h·d)) / 2h ≈ ‖g‖.
    let squares = 0;
    for (const values of gradients.values()) for (const value of values) squares += value * value;
    const norm = Math.sqrt(squares);
    const h = 1e-2;
    const shifted = async (sign: number) => {
      const saved = new Map([...session.parameters].map(([name, values]) => [name, Float32Array.from(values)]));
      for (const [name, values] of session.parameters) {
        const gradient = gradients.get(name)!;
        for (let i = 0; i < values.length; i++) values[i] = values[i]! + (sign * h * gradient[i]!) / norm;
      }
      const result = (await session.computeFeeds(data)).loss;
      for (const [name, values] of session.parameters) values.set(saved.get(name)!);
      return result;
    };
    const slope = ((await shifted(1)) - (await shifted(-1))) / (2 * h);
    assert.ok(Math.abs(slope - norm) <= 0.05 * norm, `finite-difference slope ${slope}, gradient norm ${norm}`);

    const optimizer = new AdamW({ lr: 1e-2, weightDecay: 0 });
    let last = loss;
    for (let step = 0; step < 40; step++) {
      const result = await session.computeFeeds(data);
      last = result.loss;
      optimizer.update(session.parameters, result.gradients);
    }
    // Chance is ln 4 ≈ 1.39: every caption then picks its own image.
    assert.ok(last < 0.2 && last < loss / 4, `loss went from ${loss} to ${last}`);
  });
});
