// Recipes end to end on the golden tiny experts imported into a temporary studio: every method resolves
// to a denoiser that the pipeline loop runs, compiled graphs are cached and reference the experts' weights
// in place, and aggregators are refused for other experts.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserError } from '../../app/common/errors.ts';
import { studioPaths } from '../../app/common/paths.ts';
import { importCheckpoint, type ImportedModel } from '../../app/checkpoints/import-checkpoint.ts';
import { importAggregators } from '../../app/ensemble/import-aggregators.ts';
import { recordedSteps } from '../../app/ensemble/contribution-recorder.ts';
import { resolveRecipe } from '../../app/ensemble/recipe-target.ts';
import { MBW_BLOCKS } from '../../app/ensemble/recipe.ts';
import { createSampler } from '../../app/pipeline/create-sampler.ts';
import { createModelRuntime } from '../../app/pipeline/model-runtime.ts';
import { generateImage } from '../../app/pipeline/text-to-image.ts';
import { goldenAfaDir, goldenExpertFolders, scratchDir } from './golden-experts.ts';

const home = scratchDir('afa-recipes-');
const runtime = createModelRuntime();
let experts: ImportedModel[] = [];
let aggregatorId = '';

before(async () => {
  for (const folder of goldenExpertFolders(home)) experts.push(await importCheckpoint(folder, { home }));
  aggregatorId = importAggregators(goldenAfaDir, experts.map((e) => e.manifest), { home }).id;
});
after(async () => {
  await runtime.sessions.clear();
  rmSync(home, { recursive: true, force: true });
});

const members = (count: number) => experts.slice(0, count).map((e) => ({ modelId: e.manifest.id }));

async function generate(recipe: unknown, on = runtime) {
  const controller = new AbortController();
  const target = await resolveRecipe({ recipe }, { home, runtime: on, signal: controller.signal });
  const scheduler = createSampler({ sampler: 'ddim', steps: 3, eta: 0 });
  const job = { prompt: 'a lighthouse', negativePrompt: '', width: 64, height: 64, guidance: 7.5, seed: 42, scheduler };
  const result = await generateImage(target.denoiser, target.decoder, job);
  return { target, result };
}

/** The recipe's latents in float16 (a runtime asked for fp16) against float32: the largest difference and magnitude, and the sessions that ran. */
async function float16Against32(recipe: unknown): Promise<{ worst: number; largest: number; keys: string[] }> {
  const half = createModelRuntime({ precision: 'fp16' });
  try {
    const { result: full } = await generate(recipe);
    const { result } = await generate(recipe, half);
    let worst = 0;
    let largest = 0;
    for (let i = 0; i < full.latents.data.length; i++) {
      worst = Math.max(worst, Math.abs(result.latents.data[i]! - full.latents.data[i]!));
      largest = Math.max(largest, Math.abs(full.latents.data[i]!));
    }
    return { worst, largest, keys: half.sessions.keys() };
  } finally {
    await half.sessions.clear();
  }
}

function distinct(a: Float32Array, b: Float32Array): boolean {
  return a.some((value, index) => Math.abs(value - b[index]!) > 1e-6);
}

describe('recipe targets', () => {
  it('run every method on the same seed, each giving its own image', async () => {
    const recipes = [
      { name: 'AFA', method: 'afa', members: members(3), aggregatorId },
      { name: 'Features', method: 'feature-average', members: members(3) },
      { name: 'Outputs', method: 'output-average', members: members(3), weights: [0.5, 0.3, 0.2] },
      { name: 'Merge', method: 'merge', members: members(3), weights: [0.5, 0.3, 0.2] },
      { name: 'MBW', method: 'mbw', members: members(2), mbw: { blocks: MBW_BLOCKS.map((_, i) => i / 24), base: 0.3 } },
      { name: 'Magic', method: 'magicfusion', members: members(2) },
      { name: 'One', method: 'single', members: members(1) },
    ];
    const latents: Float32Array[] = [];
    for (const recipe of recipes) {
      const { target, result } = await generate(recipe);
      assert.equal(target.snapshot.method, recipe.method);
      assert.equal(target.snapshot.members.length, recipe.members.length);
      assert.deepEqual(result.latents.shape, [1, 4, 8, 8]);
      assert.ok(result.latents.data.every(Number.isFinite), `${recipe.method} produced non-finite latents`);
      assert.equal(result.rgb.width, 64);
      latents.push(result.latents.data);
    }
    for (let i = 0; i < latents.length; i++) {
      for (let j = i + 1; j < latents.length; j++) assert.ok(distinct(latents[i]!, latents[j]!), `${recipes[i]!.method} and ${recipes[j]!.method} gave the same latents`);
    }
  });

  it('an AFA recipe computes in float16 through its own float16 graph and its members\' float16 forms, near its float32 result', async () => {
    const { worst, largest, keys } = await float16Against32({ name: 'AFA half', method: 'afa', members: members(3), aggregatorId });
    assert.ok(keys.some((key) => key.endsWith('ensemble.float16.onnx')), keys.join(', '));
    assert.equal(keys.filter((key) => key.includes('/float16-v')).length, 4, `3 text encoders and the VAE decoder in float16: ${keys.join(', ')}`);
    assert.ok(keys.every((key) => key.includes('float16')), `nothing ran in float32: ${keys.join(', ')}`);
    // Float16 rounding through 3 guided steps of three experts and 25 aggregators (the golden AFA
    // pipeline's 10 steps moved its latents by 2 % of their range).
    assert.ok(worst > 0 && worst < 0.05 * largest, `max |float16 − float32| ${worst} of ${largest}`);
  });

  it('a merge recipe computes in float16 through float16 forms of its merged U-Net and text encoder, read in place', async () => {
    const { worst, largest, keys } = await float16Against32({ name: 'Merge half', method: 'merge', members: members(3), weights: [0.5, 0.3, 0.2] });
    for (const form of ['unet.float16.onnx', 'text_encoder.float16.onnx']) assert.ok(keys.some((key) => key.endsWith(`/${form}`)), `${form} ran: ${keys.join(', ')}`);
    const folder = dirname(keys.find((key) => key.endsWith('/unet.float16.onnx'))!.slice('cpu:'.length));
    assert.deepEqual(readdirSync(folder).filter((file) => file.includes('float16')).sort(), ['text_encoder.float16.onnx', 'unet.float16.onnx'], 'no weights written for the float16 forms');
    assert.ok(worst > 0 && worst < 0.02 * largest, `max |float16 − float32| ${worst} of ${largest}`);
  });

  it('feature averaging with all weight on one expert is that expert alone (fused features are what every expert receives)', async () => {
    const { result: alone } = await generate({ name: 'One', method: 'single', members: members(1) });
    const { result: weighted } = await generate({ name: 'Lopsided', method: 'feature-average', members: members(3), weights: [1, 0, 0] });
    const worst = alone.latents.data.reduce((max, value, index) => Math.max(max, Math.abs(value - weighted.latents.data[index]!)), 0);
    // Same arithmetic, different graphs: onnxruntime may fuse and order float32 ops differently (≈1e-5 after 3 guided steps).
    assert.ok(worst < 1e-4, `max |difference| ${worst}`);
  });

  it('records which expert dominated where for AFA generations, for the contribution overlay', async () => {
    const { target } = await generate({ name: 'AFA maps', method: 'afa', members: members(3), aggregatorId });
    const extras = target.imageExtras?.();
    assert.ok(extras && typeof extras.contributions === 'string');
    const map = JSON.parse(extras.contributions) as { width: number; height: number; members: unknown[]; steps: { step: number; dominant: string; shares: number[] }[] };
    assert.equal(map.width, 8);
    assert.equal(map.height, 8);
    assert.equal(map.members.length, 3);
    assert.deepEqual(map.steps.map((s) => s.step), [0, 1, 2]);
    for (const step of map.steps) {
      assert.equal(Buffer.from(step.dominant, 'base64').length, 64);
      assert.ok(Buffer.from(step.dominant, 'base64').every((k) => k < 3));
      assert.ok(Math.abs(step.shares.reduce((a, b) => a + b, 0) - 1) < 1e-3);
    }
    const { target: plain } = await generate({ name: 'Features maps', method: 'feature-average', members: members(3) });
    assert.equal(plain.imageExtras?.(), undefined);
  });

  it('fetches the weight maps only at the recorded steps, and each image of a batch gets its own', async () => {
    const target = await resolveRecipe({ recipe: { name: 'AFA maps', method: 'afa', members: members(3), aggregatorId } }, { home, runtime, signal: new AbortController().signal });
    // Count the graph calls that ask for more than ε (a wrapper around the denoiser's graph runner).
    const denoiser = target.denoiser as unknown as { graph: { run: (feeds: unknown, outputs: readonly string[]) => Promise<unknown> } };
    const run = denoiser.graph.run;
    const fetched: number[] = [];
    let call = 0;
    denoiser.graph = { ...denoiser.graph, run: (feeds, outputs) => (outputs.length > 1 && fetched.push(call), call++, run(feeds, outputs)) };
    const maps: string[] = [];
    for (const seed of [42, 43]) {
      call = 0;
      const scheduler = createSampler({ sampler: 'ddim', steps: 12, eta: 0 });
      await generateImage(target.denoiser, target.decoder, { prompt: 'a lighthouse', negativePrompt: '', width: 64, height: 64, guidance: 7.5, seed, scheduler });
      const map = JSON.parse(String(target.imageExtras?.()?.contributions)) as { steps: { step: number; dominant: string }[] };
      // 12 steps record 10 of them (recordedSteps): only those steps copy the maps out.
      assert.deepEqual(map.steps.map((s) => s.step), [...recordedSteps(12)].sort((a, b) => a - b));
      maps.push(JSON.stringify(map.steps));
    }
    const recorded = [...recordedSteps(12)].sort((a, b) => a - b);
    assert.deepEqual(fetched, [...recorded, ...recorded]);
    assert.notEqual(maps[0], maps[1], 'the second image recorded its own maps, not the first one\'s');
  });

  it('compiles a lock-step recipe once and links the experts\' weights instead of copying them', async () => {
    const compiled = studioPaths(home).compiled;
    const before = readdirSync(compiled).length;
    await generate({ name: 'AFA again', method: 'afa', members: members(3), aggregatorId });
    assert.equal(readdirSync(compiled).length, before, 'the AFA graph was compiled again');
    const linked = readdirSync(compiled).flatMap((dir) => readdirSync(join(compiled, dir)).map((file) => statSync(join(compiled, dir, file))));
    assert.ok(linked.some((stat) => stat.nlink > 1), 'no weights file is shared with the model store');
  });

  it('refuses aggregators trained for other experts or another order, and AFA without aggregators', async () => {
    const reordered = [experts[1]!, experts[0]!, experts[2]!].map((e) => ({ modelId: e.manifest.id }));
    await assert.rejects(generate({ name: 'x', method: 'afa', members: reordered, aggregatorId }), (error: unknown) =>
      error instanceof UserError && error.code === 'mismatch' && /trained for the experts expert1, expert2, expert3 \(in that order\)/.test(error.message));
    // Without aggregators, the set trained for exactly these models is named.
    await assert.rejects(generate({ name: 'x', method: 'afa', members: members(3) }), new RegExp(`names no trained aggregators\\. The aggregator set ${aggregatorId} was trained for exactly these models: pick it`));
    await assert.rejects(generate({ name: 'x', method: 'afa', members: members(2) }), /names no trained aggregators\. Pick an aggregator set trained for these models .*feature-average/);
    assert.throws(() => importAggregators(goldenAfaDir, experts.slice(0, 2).map((e) => e.manifest), { home }), /trained for 3 experts and the recipe has 2/);
    await assert.rejects(generate({ name: 'x', method: 'afa', members: [...members(2), { modelId: 'f'.repeat(64) }], aggregatorId }), /no imported model/);
    assert.ok(!existsSync(join(studioPaths(home).aggregators, '.tmp')));
  });
});
