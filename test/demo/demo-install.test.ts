// The built-in demo on a fresh studio home, through the real services: set up in the background from a
// test pack (written by the real writer), three ordinary models + aggregators + an AFA recipe that
// generates through the real pipeline; installing again changes nothing; what the person removes is
// never added again; a pack without aggregators gives a feature-average recipe; no pack, no demo.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DemoStatus } from '../../app/api/contract.ts';
import { createStudioServices, type StudioServices } from '../../app/api/services.ts';
import { installDemoPack } from '../../app/demo/demo-install.ts';
import type { DemoPack } from '../../app/demo/demo-pack.ts';
import { Library } from '../../app/library/library.ts';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';
import { decodePng } from '../../app/images/png.ts';
import { generationOutcome } from '../api/generation-outcome.ts';
import { EXPERTS, RECIPE, writeTestPack } from './test-pack.ts';

let root: string;
let pack: DemoPack;
let home: string;
let services: StudioServices;
const events: DemoStatus[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'afa-demo-install-'));
  pack = await writeTestPack(join(root, 'pack'));
  home = join(root, 'home');
  services = createStudioServices({ home, demoPack: pack.dir });
  services.demo.onDidChange((status) => events.push(status));
});

after(async () => {
  await services.dispose();
  rmSync(root, { recursive: true, force: true });
});

const outcomeOf = (jobId: string) => generationOutcome(services, jobId);

test('a fresh home sets up the demo in the background: three demo models, their aggregators and an AFA recipe with its prompt', async () => {
  // The services answer at once; the install runs behind them.
  const first = await services.demo.status();
  assert.equal(first.state, 'installing');
  assert.ok(Array.isArray(await services.models.list()));
  await services.demo.whenSettled();

  const status = await services.demo.status();
  assert.equal(status.state, 'ready');
  assert.ok(status.recipeId);
  const installing = events.filter((event) => event.state === 'installing');
  assert.ok(installing.length >= 5, `${installing.length} progress events`);
  const done = installing.map((event) => event.progress!.done);
  assert.deepEqual(done, [...done].sort((a, b) => a - b), 'progress only moves forward');
  assert.ok(installing.some((event) => /Setting up the demo models \(2 of 3: Textured backgrounds\)/.test(event.progress!.message)));
  assert.equal(events.at(-1)?.state, 'ready');

  const models = await services.models.list();
  assert.deepEqual(models.map((model) => model.name).sort(), EXPERTS.map((expert) => `Demo · ${expert.name}`).sort());
  assert.ok(models.every((model) => model.demo === true && model.precision === 'fp32' && model.sourcePrecision === 'fp16'));
  const byName = new Map(models.map((model) => [model.name, model.id]));
  const expertIds = EXPERTS.map((expert) => byName.get(`Demo · ${expert.name}`)!);

  const [aggregators] = await services.aggregators.list();
  assert.equal(aggregators?.demo, true);
  assert.deepEqual(aggregators?.memberModelIds, expertIds);
  assert.equal(aggregators?.points, 25);
  // Stored in the studio's format for the models' real ids, as float32.
  const stored = JSON.parse(readFileSync(join(home, 'aggregators', aggregators!.id, 'aggregators.json'), 'utf8')) as { experts: { sha256: string }[]; configs: { hiddenSize: number }[] };
  assert.deepEqual(stored.experts.map((expert) => expert.sha256), expertIds);
  assert.equal(stored.configs[0]!.hiddenSize, 32);
  const weights = SafetensorsFile.open(join(home, 'aggregators', aggregators!.id, 'aggregators.safetensors'));
  try {
    assert.ok(weights.names().every((name) => weights.get(name).dtype === 'float32'));
  } finally {
    weights.close();
  }

  const recipe = await services.recipes.get({ id: status.recipeId! });
  assert.equal(recipe.name, `Demo · ${RECIPE.name}`);
  assert.equal(recipe.method, 'afa');
  assert.equal(recipe.demo, true);
  assert.equal(recipe.aggregatorId, aggregators!.id);
  assert.deepEqual(recipe.members.map((member) => member.modelId), expertIds);
  const { name: _name, method: _method, ...defaults } = RECIPE;
  assert.deepEqual(recipe.defaults, defaults);
  assert.deepEqual((await services.recipes.list()).map((r) => r.id), [recipe.id]);
});

test('the demo recipe generates a 64×64 image through the real pipeline, with its own settings', async () => {
  const { recipeId } = await services.demo.status();
  const recipe = await services.recipes.get({ id: recipeId! });
  const d = recipe.defaults!;
  // The CPU provider directly: the 'auto' choice's probe is not what this test is about.
  await services.settings.set({ backend: 'cpu' });
  const { jobId } = await services.generation.enqueue({
    prompt: d.prompt!, negativePrompt: d.negativePrompt!, recipe: { recipeId: recipe.id }, sampler: d.sampler!, steps: d.steps!, guidance: d.guidance!, seed: d.seed!, width: d.width!, height: d.height!, batchCount: 1,
  });
  const outcome = await outcomeOf(jobId);
  assert.ok(!('error' in outcome), JSON.stringify(outcome));
  const [summary] = outcome.generations;
  assert.equal(summary!.method, 'afa');
  assert.equal(summary!.recipeName, recipe.name);
  const record = await services.history.get({ id: summary!.id });
  assert.equal(record.request.steps, RECIPE.steps);
  const image = decodePng(readFileSync(join(home, record.image.path)));
  assert.deepEqual([image.width, image.height], [64, 64]);
  // Not a blank: the random experts still paint something that varies.
  assert.ok(new Set(image.data).size > 16);
});

test('installing again changes nothing: the same models, one aggregator set, one recipe', async () => {
  const before = await services.demo.status();
  const again = await installDemoPack(home, pack.dir);
  assert.ok(again.models.every((model) => !model.created));
  assert.equal(again.recipeId, before.recipeId);
  assert.deepEqual(again.skipped, []);
  assert.equal((await services.models.list()).length, 3);
  assert.equal((await services.aggregators.list()).length, 1);
  assert.equal((await services.recipes.list()).length, 1);
});

test('what the person removes with the usual actions is never added again, by a new install or a restart', async () => {
  const { recipeId } = await services.demo.status();
  const [aggregators] = await services.aggregators.list();
  await services.recipes.delete({ id: recipeId! });
  assert.deepEqual(await services.demo.status(), { state: 'ready' });
  await services.aggregators.delete({ id: aggregators!.id });
  const [textures] = (await services.models.list()).filter((model) => model.name === 'Demo · Textured backgrounds');
  await services.models.delete({ id: textures!.id });

  const again = await installDemoPack(home, pack.dir);
  assert.deepEqual(again.skipped.map((item) => item.item).sort(), ['aggregators', 'model:textures', 'recipe']);
  assert.equal(again.recipeId, null);
  assert.equal(again.aggregatorId, null);
  assert.deepEqual((await services.models.list()).map((model) => model.name).sort(), ['Demo · Small objects', 'Demo · Warm plain scenes']);
  assert.deepEqual(await services.recipes.list(), []);
  assert.deepEqual(await services.aggregators.list(), []);

  // A restart does not set the demo up again either: the home has it.
  await services.dispose();
  services = createStudioServices({ home, demoPack: pack.dir });
  assert.deepEqual(await services.demo.status(), { state: 'ready' });
  await services.demo.whenSettled();
  assert.equal((await services.models.list()).length, 2);
});

test('a pack without aggregators installs the models and a feature-average recipe', async () => {
  const bare = await writeTestPack(join(root, 'pack-without-aggregators'), { aggregators: false });
  const otherHome = join(root, 'home-feature-average');
  const result = await installDemoPack(otherHome, bare.dir);
  assert.equal(result.aggregatorId, null);
  assert.equal(result.models.length, 3);
  const library = Library.open({ home: otherHome });
  try {
    const row = library.recipes.get(result.recipeId!)!;
    const document = row.document as { method: string; members: { modelId: string }[]; aggregatorId?: string; defaults: { prompt: string } };
    assert.equal(document.method, 'feature-average');
    assert.equal(document.aggregatorId, undefined);
    assert.deepEqual(document.members.map((member) => member.modelId), result.models.map((model) => model.modelId));
    assert.equal(document.defaults.prompt, RECIPE.prompt);
    assert.equal(library.demoItems.pack().state, 'installed');
    assert.deepEqual(library.aggregators.list(), []);
  } finally {
    library.close();
  }
});

test('no pack, no demo: services started without one (as tests do) leave a new home empty', async () => {
  const plain = createStudioServices({ home: join(root, 'home-without-demo') });
  try {
    assert.deepEqual(await plain.demo.status(), { state: 'none' });
    await plain.demo.whenSettled();
    assert.deepEqual(await plain.models.list(), []);
  } finally {
    await plain.dispose();
  }
});

test("a home that filled up with the person's own models while no pack was at hand declines the demo for good", async () => {
  const own = join(root, 'home-own-work');
  const library = Library.open({ home: own });
  try {
    assert.equal(library.demoItems.pack().state, 'wanted', 'new and empty');
    const id = 'c'.repeat(64);
    library.models.upsert({ id, name: 'my model', sourcePath: '/models/mine.safetensors', sha256: id, shortHash: id.slice(0, 10), architecture: 'sd1', precision: 'fp16', sizeBytes: 1, storeDir: '/store/mine', components: {}, addedAt: 1, lastUsedAt: null });
  } finally {
    library.close();
  }
  const studio = createStudioServices({ home: own, demoPack: pack.dir });
  try {
    assert.deepEqual(await studio.demo.status(), { state: 'none' });
    await studio.demo.whenSettled();
    assert.deepEqual((await studio.models.list()).map((model) => model.name), ['my model']);
  } finally {
    await studio.dispose();
  }
  const after = Library.open({ home: own });
  try {
    assert.equal(after.demoItems.pack().state, 'declined');
  } finally {
    after.close();
  }
});

test('a damaged pack fails with the file named, installs nothing, and the next start tries again', async () => {
  const damaged = join(root, 'pack-damaged');
  cpSync(pack.dir, damaged, { recursive: true });
  const weights = join(damaged, 'unet_warm-plain', 'diffusion_pytorch_model.safetensors');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 1] ^= 0x80;
  writeFileSync(weights, bytes);
  const otherHome = join(root, 'home-damaged');
  let studio = createStudioServices({ home: otherHome, demoPack: damaged });
  try {
    await studio.demo.whenSettled();
    const status = await studio.demo.status();
    assert.equal(status.state, 'failed');
    assert.equal(status.error?.code, 'corrupt-file');
    assert.match(status.error!.message, /unet_warm-plain\/diffusion_pytorch_model\.safetensors does not match its SHA-256/);
    assert.match(status.error!.hint ?? '', /Reinstall AFA Studio.*npm run demo:train/);
    assert.deepEqual(await studio.models.list(), []);
    assert.ok(!existsSync(join(otherHome, 'models')) || (await studio.models.list()).length === 0);
  } finally {
    await studio.dispose();
  }
  // Repaired (here: the good pack), the next start sets the demo up.
  studio = createStudioServices({ home: otherHome, demoPack: pack.dir });
  try {
    assert.equal((await studio.demo.status()).state, 'installing');
    await studio.demo.whenSettled();
    assert.equal((await studio.demo.status()).state, 'ready');
    assert.equal((await studio.models.list()).length, 3);
  } finally {
    await studio.dispose();
  }
});
