// `npm run screenshots`: regenerates docs/screenshots/<screen>.png. Starts web mode over a temporary
// studio home, imports the golden tiny experts (../shared/golden), makes a few images with the real
// engine, then photographs each screen in Debian's Chromium (AFA_CHROMIUM overrides the path).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { GenerationRequest, RecipeSpec } from '../app/api/contract.ts';
import { goldenAfa, tinyExpertFolder } from '../test/api/tiny-experts.ts';
import { openStudio, repositoryRoot } from '../test/browser/studio-session.ts';

const output = join(repositoryRoot, 'docs', 'screenshots');
mkdirSync(output, { recursive: true });

const studio = await openStudio();
const { page, services } = studio;
const shoot = async (name: string) => {
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(output, `${name}.png`) });
  console.log(`docs/screenshots/${name}.png`);
};

try {
  const ids: string[] = [];
  for (const n of [1, 2, 3] as const) {
    const done = new Promise<string>((resolve, reject) => {
      const off = services.models.onDidImportFinish((event) => (off(), resolve(event.model.id)));
      services.models.onDidImportFail((event) => reject(new Error(event.error.message)));
    });
    await services.models.import({ source: { kind: 'path', path: tinyExpertFolder(studio.home, n) }, name: ['Painterly', 'Photoreal', 'Anime line'][n - 1] });
    ids.push(await done);
  }
  const aggregators = await services.aggregators.import({ path: goldenAfa, name: 'Golden AFA aggregators', memberModelIds: ids });
  const afa: RecipeSpec = { method: 'afa', members: ids.map((modelId) => ({ modelId })), aggregatorId: aggregators.id };
  await services.recipes.save({ name: 'Tiny trio (AFA)', spec: afa });
  const trio: RecipeSpec = { method: 'feature-average', members: ids.map((modelId) => ({ modelId })), weights: [1, 1, 1] };
  await services.recipes.save({ name: 'Tiny trio', spec: trio });
  await services.recipes.save({ name: 'Paint + photo', spec: { method: 'output-average', members: ids.slice(0, 2).map((modelId) => ({ modelId })), weights: [2, 1] } });
  for (const [text, tags] of [['a red lighthouse on a cliff at dusk, oil painting', ['sea', 'evening']], ['portrait of an old fisherman, soft light', ['portrait']], ['a fox in fresh snow, morning mist', ['animals']]] as const) {
    await services.prompts.save({ text, tags: [...tags] });
  }
  const prompts = ['a red lighthouse on a cliff at dusk', 'portrait of an old fisherman', 'a fox in fresh snow', 'a lantern-lit street in the rain', 'mountain lake at sunrise', 'a ceramic teapot, studio light'];
  const specs: RecipeSpec[] = [afa, trio, { method: 'single', members: [{ modelId: ids[0]! }] }, { method: 'output-average', members: ids.slice(0, 2).map((modelId) => ({ modelId })) }];
  let last = '';
  for (let i = 0; i < 12; i++) {
    const request: GenerationRequest = {
      prompt: prompts[i % prompts.length]!, negativePrompt: 'blurry', recipe: { spec: specs[i % specs.length]! },
      sampler: 'dpmpp-2m', steps: 8, guidance: 7, seed: 1000 + i, width: 128, height: 128, batchCount: 1,
    };
    const finished = new Promise<string>((resolve) => {
      const off = services.generation.onDidFinish((event) => (off(), resolve(event.generations[0]!.id)));
    });
    await services.generation.enqueue(request);
    last = await finished;
  }
  await services.history.setFavourite({ id: last, favourite: true });

  // Generate: a recipe being built, the last result on the right.
  await page.goto(`${studio.server.origin}/#/generate`);
  await page.getByLabel('Prompt', { exact: true }).fill('a red lighthouse on a cliff at dusk, oil painting');
  await page.getByLabel('Negative prompt').fill('blurry, low quality');
  await page.getByLabel('Method').selectOption('feature-average');
  for (const name of ['Painterly', 'Photoreal', 'Anime line']) await page.getByRole('checkbox', { name }).check();
  await page.getByLabel('Weight of Painterly').fill('2');
  await page.getByLabel('Steps').fill('8');
  await page.getByLabel('Width').fill('128');
  await page.getByLabel('Height').fill('128');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.getByRole('img', { name: /^Result 1/ }).waitFor({ timeout: 60_000 });
  await page.getByLabel('Prompt', { exact: true }).focus();
  await shoot('generate');

  // Generate while running: progress, step preview and the queue.
  await page.getByLabel('Steps').fill('400');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.getByLabel('Prompt', { exact: true }).fill('portrait of an old fisherman, soft light');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.waitForFunction(() => Number(document.querySelector('[aria-label="Generation progress"]')?.getAttribute('aria-valuenow') ?? 0) >= 60, undefined, { timeout: 60_000 });
  await page.getByLabel('Prompt', { exact: true }).focus();
  await shoot('generate-progress');
  for (const job of await services.generation.queue()) await services.generation.cancel({ jobId: job.id });

  await page.goto(`${studio.server.origin}/#/models`);
  await page.getByRole('table', { name: 'Imported models' }).waitFor();
  await shoot('models');

  await page.goto(`${studio.server.origin}/#/history`);
  await page.getByRole('button', { name: /^Open generation/ }).first().waitFor();
  await shoot('history');

  await page.goto(`${studio.server.origin}/#/history/${last}`);
  await page.getByRole('dialog', { name: 'Generation' }).getByText('Sampler').waitFor();
  await shoot('history-detail');

  // An AFA generation with its contribution map: which model dominated where, per step.
  const [afaImage] = (await services.history.search({ method: 'afa' })).items;
  await page.goto(`${studio.server.origin}/#/history/${afaImage!.id}`);
  await page.getByRole('dialog', { name: 'Generation' }).getByRole('button', { name: /Contribution map/ }).click();
  await page.getByLabel(/Contribution map, step/).first().waitFor();
  await shoot('contribution-map');

  const [ensemble] = (await services.history.search({ method: 'feature-average' })).items;
  await page.goto(`${studio.server.origin}/#/history/${ensemble!.id}`);
  await page.getByRole('dialog', { name: 'Generation' }).getByRole('button', { name: 'Compare' }).click();
  await page.waitForFunction(() => [...document.querySelectorAll('[role="dialog"] img')].filter((image) => (image as HTMLImageElement).naturalWidth > 0).length === 4, undefined, { timeout: 60_000 });
  await shoot('compare');

  await page.goto(`${studio.server.origin}/#/settings`);
  await page.getByRole('radio', { name: /^CPU/ }).waitFor();
  await shoot('settings');
} finally {
  await studio.close();
}
