// `npm run screenshots`: regenerates docs/screenshots/<screen>.png from the built-in demo. Starts web mode
// over a fresh temporary studio home with the demo pack (the shipped demo/pack, or the folder in
// AFA_STUDIO_DEMO_PACK), waits until the demo is set up as on a person's first start, makes images with
// the demo recipe (AFA), each expert alone and the two averaging baselines from captions the demo was
// made for — training scenes and held-out ones — then photographs each screen in Debian's Chromium
// (AFA_CHROMIUM overrides the path). Last, a short training run over the demo experts on a small scene
// dataset, for the Train screen.
//
//   npm run screenshots [-- --pack <folder>] [-- --out <folder>]
//
// --out writes the PNGs elsewhere (e.g. to try the script on a test pack without touching docs/).
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { DemoStatus, GenerationRequest, Recipe, RecipeSpec } from '../app/api/contract.ts';
import type { StudioServices } from '../app/api/services.ts';
import { UserError } from '../app/common/errors.ts';
import { DEMO_PACK_MANIFEST, readDemoPack } from '../app/demo/demo-pack.ts';
import { DEMO_PACK_VARIABLE, demoPackDirectory } from '../app/demo/demo-pack-location.ts';
import { writeSceneDataset } from '../app/demo/scene-dataset.ts';
import { captionOf, sceneAt } from '../app/demo/scenes.ts';
import { openStudio, repositoryRoot } from '../test/browser/studio-session.ts';

/** A problem the person can fix: said in one line, without a stack. */
class ScriptError extends Error {}

const { values: args } = parseArgs({ options: { pack: { type: 'string' }, out: { type: 'string' } } });
const output = args.out ? resolve(args.out) : join(repositoryRoot, 'docs', 'screenshots');

/** The pack to photograph, checked before anything starts: a missing one says how to get one. */
async function chosenPack(): Promise<string> {
  const how = `The screenshots show the built-in demo: build its pack with \`npm run demo:train\`, or point at one with \`npm run screenshots -- --pack <folder>\` or ${DEMO_PACK_VARIABLE}=<folder>.`;
  const dir = args.pack ? resolve(args.pack) : demoPackDirectory();
  if (!dir) throw new ScriptError(`${DEMO_PACK_VARIABLE} says there is no demo pack. ${how}`);
  if (!existsSync(join(dir, DEMO_PACK_MANIFEST))) throw new ScriptError(`There is no demo pack at ${dir} (no ${DEMO_PACK_MANIFEST}). ${how}`);
  const pack = await readDemoPack(dir);
  if (!pack.manifest.aggregators) {
    throw new ScriptError(`The demo pack at ${dir} has no aggregators yet; the screenshots need them for the AFA images and their contribution maps. Finish \`npm run demo:train\` first.`);
  }
  return dir;
}

/** Waits until the demo is set up on the new home; its recipe. */
async function demoRecipe(services: StudioServices): Promise<Recipe> {
  let off = () => {};
  const settled = new Promise<DemoStatus>((resolveStatus) => {
    off = services.demo.onDidChange((status) => {
      if (status.state !== 'installing') resolveStatus(status);
    });
  });
  let status = await services.demo.status();
  if (status.state === 'installing') {
    console.log('setting up the demo…');
    status = await settled;
  }
  off();
  if (status.state === 'failed') throw new Error(`The demo could not be set up: ${status.error?.message ?? 'unknown error'}`);
  if (status.state !== 'ready' || !status.recipeId) throw new Error(`The demo was not set up (state '${status.state}').`);
  return services.recipes.get({ id: status.recipeId });
}

/** Enqueues one image and waits for it; its generation id. */
async function generate(services: StudioServices, request: GenerationRequest): Promise<string> {
  const finished = new Promise<string>((resolveId, reject) => {
    const offDone = services.generation.onDidFinish((event) => (offDone(), offFail(), resolveId(event.generations[0]!.id)));
    const offFail = services.generation.onDidFail((event) => (offDone(), offFail(), reject(new Error(event.error.message))));
  });
  await services.generation.enqueue(request);
  return finished;
}

let pack: string;
try {
  pack = await chosenPack();
} catch (error) {
  console.error(error instanceof ScriptError || error instanceof UserError ? `npm run screenshots: ${error.message}` : error);
  process.exit(1);
}
mkdirSync(output, { recursive: true });
const studio = await openStudio({ demoPack: pack });
const { page, services } = studio;
const shoot = async (name: string) => {
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(output, `${name}.png`) });
  console.log(join(output, `${name}.png`));
};

try {
  const demo = await demoRecipe(services);
  const defaults = demo.defaults ?? {};
  const experts = demo.members.map((member) => member.modelId);
  const settings = {
    negativePrompt: defaults.negativePrompt ?? '',
    sampler: defaults.sampler ?? 'ddim',
    steps: defaults.steps ?? 25,
    guidance: defaults.guidance ?? 4,
    width: defaults.width ?? 64,
    height: defaults.height ?? 64,
    batchCount: 1,
  } as const;

  // Captions the demo understands: training scenes, and two held out of training (combinations no
  // model saw together). Fixed seeds, so a rerun photographs the same pictures.
  const seen = [0, 1, 2, 3, 4, 5].map((index) => captionOf(sceneAt(12, index, 'train')));
  const heldOut = [0, 1].map((index) => captionOf(sceneAt(12, index, 'test')));

  const names = Object.fromEntries((await services.models.list()).map((model) => [model.id, model.name]));
  const members = experts.map((modelId) => ({ modelId }));
  const featureAverage: RecipeSpec = { method: 'feature-average', members, weights: experts.map(() => 1) };
  const outputAverage: RecipeSpec = { method: 'output-average', members, weights: experts.map(() => 1) };
  await services.recipes.save({ name: 'Experts, feature average', spec: featureAverage });
  await services.recipes.save({ name: 'Experts, output average', spec: outputAverage });

  // The baselines first (older in History), then the demo recipe on every caption.
  for (const [i, prompt] of [seen[0]!, heldOut[0]!].entries()) {
    for (const spec of [...experts.map((modelId): RecipeSpec => ({ method: 'single', members: [{ modelId }] })), featureAverage, outputAverage]) {
      await generate(services, { ...settings, prompt, recipe: { spec }, seed: 100 + i });
      console.log(`${spec.method === 'single' ? names[spec.members[0]!.modelId] : spec.method}: ${prompt}`);
    }
  }
  let last = '';
  for (const [i, prompt] of [...seen, ...heldOut].entries()) {
    last = await generate(services, { ...settings, prompt, recipe: { recipeId: demo.id }, seed: 100 + i });
    console.log(`${demo.name}: ${prompt}`);
  }
  await services.history.setFavourite({ id: last, favourite: true });

  // Generate: opened on the demo recipe with its prompt, as on a first start, and its result.
  const prompt = page.getByLabel('Prompt', { exact: true });
  await page.goto(`${studio.server.origin}/#/generate`);
  await page.waitForFunction((text) => (document.querySelector('textarea') as HTMLTextAreaElement | null)?.value === text, defaults.prompt ?? '', { timeout: 60_000 });
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.getByRole('img', { name: /^Result 1/ }).waitFor({ timeout: 120_000 });
  await prompt.focus();
  await shoot('generate');

  // Generate while running: progress, the step preview and the queue (many steps, so it is caught midway).
  await page.getByLabel('Steps', { exact: true }).fill('500');
  await prompt.fill(heldOut[1]!);
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await prompt.fill(seen[2]!);
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.waitForFunction(() => {
    const bar = document.querySelector('[aria-label="Generation progress"]');
    return Number(bar?.getAttribute('aria-valuenow') ?? 0) >= 0.4 * Number(bar?.getAttribute('aria-valuemax') ?? 1);
  }, undefined, { timeout: 300_000 });
  await prompt.focus();
  await shoot('generate-progress');
  for (const job of await services.generation.queue()) await services.generation.cancel({ jobId: job.id });

  await page.goto(`${studio.server.origin}/#/models`);
  await page.getByRole('table', { name: 'Imported models' }).getByText('Demo', { exact: true }).first().waitFor();
  await shoot('models');

  await page.goto(`${studio.server.origin}/#/history`);
  await page.getByRole('button', { name: /^Open generation/ }).first().waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll('main img')].every((image) => (image as HTMLImageElement).complete), undefined, { timeout: 30_000 });
  await shoot('history');

  await page.goto(`${studio.server.origin}/#/history/${last}`);
  await page.getByRole('dialog', { name: 'Generation' }).getByText('Sampler').waitFor();
  await shoot('history-detail');

  // An AFA image with its contribution map: which expert dominated where, per step.
  const afaImage = (await services.history.search({ method: 'afa' })).items.find((item) => item.hasContributions && item.prompt === seen[0]);
  if (!afaImage) throw new Error('No AFA generation with a contribution map was recorded.');
  await page.goto(`${studio.server.origin}/#/history/${afaImage.id}`);
  await page.getByRole('dialog', { name: 'Generation' }).getByRole('button', { name: /Contribution map/ }).click();
  await page.getByLabel(/Contribution map, step/).first().waitFor();
  // The legend (which colour is which expert, and its share at this step) sits below the image.
  await page.getByRole('list', { name: 'Contribution by model' }).scrollIntoViewIfNeeded();
  await shoot('contribution-map');

  // The demo recipe beside each of its experts alone, on the same seed.
  await page.goto(`${studio.server.origin}/#/history/${afaImage.id}`);
  await page.getByRole('dialog', { name: 'Generation' }).getByRole('button', { name: 'Compare' }).click();
  await page.waitForFunction((count) => [...document.querySelectorAll('[role="dialog"] img')].filter((image) => (image as HTMLImageElement).naturalWidth > 0).length === count, experts.length + 1, { timeout: 120_000 });
  await shoot('compare');

  await page.goto(`${studio.server.origin}/#/settings`);
  await page.getByRole('radio', { name: /^CPU/ }).waitFor();
  await shoot('settings');

  // Train: a short run over the demo experts on a small scene dataset, with the demo's aggregator size;
  // the form on the left shows the same choices, the chart the losses against the experts alone.
  const dataset = join(studio.home, 'demo-scenes');
  await writeSceneDataset(dataset, { split: 'train', count: 48, seed: 12, size: 64 });
  await page.goto(`${studio.server.origin}/#/train`);
  await page.getByRole('heading', { level: 1, name: 'Train' }).waitFor();
  for (const modelId of experts) await page.getByRole('checkbox', { name: names[modelId]! }).check();
  await page.getByLabel('Dataset folder').fill(dataset);
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.getByLabel('Dataset preview').getByText('48 images').waitFor();
  await page.getByLabel('Resolution', { exact: true }).fill('64');
  await page.getByLabel('Steps', { exact: true }).fill('30');
  await page.getByLabel('Batch', { exact: true }).fill('4');
  await page.getByLabel('Learning rate', { exact: true }).fill('0.001');
  await page.getByLabel('Seed', { exact: true }).fill('12');
  await page.getByLabel('Seed', { exact: true }).blur();
  const finished = new Promise<void>((resolveRun, reject) => {
    const off = services.training.onDidChange((event) => {
      if (event.status === 'done') (off(), resolveRun());
      else if (event.status === 'failed' || event.status === 'cancelled') (off(), reject(new Error(`The training run ended ${event.status}.`)));
    });
  });
  const run = await services.training.start({
    memberModelIds: experts,
    dataPath: dataset,
    name: 'Demo experts on 48 scenes',
    settings: { resolution: 64, steps: 30, batchSize: 4, microBatch: 4, lr: 1e-3, seed: 12, validationShare: 0.17, validationEvery: 10, checkpointEvery: 30, aggregatorSize: { hiddenSize: 32, numAttentionHeads: 4, numLayers: 2 } },
  });
  console.log(`training ${run.id}…`);
  await finished;
  await page.getByRole('region', { name: 'Training runs' }).getByText('done', { exact: true }).waitFor();
  await page.getByRole('img', { name: 'Loss chart' }).waitFor();
  await shoot('train');

  // Training and generating at once: the engine takes turns. A generation asked for during a training
  // step waits for that step, and Generate says for what; the run is then paused while generations run,
  // says so on the Train screen, and goes on by itself once they are done. This run's steps are of 32
  // scenes, long enough (seconds) for the wait to be seen.
  const moreScenes = join(studio.home, 'demo-scenes-2');
  await writeSceneDataset(moreScenes, { split: 'train', count: 96, seed: 13, size: 64 });
  await page.goto(`${studio.server.origin}/#/generate`);
  await page.getByRole('button', { name: 'Generate', exact: true }).waitFor();
  const stepsDone = (runId: string, count: number) =>
    new Promise<void>((resolveStep) => {
      const off = services.training.onDidProgress((event) => {
        if (event.runId === runId && event.kind === 'step' && event.step >= count) (off(), resolveStep());
      });
    });
  const longer = await services.training.start({
    memberModelIds: experts,
    dataPath: moreScenes,
    name: 'Demo experts, a longer run',
    settings: { resolution: 64, steps: 400, batchSize: 32, microBatch: 32, lr: 1e-3, seed: 13, validationShare: 0.17, validationEvery: 100, checkpointEvery: 100, aggregatorSize: { hiddenSize: 32, numAttentionHeads: 4, numLayers: 2 } },
  });
  // Right after a step ends the next one begins: a generation asked for now waits for all of it.
  await stepsDone(longer.id, 1);
  const waiting = await services.generation.enqueue({ ...settings, prompt: seen[2]!, recipe: { recipeId: demo.id }, seed: 5 });
  await page.getByText(/^Waiting for training run 'Demo experts, a longer run' to pause \(at step/).waitFor({ timeout: 60_000 });
  await shoot('generate-waiting');
  await services.generation.cancel({ jobId: waiting.jobId });

  await stepsDone(longer.id, 3);
  await services.generation.enqueue({ ...settings, steps: 500, prompt: seen[3]!, recipe: { recipeId: demo.id }, seed: 7 });
  await page.goto(`${studio.server.origin}/#/train`);
  await page.getByText(/^Paused at step \d+\/400 while 1 generation runs/).waitFor({ timeout: 120_000 });
  await page.getByRole('region', { name: 'Training runs' }).getByText('Demo experts, a longer run').first().click();
  await shoot('train-paused');
  for (const job of await services.generation.queue()) await services.generation.cancel({ jobId: job.id });
  await services.training.cancel({ id: longer.id });
} finally {
  await studio.close();
}
