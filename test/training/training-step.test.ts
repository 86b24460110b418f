// The training step end to end on the golden tiny models: activation recomputation gives the same
// gradients as keeping every activation, a step is a pure function of its inputs (bit-identical
// reruns), and a tiny U-Net trained from scratch on a fixed set of examples drives its loss down by
// more than an order of magnitude.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { SyntheticWeights } from '../../app/models/synthetic-weights.ts';
import { loadAggregatorSet } from '../../app/ensemble/aggregator-set.ts';
import type { Expert } from '../../app/ensemble/lock-step-graph.ts';
import { buildAfaTrainingGraph } from '../../app/training/afa-training-graph.ts';
import { buildUnetTrainingGraph } from '../../app/training/unet-training-graph.ts';
import type { TrainingGraph } from '../../app/training/training-graph.ts';
import { TrainingSession, type TrainingBatch } from '../../app/training/training-session.ts';
import { AdamW } from '../../app/optimizer/adamw.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { goldenAfaDir } from '../ensemble/golden-experts.ts';
import { normal, random } from '../autodiff/finite-differences.ts';

function randomTensor(shape: number[], seed: number, scale = 1): Tensor<'float32'> {
  const next = random(seed);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = normal(next) * scale;
  return { dtype: 'float32', shape, data };
}

function experts(): Expert[] {
  return ['unet', 'additional_unet_0', 'additional_unet_1'].map((folder) => {
    const { config, weights } = openDiffusersComponent(join(goldenAfaDir, folder), parseUnetConfig);
    return { config, weights };
  });
}

function afaBatch(seed: number): TrainingBatch {
  return {
    sample: randomTensor([2, 4, 8, 8], seed),
    timestep: { dtype: 'float32', shape: [2], data: Float32Array.of(17, 803) },
    context: randomTensor([3, 2, 7, 32], seed + 1),
    target: randomTensor([2, 4, 8, 8], seed + 2),
  };
}

async function withSession<T>(build: () => Parameters<typeof TrainingSession.create>[0], use: (session: TrainingSession) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'afa-train-test-'));
  const session = await TrainingSession.create(build(), { dir, session: { intraOpThreads: 2 } });
  try {
    return await use(session);
  } finally {
    await session.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

const shape = { batch: 2, height: 8, width: 8, tokens: 7 };

test('AFA: recomputing activations per aggregation point gives the gradients of keeping them, and reruns are bit-identical', async () => {
  const batch = afaBatch(5);
  const kept = await withSession(
    () => buildAfaTrainingGraph(experts(), loadAggregatorSet(goldenAfaDir), shape, { recompute: 'none' }),
    async (session) => {
      const first = await session.computeGradients(batch);
      const second = await session.computeGradients(batch);
      assert.equal(first.loss, second.loss);
      for (const [name, gradient] of first.gradients) assert.deepEqual(second.gradients.get(name), gradient, `rerun of ${name}`);
      return first;
    },
  );
  const compare = async (built: TrainingGraph, label: string) => {
    const recomputed = await withSession(() => built, (session) => session.computeGradients(batch));
    assert.equal(recomputed.loss, kept.loss, label);
    let worst = 0;
    for (const [name, gradient] of kept.gradients) {
      const other = recomputed.gradients.get(name)!;
      const largest = gradient.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < gradient.length; i++) worst = Math.max(worst, Math.abs(gradient[i]! - other[i]!) / Math.max(largest, 1e-30));
    }
    // The same kernels on the same values: equal up to onnxruntime fusing the copies differently (measured 0).
    assert.ok(worst <= 1e-6, `${label}: recomputed gradients differ by ${worst} of the largest gradient`);
  };
  const every = buildAfaTrainingGraph(experts(), loadAggregatorSet(goldenAfaDir), shape, { recompute: 'points', recomputeKeepShare: 0 });
  assert.equal(every.stats.segments, 24, 'one recomputed segment per aggregation point but the last');
  assert.equal(every.stats.keptSegments, 0);
  assert.ok(every.stats.recomputed > 1000, `recomputed ${every.stats.recomputed} nodes`);
  await compare(every, 'every segment recomputed');
  // The default keeps the segments with the most arithmetic per byte (the low-resolution points).
  const some = buildAfaTrainingGraph(experts(), loadAggregatorSet(goldenAfaDir), shape, { recompute: 'points' });
  assert.ok(some.stats.keptSegments > 0 && some.stats.segments > 0, `${some.stats.keptSegments} kept, ${some.stats.segments} recomputed`);
  assert.equal(some.stats.segments + some.stats.keptSegments, 24);
  assert.ok(some.stats.recomputed < every.stats.recomputed && some.stats.keptBytes > every.stats.keptBytes);
  await compare(some, 'low-resolution segments kept');
});

test('a tiny U-Net trained from scratch on a fixed set of examples lowers its loss by more than 10×', async () => {
  const { config } = openDiffusersComponent(join(goldenAfaDir, 'unet'), parseUnetConfig);
  const examples: TrainingBatch = {
    sample: randomTensor([4, 4, 8, 8], 11),
    timestep: { dtype: 'float32', shape: [4], data: Float32Array.of(50, 300, 600, 900) },
    context: randomTensor([4, 5, 32], 12),
    target: randomTensor([4, 4, 8, 8], 13),
  };
  await withSession(
    () => buildUnetTrainingGraph(new SyntheticWeights(), config, { batch: 4, height: 8, width: 8, tokens: 5 }, { recompute: 'points' }),
    async (session) => {
      const optimizer = new AdamW({ lr: 2e-3, weightDecay: 0 });
      const losses: number[] = [];
      for (let step = 0; step < 300; step++) {
        const { loss, gradients } = await session.computeGradients(examples);
        assert.ok(Number.isFinite(loss), `loss at step ${step} is ${loss}`);
        losses.push(loss);
        optimizer.update(session.parameters, gradients);
      }
      const start = losses[0]!;
      const end = Math.min(...losses.slice(-10));
      assert.ok(end < start / 10, `loss went from ${start} to ${end}`);
    },
  );
});

test("recompute 'auto' keeps activations that fit the memory budget and recomputes those that do not", () => {
  const build = (budget: number) => buildAfaTrainingGraph(experts(), loadAggregatorSet(goldenAfaDir), shape, { recompute: 'auto', memoryBudgetBytes: budget });
  const roomy = build(Number.POSITIVE_INFINITY);
  const tight = build(0);
  assert.equal(roomy.recompute, 'none');
  assert.equal(tight.recompute, 'points');
  assert.ok(tight.stats.keptBytes < roomy.stats.keptBytes / 2, `kept ${tight.stats.keptBytes} bytes with recomputation, ${roomy.stats.keptBytes} without`);
});
