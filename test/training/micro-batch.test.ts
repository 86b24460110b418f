// Gradient accumulation chosen from memory: the micro-batch planner against an activation budget on the
// golden tiny experts' training graph, and whole runs with a batch of 4 as one call, as 2 × 2 (chosen by
// the run itself from a budget that holds two samples' activations) and as 4 × 1, whose losses and
// parameters agree within float32 rounding (stated below, after the accumulated gradients of 4 × 1 against
// one call of 4), with the chosen micro-batch in the step events, the result and run.json.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadAggregatorSet } from '../../app/ensemble/aggregator-set.ts';
import { AGGREGATOR_NORM_GROUPS } from '../../app/ensemble/aggregator-config.ts';
import type { Expert } from '../../app/ensemble/lock-step-graph.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { planAfaTrainingStep } from '../../app/training/afa-training-graph.ts';
import { chooseMicroBatch, stepActivationBytes } from '../../app/training/training-graph.ts';
import type { TrainingBatch, TrainingSession } from '../../app/training/training-session.ts';
import { TrainingRandom } from '../../app/training/training-random.ts';
import { GradientAccumulator } from '../../app/optimizer/gradients.ts';
import { AdamW } from '../../app/optimizer/adamw.ts';
import { openFolderEncoders, type TrainingEncoders } from '../../app/training/training-encoders.ts';
import { readRunFile, runAfaTrainingJob, type AfaTrainingJobOptions, type AfaTrainingResult } from '../../app/training/afa-training-job.ts';
import { resolveTrainingSettings } from '../../app/training/training-settings.ts';
import { scanImageDataset, type ImageDataset } from '../../app/datasets/image-dataset.ts';
import { goldenAfaDir, goldenExpertFolders, scratchDir } from '../ensemble/golden-experts.ts';
import { GOLDEN_TRAINING_SHAPE, goldenRunOptions, goldenTrainingSession, goldenUnets } from './golden-training.ts';
import { writeGeneratedDataset } from '../datasets/generated-dataset.ts';

const scratch = scratchDir('afa-micro-batch-');
let encoders: TrainingEncoders;
let experts: Expert[];
let dataset: ImageDataset;
/** Training steps at a fixed micro-batch, compiled once: the gradient test and the runs at that micro-batch share them. */
const sessions = new Map<number, TrainingSession>();
const shape = GOLDEN_TRAINING_SHAPE;
const settings = { resolution: 64, steps: 3, batchSize: 4, lr: 1e-3, seed: 3, validationShare: 0, validationEvery: 0, checkpointEvery: 3, sampleCount: 0 };

before(async () => {
  const folders = goldenExpertFolders(scratch);
  experts = goldenUnets();
  encoders = await openFolderEncoders(folders, join(scratch, 'encoders'), { intraOpThreads: 2 });
  dataset = scanImageDataset(await writeGeneratedDataset(join(scratch, 'data'), 8));
});

after(async () => {
  for (const session of sessions.values()) await session.release();
  await encoders?.release();
  rmSync(scratch, { recursive: true, force: true });
});

test('the micro-batch is the largest divisor of the batch whose activations fit', () => {
  assert.equal(chooseMicroBatch(8, 100, 800), 8);
  assert.equal(chooseMicroBatch(8, 100, 799), 4);
  assert.equal(chooseMicroBatch(8, 100, 250), 2);
  assert.equal(chooseMicroBatch(8, 100, 50), 1, 'never below one sample: the run tries');
  assert.equal(chooseMicroBatch(6, 100, 500), 3);
  assert.equal(chooseMicroBatch(7, 100, 600), 1, 'a prime batch splits into single samples');
  assert.equal(resolveTrainingSettings({}).microBatch, undefined, 'by default the run chooses');
  assert.throws(() => resolveTrainingSettings({ batchSize: 8, microBatch: 3 }), /cannot be split into micro-batches of 3/);
});

test('planning keeps the batch whole when it fits and splits it when only part of it does', () => {
  const aggregators = loadAggregatorSet(goldenAfaDir);
  const one = planAfaTrainingStep(experts, aggregators, { ...shape, batchSize: 1 }, { recompute: 'none', memoryBudgetBytes: Number.MAX_SAFE_INTEGER });
  const perSample = stepActivationBytes(one.graph.stats);
  assert.ok(perSample > 0);
  assert.equal(one.estimate?.perSampleBytes, perSample);
  const whole = planAfaTrainingStep(experts, aggregators, { ...shape, batchSize: 4 }, { recompute: 'none', memoryBudgetBytes: 4 * perSample });
  assert.equal(whole.microBatch, 4);
  const split = planAfaTrainingStep(experts, aggregators, { ...shape, batchSize: 4 }, { recompute: 'none', memoryBudgetBytes: 3 * perSample });
  assert.equal(split.microBatch, 2);
  assert.equal(split.graph.graph.inputs.find((input) => input.name === 'sample')?.shape?.[0], 2, 'the graph is built at the micro-batch');
  // 'auto' recomputes per point before it splits: the activations per sample are smaller that way.
  const auto = planAfaTrainingStep(experts, aggregators, { ...shape, batchSize: 4 }, { recompute: 'auto', memoryBudgetBytes: 3 * perSample });
  assert.equal(auto.graph.recompute, 'points');
  assert.ok(auto.estimate!.perSampleBytes < perSample, `per point ${auto.estimate!.perSampleBytes} < kept ${perSample}`);
  assert.ok(auto.microBatch >= 2);
  // A micro-batch given in the settings is kept whatever the budget.
  assert.equal(planAfaTrainingStep(experts, aggregators, { ...shape, batchSize: 4, microBatch: 1 }, { recompute: 'none', memoryBudgetBytes: 1 }).microBatch, 1);
});

async function sessionAt(microBatch: number): Promise<TrainingSession> {
  let session = sessions.get(microBatch);
  if (!session) {
    session = await goldenTrainingSession(experts, microBatch, join(scratch, `graph-${microBatch}`), { intraOpThreads: 2 });
    sessions.set(microBatch, session);
  }
  return session;
}

function job(runDir: string, extra: Partial<AfaTrainingJobOptions> = {}): AfaTrainingJobOptions {
  return { ...goldenRunOptions({ scratch, experts, encoders, dataset, settings, session: { intraOpThreads: 2 } }, runDir), recompute: 'none', skipReference: true, ...extra };
}

/**
 * The aggregator weights whose gradient is zero in exact arithmetic: the golden tiny aggregators are 32
 * channels wide and their ResnetBlock's norm2 is a GroupNorm of 32 groups, one channel each, which removes
 * any per-channel constant — conv1's bias and the projected time embedding (one constant per sample and
 * channel). Their computed gradients are float32 rounding left over from that subtraction.
 */
const ZERO_GRADIENT = /\.res_block\.(conv1\.bias|time_emb_proj\.(weight|bias))$/;

/** Rows `rows` of a batch of 4 (context [K, 4, T, D] → [K, rows, T, D]). */
function rowsOf(batch: TrainingBatch, rows: readonly number[]): TrainingBatch {
  const pick = (tensor: Tensor<'float32'>, axis: 0 | 1): Tensor<'float32'> => {
    const shape = [...tensor.shape];
    const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const data = new Float32Array(outer * rows.length * inner);
    for (let o = 0; o < outer; o++) rows.forEach((row, j) => data.set(tensor.data.subarray((o * shape[axis]! + row) * inner, (o * shape[axis]! + row + 1) * inner), (o * rows.length + j) * inner));
    shape[axis] = rows.length;
    return { dtype: 'float32', shape, data };
  };
  return { sample: pick(batch.sample, 0), timestep: pick(batch.timestep, 0), context: pick(batch.context, 1), target: pick(batch.target, 0) };
}

function copyOf(gradients: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  return new Map([...gradients].map(([name, values]) => [name, Float32Array.from(values)]));
}

/** ‖a − b‖ over every parameter, ‖a‖, and the largest |a| in the weights named by ZERO_GRADIENT and in the others. */
function gradientDifference(a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>): { difference: number; norm: number; zeroLargest: number; largest: number } {
  let squares = 0;
  let norm = 0;
  let zeroLargest = 0;
  let largest = 0;
  for (const [name, values] of a) {
    const other = b.get(name)!;
    for (let i = 0; i < values.length; i++) {
      squares += (values[i]! - other[i]!) ** 2;
      norm += values[i]! ** 2;
      if (ZERO_GRADIENT.test(name)) zeroLargest = Math.max(zeroLargest, Math.abs(values[i]!), Math.abs(other[i]!));
      else largest = Math.max(largest, Math.abs(values[i]!));
    }
  }
  return { difference: Math.sqrt(squares), norm: Math.sqrt(norm), zeroLargest, largest };
}

test('the gradients of 4 single-sample calls, accumulated, are one call of 4\'s within the gradient\'s own float32 sensitivity', async () => {
  assert.ok(loadAggregatorSet(goldenAfaDir).configs.every((config) => config.hiddenSize === AGGREGATOR_NORM_GROUPS), 'one channel per norm group (ZERO_GRADIENT)');
  const random = new TrainingRandom(5);
  const [K, B, T, D] = [experts.length, settings.batchSize, shape.tokens, experts[0]!.config.cross_attention_dim];
  const latents = [B, 4, shape.height, shape.width];
  const size = latents.reduce((a, b) => a * b, 1);
  const batch: TrainingBatch = {
    sample: { dtype: 'float32', shape: latents, data: random.normal(0, 0, size) },
    timestep: { dtype: 'float32', shape: [B], data: Float32Array.from([999, 640, 250, 12]) },
    context: { dtype: 'float32', shape: [K, B, T, D], data: random.normal(1, 0, K * B * T * D) },
    target: { dtype: 'float32', shape: latents, data: random.normal(2, 0, size) },
  };
  const whole = await sessionAt(4);
  const single = await sessionAt(1);
  const started = performance.now();
  const one = await whole.computeGradients(batch);
  const wholeGradients = copyOf(one.gradients);
  const accumulator = new GradientAccumulator();
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const result = await single.computeGradients(rowsOf(batch, [b]));
    loss += result.loss / B;
    accumulator.add(result.gradients);
  }
  const split = accumulator.mean();
  // The same call of 4 with the noisy latents moved by one float32 ulp each (up or down at random): how
  // far float32 rounding anywhere in the forward and backward moves these gradients.
  const sign = random.uniform(3, 0, size);
  const moved = Float32Array.from(batch.sample.data, (x, i) => Math.fround(x * (1 + (sign[i]! < 0.5 ? -1 : 1) * 2 ** -23)));
  const nudged = (await whole.computeGradients({ ...batch, sample: { ...batch.sample, data: moved } })).gradients;
  const seconds = (performance.now() - started) / 1000;

  const splitting = gradientDifference(wholeGradients, split);
  const rounding = gradientDifference(wholeGradients, nudged);
  console.log(
    `4 × 1 vs 1 × 4: loss ${loss} vs ${one.loss}; ‖Δg‖/‖g‖ ${(splitting.difference / splitting.norm).toExponential(2)} (latents moved by one ulp: ${(rounding.difference / rounding.norm).toExponential(2)}); ` +
      `zero-gradient weights ≤ ${splitting.zeroLargest.toExponential(2)} of largest gradient ${splitting.largest.toExponential(2)}; ${seconds.toFixed(1)} s`,
  );
  // Every sample, timestep and prompt is the same, and the mean over micro-batches weighs them as one call does:
  // the losses agree to float32 summation order.
  assert.ok(Math.abs(loss - one.loss) <= 1e-6 * one.loss, `loss ${loss} vs ${one.loss}`); // measured 2e-7
  // The gradients are not bit-for-bit one call's: the batch-1 graph runs other kernels (other blocking
  // and summation orders) than the batch-4 one (whose per-sample arithmetic the batch-2 graph shares: 2 × 2
  // differs from 1 × 4 by 1e-7 of a tensor's largest gradient), and this gradient, a backward pass through
  // three frozen U-Nets, is sensitive to rounding: moving the input latents by one ulp changes it more than
  // the split does (measured ‖Δg‖/‖g‖: 7.8e-5 for the split, 1.8e-4 for one ulp; 4 × 1 on one thread
  // instead of two differs as much). Other samples, noise, timesteps or a mean weighted wrongly would change
  // it by about ‖g‖ (a factor of 4 for a sum instead of a mean).
  assert.ok(splitting.difference <= 4 * rounding.difference, `split: ‖Δg‖ ${splitting.difference} > 4 × one ulp's ${rounding.difference}`);
  assert.ok(splitting.difference <= 1e-3 * splitting.norm, `split: ‖Δg‖ ${splitting.difference} vs ‖g‖ ${splitting.norm}`);
  // The weights whose exact gradient is zero: rounding noise below 1e-6 of the largest gradient, in both.
  assert.ok(splitting.zeroLargest <= 1e-6 * splitting.largest, `zero-gradient weights: ${splitting.zeroLargest} vs largest ${splitting.largest}`);
  // AdamW's first step from these gradients (equal parameters, no moments yet): lr·g/(|g| + ε) is about
  // ±lr whatever |g|, so an element moves differently only where the rounding flips its gradient's sign.
  // Measured: 0.025 % of the weights with a non-zero gradient move by more than 1 % of lr differently for
  // the split, 0.028 % for the one-ulp move (plain SGD at the same largest step: none). So the first step
  // adds nothing beyond rounding; the parameter differences of the 4 × 1 run below accrue at steps 2 and 3.
  const firstStep = (gradients: ReadonlyMap<string, Float32Array>) => {
    const parameters = new Map([...gradients].map(([name, values]) => [name, new Float32Array(values.length)]));
    new AdamW({ lr: settings.lr, weightDecay: 0 }).update(parameters, gradients);
    return parameters;
  };
  const movedApart = (a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>) => {
    let count = 0;
    let apart = 0;
    for (const [name, values] of a) {
      if (ZERO_GRADIENT.test(name)) continue;
      const other = b.get(name)!;
      for (let i = 0; i < values.length; i++, count++) if (Math.abs(values[i]! - other[i]!) > 0.01 * settings.lr) apart++;
    }
    return apart / count;
  };
  const fromWhole = firstStep(wholeGradients);
  const splitApart = movedApart(fromWhole, firstStep(split));
  const ulpApart = movedApart(fromWhole, firstStep(nudged));
  console.log(`AdamW's first step: ${(splitApart * 100).toFixed(3)} % of the weights move apart by more than 1 % of lr for 4 × 1, ${(ulpApart * 100).toFixed(3)} % for one ulp`);
  assert.ok(splitApart <= Math.max(4 * ulpApart, 1e-3), `first step: ${splitApart} of the weights apart for 4 × 1, ${ulpApart} for one ulp`);
});

/** Largest |a − b| over every parameter, the largest |a| (the scale), and the share of values differing by more than `tight` × scale (of all; of those not in ZERO_GRADIENT). */
function compare(a: AfaTrainingResult, b: AfaTrainingResult, tight: number): { difference: number; scale: number; loose: number; looseNonZero: number } {
  let difference = 0;
  let scale = 0;
  for (const values of a.parameters.values()) for (const value of values) scale = Math.max(scale, Math.abs(value));
  let count = 0;
  let loose = 0;
  let countNonZero = 0;
  let looseNonZero = 0;
  for (const [name, values] of a.parameters) {
    const other = b.parameters.get(name)!;
    const zero = ZERO_GRADIENT.test(name);
    for (let i = 0; i < values.length; i++) {
      const d = Math.abs(values[i]! - other[i]!);
      difference = Math.max(difference, d);
      if (d > tight * scale) {
        loose++;
        if (!zero) looseNonZero++;
      }
      count++;
      if (!zero) countNonZero++;
    }
  }
  return { difference, scale, loose: loose / count, looseNonZero: looseNonZero / countNonZero };
}

test('a batch of 4 run as 2 × 2 (chosen from memory) and as 4 × 1 updates the parameters as one call of 4 does', async () => {
  // The runs at a fixed micro-batch reuse the gradient test's compiled steps (a run resets the parameters).
  const unsplit = await runAfaTrainingJob(job('unsplit', { settings: { ...settings, microBatch: 4 }, trainingSession: await sessionAt(4) }));
  assert.equal(unsplit.microBatch, 4);
  assert.equal(readRunFile(join(scratch, 'unsplit'))?.microBatch, undefined, 'a micro-batch fixed by the settings is the settings\'');

  // A budget that holds the activations of two samples but not of three (estimated as the run does).
  const probe = planAfaTrainingStep(experts, loadAggregatorSet(goldenAfaDir), { ...shape, batchSize: 1 }, { recompute: 'none', memoryBudgetBytes: Number.MAX_SAFE_INTEGER });
  const perSample = probe.estimate!.perSampleBytes;
  const reported: number[] = [];
  const halves = await runAfaTrainingJob(job('halves', { memoryBudgetBytes: 2.5 * perSample, onEvent: (event) => event.kind === 'step' && reported.push(event.microBatch) }));
  assert.equal(halves.microBatch, 2);
  assert.deepEqual(reported, [2, 2, 2], 'every step reports the micro-batch');
  assert.equal(readRunFile(join(scratch, 'halves'))?.microBatch, 2, 'the choice is kept for a resume');

  const singles = await runAfaTrainingJob(job('singles', { settings: { ...settings, microBatch: 1 }, trainingSession: await sessionAt(1) }));
  assert.equal(singles.microBatch, 1);

  // Why the parameters differ more than the gradients. AdamW's update lr·m̂/(√v̂ + ε) normalises each
  // element by its own gradient, so an element moves differently by about lr × its own gradient's relative
  // error: at step 1, 2·lr where that error flips the sign (|g| at the rounding level), later a share of lr
  // wherever |g| is small against the rounding difference of its tensor. Steps 2 and 3 also start from
  // parameters that already differ (the later losses differ more). Hence, with 1e-5 of the largest
  // parameter (≈ 100 float32 ulps of it, 1 % of lr) as the line:
  //   2 × 2 (gradients within 1e-6 of each tensor's largest): the weights with zero exact gradient
  //     (ZERO_GRADIENT, 5.8 % of the parameters, moved by the sign of their rounding noise) crossed it,
  //     0.054 % of all, largest 2.9e-4; under 0.0005 % of the other weights did.
  //   4 × 1 (gradients within ≈ 1e-4): 12.7 % of the other weights crossed it, largest 1.7e-3 (< 2·lr·3).
  //     Only 0.025 % of them part at step 1 (the gradient test above, as for a one-ulp move of the inputs):
  //     the rest is steps 2 and 3, where m̂/√v̂ of two gradients of opposite sign nearly cancels and so
  //     amplifies their rounding difference, on parameters that already differ.
  // Every parameter stays within 2·lr·steps. Other samples, noise or timesteps in a micro-batch would
  // change step 1's loss by far more than 1e-6 (measured 4e-8 and 6e-8) and nearly every parameter.
  for (const [label, split] of [['2 × 2', halves], ['4 × 1', singles]] as const) {
    // Step 1 runs on equal parameters (rounding only); later steps inherit the parameter differences
    // (measured at step 3: 3e-7 for 2 × 2, 2.3e-5 for 4 × 1).
    split.train.forEach((metric, i) => {
      const tolerance = (i === 0 ? 1e-6 : 1e-4) * unsplit.train[i]!.loss;
      assert.ok(Math.abs(metric.loss - unsplit.train[i]!.loss) <= tolerance, `${label}: loss of step ${i + 1}: ${metric.loss} vs ${unsplit.train[i]!.loss}`);
    });
    const { difference, scale, loose, looseNonZero } = compare(unsplit, split, 1e-5);
    console.log(`${label}: largest parameter difference ${difference.toExponential(2)} (largest parameter ${scale.toFixed(3)}); ${(loose * 100).toFixed(3)} % differ by more than 1e-5 of it, ${(looseNonZero * 100).toFixed(3)} % outside the zero-gradient weights`);
    assert.ok(difference <= 2 * settings.lr * settings.steps, `${label}: parameters differ by ${difference}`);
    const share = label === '2 × 2' ? 1e-4 : 0.25;
    assert.ok(looseNonZero <= share, `${label}: ${(looseNonZero * 100).toFixed(3)} % of the weights with a non-zero gradient differ by more than 1e-5 × ${scale}`);
    if (label === '2 × 2') assert.ok(loose <= 0.01, `${label}: ${(loose * 100).toFixed(3)} % of the parameters differ by more than 1e-5 × ${scale}`);
  }
});
