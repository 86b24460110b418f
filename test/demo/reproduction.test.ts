// `npm run reproduce` (app/demo/reproduction.ts) and its parts: the seeded bootstrap on data whose
// intervals are known, the aggregators without spatial awareness (weights constant over space, a
// gradient that matches finite differences and a loss that falls, stored and read back with the flag),
// the batched sampler against the pipeline's own loop, and `--quick` end to end on the golden tiny
// AFA ensemble, writing a report with every method's row.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseOfficialAggregatorConfig, toOfficialAggregatorConfig, validateAggregatorConfig } from '../../app/ensemble/aggregator-config.ts';
import { loadAggregatorSet, type AggregatorSet } from '../../app/ensemble/aggregator-set.ts';
import { compileEnsembleGraph } from '../../app/ensemble/compile-ensemble.ts';
import { buildLockStepGraph, type Expert } from '../../app/ensemble/lock-step-graph.ts';
import { resolveRecipe } from '../../app/ensemble/recipe-target.ts';
import { validateRecipe } from '../../app/ensemble/recipe.ts';
import { Library } from '../../app/library/library.ts';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { AdamW } from '../../app/optimizer/adamw.ts';
import { createSampler } from '../../app/pipeline/create-sampler.ts';
import { createModelRuntime } from '../../app/pipeline/model-runtime.ts';
import { generateImage } from '../../app/pipeline/text-to-image.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { buildAfaTrainingGraph } from '../../app/training/afa-training-graph.ts';
import { newAggregatorSet } from '../../app/training/new-aggregator-set.ts';
import { TrainingSession, type TrainingBatch } from '../../app/training/training-session.ts';
import { asBatchable, sampleBatch } from '../../app/demo/batch-sampling.ts';
import { bootstrapDifference, bootstrapMean, excludesZero, quantileSorted } from '../../app/demo/bootstrap.ts';
import { planAblation } from '../../app/demo/reproduction.ts';
import { ceilingShortfall, stepTrend } from '../../app/demo/reproduction-report.ts';
import { normal, random } from '../autodiff/finite-differences.ts';
import { goldenAfaDir } from '../ensemble/golden-experts.ts';
import { goldenAfaHome, GOLDEN_RECIPE_NAME } from './golden-afa-home.ts';

const repository = fileURLToPath(new URL('../../', import.meta.url));

// ---------------------------------------------------------------------------------------------------
// Bootstrap.

test('bootstrap intervals: exact for constants, the normal interval for a large sample, seeded, paired', () => {
  assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantileSorted([1, 2, 3, 4], 0), 1);
  assert.equal(quantileSorted([1, 2, 3, 4], 1), 4);
  assert.ok(Math.abs(quantileSorted([0, 10], 0.025) - 0.25) < 1e-12);

  const constant = bootstrapMean(new Array(20).fill(0.7), { seed: 1 });
  assert.equal(constant.n, 20);
  assert.ok(Math.abs(constant.mean - 0.7) < 1e-12 && Math.abs(constant.low - 0.7) < 1e-12 && Math.abs(constant.high - 0.7) < 1e-12);

  // 0 … 399: mean 199.5, standard error σ/√n = 115.47/20 = 5.774, so the 95 % interval is ±11.3.
  const values = Array.from({ length: 400 }, (_, i) => i);
  const spread = bootstrapMean(values, { seed: 7 });
  assert.equal(spread.mean, 199.5);
  assert.ok(Math.abs(spread.low - (199.5 - 11.32)) < 1.2, `low ${spread.low}`);
  assert.ok(Math.abs(spread.high - (199.5 + 11.32)) < 1.2, `high ${spread.high}`);
  // Bernoulli(0.5) × 100: ±1.96·0.05 = ±0.098.
  const coin = bootstrapMean(Array.from({ length: 100 }, (_, i) => i % 2), { seed: 3 });
  assert.ok(Math.abs(coin.low - 0.402) < 0.03 && Math.abs(coin.high - 0.598) < 0.03, `${coin.low}…${coin.high}`);

  assert.deepEqual(bootstrapMean(values, { seed: 7 }), spread, 'the same seed gives the same interval');
  assert.notDeepEqual(bootstrapMean(values, { seed: 8 }), spread, 'another seed resamples differently');

  const b = Array.from({ length: 30 }, (_, i) => Math.sin(i));
  const shifted = bootstrapDifference(b.map((v) => v + 0.25), b, { seed: 2 });
  assert.ok(Math.abs(shifted.low - 0.25) < 1e-12 && Math.abs(shifted.high - 0.25) < 1e-12, 'a constant paired difference has no spread');
  assert.equal(excludesZero(shifted), true);
  assert.equal(excludesZero(bootstrapDifference(b, b, { seed: 2 })), false);
  // Unpaired, the same shift is lost in the spread of sin(i): the pairing is what resolves it.
  const unpaired = bootstrapMean(b, { seed: 2 });
  assert.ok(unpaired.high - unpaired.low > 0.25);
  assert.throws(() => bootstrapDifference([1], [1, 2], { seed: 1 }), RangeError);
  assert.ok(Number.isNaN(bootstrapMean([], { seed: 1 }).mean));
});

// ---------------------------------------------------------------------------------------------------
// Aggregators without spatial awareness.

function goldenExperts(): Expert[] {
  return ['unet', 'additional_unet_0', 'additional_unet_1'].map((folder) => openDiffusersComponent(join(goldenAfaDir, folder), parseUnetConfig));
}

function withoutSpatial(set: AggregatorSet): AggregatorSet {
  return { ...set, configs: set.configs.map((config) => ({ ...config, spatial: false })) };
}

function randomTensor(shape: number[], seed: number): Tensor<'float32'> {
  const next = random(seed);
  return { dtype: 'float32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => normal(next)) };
}

test('the spatial flag is validated and kept by both aggregator formats', () => {
  const official = { in_channels: 32, hidden_size: 32, num_experts: 3, num_layers: 2, num_attn_heads: 2, cross_attn_dim: 32, temb_channels: 128 };
  assert.equal(parseOfficialAggregatorConfig(official, 'x').spatial, undefined);
  const flat = parseOfficialAggregatorConfig({ ...official, spatial: false }, 'x');
  assert.equal(flat.spatial, false);
  assert.equal(toOfficialAggregatorConfig(flat).spatial, false);
  assert.equal('spatial' in toOfficialAggregatorConfig(parseOfficialAggregatorConfig(official, 'x')), false);
  assert.throws(() => parseOfficialAggregatorConfig({ ...official, spatial: 'no' }, 'x'), /'spatial' must be true or false/);
  assert.equal(validateAggregatorConfig(flat, 'x').spatial, false);
});

test('without spatial awareness each aggregator gives one weight per expert per point; with it, weights vary over space', async () => {
  const golden = loadAggregatorSet(goldenAfaDir);
  const dir = mkdtempSync(join(tmpdir(), 'afa-no-spatial-'));
  try {
    const feeds = { sample: randomTensor([2, 4, 8, 8], 1), timestep: { dtype: 'float32' as const, shape: [2], data: Float32Array.of(900, 100) }, encoder_hidden_states: randomTensor([3, 2, 7, 32], 2) };
    const maps = async (set: AggregatorSet, name: string) => {
      const compiled = await compileEnsembleGraph(buildLockStepGraph(goldenExperts(), { kind: 'aggregators', aggregators: set }, { exposeWeights: true, name }), dir);
      try {
        const names = set.configs.map((_, i) => `weights_${String(i).padStart(2, '0')}`);
        return await compiled.session.run(feeds, names);
      } finally {
        await compiled.release();
      }
    };
    const flat = await maps(withoutSpatial(golden), 'flat');
    const spatial = await maps(golden, 'spatial');
    let varying = 0;
    for (const [name, map] of Object.entries(flat)) {
      const [B, K, h, w] = map.shape as [number, number, number, number];
      const data = map.data as Float32Array;
      for (let b = 0; b < B; b++) {
        let sum = 0;
        for (let k = 0; k < K; k++) {
          const first = data[(b * K + k) * h * w]!;
          for (let p = 0; p < h * w; p++) assert.equal(data[(b * K + k) * h * w + p], first, `${name}: expert ${k}'s weight varies over space`);
          sum += first;
        }
        assert.ok(Math.abs(sum - 1) < 1e-5, `${name}: weights sum to ${sum}`);
      }
      const other = spatial[name]!.data as Float32Array;
      if (h * w > 1 && other.some((v, i) => Math.abs(v - other[i - (i % (h * w))]!) > 1e-4)) varying++;
    }
    assert.ok(varying >= 10, `only ${varying} spatial aggregators have weights that vary over space`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('aggregators without spatial awareness train: their gradients match finite differences and the loss falls', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'afa-no-spatial-train-'));
  const shape = { batch: 2, height: 8, width: 8, tokens: 7 };
  const built = buildAfaTrainingGraph(goldenExperts(), withoutSpatial(loadAggregatorSet(goldenAfaDir)), shape, { recompute: 'none' });
  const session = await TrainingSession.create(built, { dir, session: { intraOpThreads: 2 } });
  try {
    const batch: TrainingBatch = { sample: randomTensor([2, 4, 8, 8], 5), timestep: { dtype: 'float32', shape: [2], data: Float32Array.of(250, 750) }, context: randomTensor([3, 2, 7, 32], 6), target: randomTensor([2, 4, 8, 8], 7) };
    const { loss, gradients } = await session.computeGradients(batch);
    // conv_out before the spatial mean, at a full-resolution point and at a 1×1 one: central differences
    // in float64 of the loss against the analytic gradient at the largest entries.
    for (const name of ['aggregator24.conv_out.weight', 'aggregator12.conv_out.weight', 'aggregator03.transformer.proj_out.weight']) {
      const gradient = gradients.get(name);
      assert.ok(gradient, `no gradient for ${name}`);
      const values = session.parameters.get(name)!;
      const index = gradient.reduce((best, v, i) => (Math.abs(v) > Math.abs(gradient[best]!) ? i : best), 0);
      assert.ok(Math.abs(gradient[index]!) > 1e-6, `${name}: gradient vanishes (${gradient[index]})`);
      const h = 2e-2;
      const original = values[index]!;
      values[index] = original + h;
      const up = (await session.computeGradients(batch)).loss;
      values[index] = original - h;
      const down = (await session.computeGradients(batch)).loss;
      values[index] = original;
      const numeric = (up - down) / (2 * h);
      assert.ok(Math.abs(numeric - gradient[index]!) <= 0.05 * Math.abs(gradient[index]!) + 1e-5, `${name}[${index}]: analytic ${gradient[index]}, finite differences ${numeric}`);
    }
    const optimizer = new AdamW({ lr: 1e-3, weightDecay: 0 });
    let last = loss;
    optimizer.update(session.parameters, gradients);
    for (let step = 0; step < 4; step++) {
      const result = await session.computeGradients(batch);
      last = result.loss;
      optimizer.update(session.parameters, result.gradients);
    }
    assert.ok(last < loss, `loss went from ${loss} to ${last}`);
  } finally {
    await session.release();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('new aggregator sets record the flag only for the ablation', () => {
  const experts = goldenExperts();
  const identities = experts.map((_, k) => ({ sha256: String(k).repeat(64) }));
  assert.equal(newAggregatorSet(experts, identities, 1, { hiddenSize: 32, numAttentionHeads: 2, numLayers: 1 }).configs.every((c) => !('spatial' in c)), true);
  assert.equal(newAggregatorSet(experts, identities, 1, { hiddenSize: 32, numAttentionHeads: 2, numLayers: 1, spatial: false }).configs.every((c) => c.spatial === false), true);
});

// ---------------------------------------------------------------------------------------------------
// On a studio home with the golden AFA ensemble.

let home = '';
before(async () => {
  home = mkdtempSync(join(tmpdir(), 'afa-reproduce-'));
  await goldenAfaHome(home);
});
after(() => rmSync(home, { recursive: true, force: true }));

test('the batched sampler makes the images the pipeline makes one by one', async () => {
  const library = Library.open({ home });
  const recipe = validateRecipe(library.recipes.list()[0]!.document);
  library.close();
  const runtime = createModelRuntime();
  try {
    for (const document of [recipe, validateRecipe({ name: 'MF', method: 'magicfusion', members: recipe.members.slice(0, 2) })]) {
      const target = await resolveRecipe({ recipe: document }, { home, runtime, signal: new AbortController().signal });
      const prompts = ['a small red star on the left, plain blue background', 'a large white ring in the centre, green checked background'];
      const job = { prompts, seeds: [11, 12], negativePrompt: '', width: 64, height: 64, steps: 3, guidance: 4 };
      const batched = await sampleBatch(asBatchable(target.denoiser, document.method), target.decoder, job);
      for (const [i, prompt] of prompts.entries()) {
        const one = await generateImage(target.denoiser, target.decoder, { prompt, negativePrompt: '', width: 64, height: 64, guidance: 4, seed: job.seeds[i]!, scheduler: createSampler({ sampler: 'ddim', steps: 3, eta: 0 }) });
        const size = one.latents.data.length;
        let worst = 0;
        for (let j = 0; j < size; j++) worst = Math.max(worst, Math.abs(one.latents.data[j]! - batched.latents.data[i * size + j]!));
        // The same arithmetic; onnxruntime's batched kernels round float32 sums in another order.
        assert.ok(worst < 1e-4, `${document.method}, prompt ${i}: latents differ by ${worst}`);
        const differing = one.rgb.rgb.reduce((n, v, j) => n + (Math.abs(v - batched.images[i]!.rgb[j]!) > 1 ? 1 : 0), 0);
        assert.ok(differing === 0, `${document.method}, prompt ${i}: ${differing} pixel values differ by more than 1`);
      }
    }
  } finally {
    await runtime.sessions.clear();
  }
});

/** A demo pack's manifest as build-demo-pack.ts records its aggregators' training (the rest of a pack is not read here). */
function fakePack(names: readonly string[], aggregatorSettings: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'afa-reproduce-pack-'));
  const ids = names.map((_, k) => `e${k}`);
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({
      experts: names.map((name, k) => ({ id: ids[k], name })),
      aggregators: { folder: 'aggregators', experts: ids },
      training: { aggregators: { settings: aggregatorSettings, datasetSize: 12, datasetSeed: 99, experts: ids.map((id) => `not-a-model-${id}`) } },
    }),
  );
  return dir;
}

const PACK_SETTINGS = { resolution: 64, steps: 2, batchSize: 2, microBatch: 2, lr: 1e-3, schedule: 'constant', seed: 5, validationShare: 0, validationEvery: 0, checkpointEvery: 2, aggregatorSize: { hiddenSize: 32, numAttentionHeads: 2, numLayers: 2 } };

test("the ablation is trained as the recipe's aggregators were: the demo pack's record when it is for these experts, else a documented fallback", () => {
  const pack = fakePack(['expert1', 'expert2', 'expert3'], PACK_SETTINGS);
  const other = fakePack(['expert1', 'expert3', 'expert2'], PACK_SETTINGS);
  try {
    const fromPack = planAblation({ home, pack });
    assert.match(fromPack.source, /demo pack's record/);
    assert.deepEqual(fromPack.settings, { ...PACK_SETTINGS, aggregatorSize: { ...PACK_SETTINGS.aggregatorSize, spatial: false } });
    assert.deepEqual(fromPack.dataset, { count: 12, seed: 99, size: 64 });
    const fallback = planAblation({ home, pack: other, quick: true });
    assert.match(fallback.source, /^no record .*trained for other experts.*not like for like/);
    assert.equal(fallback.settings.aggregatorSize?.spatial, false);
    assert.equal(fallback.settings.aggregatorSize?.hiddenSize, 32);
  } finally {
    rmSync(pack, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  }
});

test('`npm run reproduce -- --quick` on the golden AFA home writes the report with every method, and trains the ablation with the flag', async () => {
  const out = mkdtempSync(join(tmpdir(), 'afa-reproduce-out-'));
  const pack = fakePack(['expert1', 'expert2', 'expert3'], PACK_SETTINGS);
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/reproduce.ts', '--home', home, '--quick', '--out', out, '--pack', pack], { cwd: repository, maxBuffer: 1 << 24 });
    assert.match(stdout, /Wrote .*reproduction\.md/);
    const report = readFileSync(join(out, 'reproduction.md'), 'utf8');
    const methods = ['expert1 alone', 'expert2 alone', 'expert3 alone', 'Weighted merge', 'MBW', 'Output average', 'Feature average', 'MagicFusion', 'AFA', 'AFA (no spatial)'];
    const sections = report.split(/^## /m);
    for (const heading of ['ε-prediction error', 'Caption accuracy', 'Accuracy against the number of sampler steps']) {
      const section = sections.find((s) => s.startsWith(heading));
      assert.ok(section, `no section '${heading}'`);
      for (const method of methods) assert.match(section, new RegExp(`^\\| ${method.replace(/[()]/g, '\\$&')} \\|`, 'm'), `'${heading}' has no row for ${method}`);
    }
    // Caption accuracy also on captions of the training split, each table with the VAE's own round trip.
    const accuracySection = sections.find((s) => s.startsWith('Caption accuracy'))!;
    const [heldOutPart, seenPart] = accuracySection.split(/^On \d+ captions of the training split/m);
    assert.ok(seenPart, 'no table on captions of the training split');
    for (const part of [heldOutPart!, seenPart]) assert.match(part, /^\| \*VAE round trip \(the ceiling\)\* \| \*\d+ \(\d+–\d+\)\* \|/m);
    for (const method of methods) assert.match(seenPart, new RegExp(`^\\| ${method.replace(/[()]/g, '\\$&')} \\|`, 'm'), `the training-split table has no row for ${method}`);
    assert.match(report, new RegExp(`\\*\\*${GOLDEN_RECIPE_NAME}\\*\\*`));
    assert.match(report, /## Discussion\n\n\*\*ε-MSE\.\*\*/);
    const images = readdirSync(join(out, 'reproduction')).sort();
    assert.deepEqual(images, ['contributions-afa-no-spatial.png', 'contributions-afa.png', 'grid-2-steps.png', 'grid-4-steps.png']);
    for (const image of images) assert.match(report, new RegExp(`reproduction/${image.replace('.', '\\.')}`));

    // The ablation is an ordinary training run of the home, and its aggregators carry the flag.
    const library = Library.open({ home });
    const runs = library.trainingRuns.list();
    library.close();
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.status, 'done');
    const manifest = JSON.parse(readFileSync(join(home, 'aggregators', runs[0]!.aggregatorId!, 'aggregators.json'), 'utf8')) as { configs: { spatial?: boolean }[] };
    assert.equal(manifest.configs.length, 25);
    assert.ok(manifest.configs.every((config) => config.spatial === false));
    assert.ok(loadAggregatorSet(join(home, 'aggregators', runs[0]!.aggregatorId!)).configs.every((config) => config.spatial === false));
    assert.equal(runs[0]!.metrics.filter((metric) => typeof metric.loss === 'number').length, 2, 'trained for the 2 steps the pack records');
    assert.ok(existsSync(join(home, 'reproduction', 'datasets', 'scenes-train-99-12-64', 'dataset.json')));
    assert.match(report, /the demo pack's record of its aggregators' training/);
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(pack, { recursive: true, force: true });
  }
});

test('the Fig. 4 sentence says which way AFA\'s margin moves as the steps are cut, and where it is resolved', () => {
  const estimate = (mean: number, low: number, high: number) => ({ mean, low, high, n: 40 });
  // Behind at 5 steps, level at 50: AFA fares worse with fewer steps (the reverse of the paper's claim).
  assert.equal(
    stepTrend([5, 10, 25, 50], [estimate(-0.025, -0.075, 0), estimate(0, -0.075, 0.075), estimate(0, 0, 0), estimate(0, -0.1, 0.1)]),
    'AFA fares worse against the best expert with fewer steps (−2.5 points at 5 steps, +0.0 at 50); the difference is resolved at 95 % at no step count.',
  );
  assert.equal(
    stepTrend([5, 50], [estimate(0.1, 0.05, 0.15), estimate(0.05, -0.02, 0.1)]),
    'AFA fares better against the best expert with fewer steps (+10.0 points at 5 steps, +5.0 at 50); the difference is resolved at 95 % only at 5 steps.',
  );
  assert.match(stepTrend([5, 50], [estimate(-0.1, -0.2, -0.05), estimate(-0.1, -0.15, -0.02)]), /^AFA's margin over the best expert is the same .*resolved at 95 % at every step count\.$/);
});

test('the ceiling sentence names the attributes the denoisers lose most of what the VAE keeps, largest shortfall first', () => {
  assert.equal(
    ceilingShortfall([
      { attribute: 'shape', best: 0.23, ceiling: 0.53 },
      { attribute: 'colour', best: 0.38, ceiling: 0.8 },
      { attribute: 'size', best: 0.78, ceiling: 0.83 },
      { attribute: 'position', best: 0.98, ceiling: 0.95 },
    ]),
    "The denoisers fall furthest below it on colour (the best method 38 % against the round trip's 80 %), then shape (the best method 23 % against the round trip's 53 %); least on position (the best method 98 % against the round trip's 95 %).",
  );
});
