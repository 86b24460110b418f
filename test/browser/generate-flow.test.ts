// The main path through the studio with the real engine on the golden tiny experts: build a recipe,
// generate (progress, step preview, result), cancel with Escape, find the image in history by search,
// reuse its settings, compare it with its members, delete it and undo.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { goldenAfa, tinyExpertFolder } from '../api/tiny-experts.ts';
import { openStudio, type StudioSession } from './studio-session.ts';

let studio: StudioSession;

before(async () => {
  studio = await openStudio();
  // The UI import is covered in studio-basics; here the experts that carry their tiny tokenizer come in
  // through the same service call the Import panel makes.
  const ids: string[] = [];
  for (const n of [1, 2, 3] as const) {
    const done = new Promise<string>((resolve, reject) => {
      const off = studio.services.models.onDidImportFinish((event) => (off(), resolve(event.model.id)));
      studio.services.models.onDidImportFail((event) => reject(new Error(event.error.message)));
    });
    await studio.services.models.import({ source: { kind: 'path', path: tinyExpertFolder(studio.home, n) }, name: `tiny${n}` });
    ids.push(await done);
  }
  // The golden aggregators were trained for the three experts (the Models screen's aggregator import
  // makes the same call).
  await studio.services.aggregators.import({ path: goldenAfa, name: 'Golden AFA', memberModelIds: ids });
});

after(async () => {
  await studio?.close();
});

async function fillSettings(steps: number): Promise<void> {
  const { page } = studio;
  await page.getByLabel('Steps').fill(String(steps));
  await page.getByLabel('Width').fill('128');
  await page.getByLabel('Height').fill('128');
}

test('build a recipe, watch a long generation progress and cancel it with Escape', async () => {
  const { page } = studio;
  await page.goto(`${studio.server.origin}/#/generate`);
  await page.getByLabel('Prompt', { exact: true }).fill('a red lighthouse');
  await page.getByLabel('Method').selectOption('output-average');
  await page.getByRole('checkbox', { name: 'tiny1' }).check();
  await page.getByRole('checkbox', { name: 'tiny2' }).check();
  await page.getByLabel('Random seed', { exact: true }).uncheck();
  await page.getByLabel('Seed', { exact: true }).fill('7');
  await fillSettings(400);
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  const bar = page.getByRole('progressbar', { name: 'Generation progress' });
  await page.waitForFunction(() => Number(document.querySelector('[aria-label="Generation progress"]')?.getAttribute('aria-valuenow') ?? 0) >= 2);
  assert.equal(await bar.getAttribute('aria-valuemax'), '400');
  assert.match((await page.getByRole('img', { name: 'Step preview' }).getAttribute('src')) ?? '', /^data:image\/png;base64,/);
  await page.getByText(/Step \d+ of 400/).waitFor();
  // Two more jobs wait behind it: reorder them, then take them off the queue again.
  for (const text of ['a blue boat', 'a yellow kite']) {
    await page.getByLabel('Prompt', { exact: true }).fill(text);
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
  }
  const queued = page.getByRole('list', { name: 'Queued jobs' }).getByRole('listitem');
  await page.waitForFunction(() => document.querySelectorAll('[aria-label="Queued jobs"] li').length === 2);
  assert.match(await queued.first().innerText(), /a blue boat/);
  await page.getByRole('button', { name: /^Move down: .*a blue boat/ }).click();
  await page.waitForFunction(() => /a yellow kite/.test(document.querySelector('[aria-label="Queued jobs"] li')?.textContent ?? ''));
  for (const text of ['a blue boat', 'a yellow kite']) await page.getByRole('button', { name: new RegExp(`^Remove from queue: .*${text}`) }).click();
  await page.getByText('Nothing waiting. Generate again to queue more jobs.').waitFor();
  await page.getByLabel('Prompt', { exact: true }).fill('a red lighthouse');
  await page.keyboard.press('Escape');
  await page.getByRole('status').filter({ hasText: 'Generation cancelled.' }).waitFor();
  assert.equal((await studio.services.history.search({})).total, 0);
});

test('Ctrl+Enter generates and shows the result', async () => {
  const { page } = studio;
  await fillSettings(4);
  await page.keyboard.press('Control+Enter');
  const result = page.getByRole('img', { name: /^Result 1: a red lighthouse/ });
  await result.waitFor({ timeout: 60_000 });
  await page.waitForFunction(() => {
    const image = document.querySelector('img[alt^="Result 1"]') as HTMLImageElement | null;
    return image !== null && image.complete && image.naturalWidth === 128;
  });
  assert.equal((await studio.services.history.search({})).total, 1);
});

test('find it in history by search and reuse its settings', async () => {
  const { page } = studio;
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'History' }).click();
  await page.getByLabel('Search history').fill('submarine');
  await page.getByText('Nothing matches these filters.').waitFor();
  await page.getByLabel('Search history').fill('lighthouse');
  await page.getByRole('button', { name: 'Open generation: a red lighthouse' }).click();
  const dialog = page.getByRole('dialog', { name: 'Generation' });
  await dialog.getByText('Output average').waitFor();
  await dialog.getByRole('button', { name: 'Use these settings' }).click();
  await page.getByRole('heading', { level: 1, name: 'Generate' }).waitFor();
  assert.equal(await page.getByLabel('Prompt', { exact: true }).inputValue(), 'a red lighthouse');
  assert.equal(await page.getByLabel('Seed', { exact: true }).inputValue(), '7');
  assert.equal(await page.getByLabel('Random seed', { exact: true }).isChecked(), false);
  assert.equal(await page.getByLabel('Steps').inputValue(), '4');
  assert.equal(await page.getByLabel('Method').inputValue(), 'output-average');
  assert.equal(await page.getByRole('checkbox', { name: 'tiny2' }).isChecked(), true);
});

test('compare the ensemble image with each member alone', async () => {
  const { page } = studio;
  await page.goto(`${studio.server.origin}/#/history`);
  await page.getByRole('button', { name: 'Open generation: a red lighthouse' }).click();
  await page.getByRole('dialog', { name: 'Generation' }).getByRole('button', { name: 'Compare' }).click();
  const compare = page.getByRole('dialog', { name: 'Compare: recipe and members' });
  for (const name of ['tiny1', 'tiny2']) {
    await page.waitForFunction((alt) => {
      const image = document.querySelector(`[role="dialog"] img[alt="${alt}"]`) as HTMLImageElement | null;
      return image !== null && image.complete && image.naturalWidth === 128;
    }, name, { timeout: 60_000 });
  }
  assert.equal(await compare.getByRole('listitem').count(), 3);
  await compare.getByRole('button', { name: 'Close' }).click();
});

test('delete an image and undo', async () => {
  const { page } = studio;
  await page.goto(`${studio.server.origin}/#/history`);
  await page.getByLabel('Search history').fill('lighthouse');
  const cards = page.getByRole('button', { name: 'Open generation: a red lighthouse' });
  await cards.first().waitFor();
  const count = await cards.count();
  await cards.first().click();
  await page.getByRole('dialog', { name: 'Generation' }).getByRole('button', { name: 'Delete' }).click();
  await page.getByText('Deleted 1 image.').waitFor();
  await page.waitForFunction((n) => document.querySelectorAll('[aria-label="Open generation: a red lighthouse"]').length === n, count - 1);
  await page.getByRole('button', { name: 'Undo' }).click();
  await page.waitForFunction((n) => document.querySelectorAll('[aria-label="Open generation: a red lighthouse"]').length === n, count);
});

test('an AFA generation shows its contribution map: a step slider and each member’s colour and share', async () => {
  const { page } = studio;
  await page.goto(`${studio.server.origin}/#/generate`);
  // The form survives reloads: start this one from an empty form.
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.getByLabel('Prompt', { exact: true }).fill('a green valley');
  await page.getByLabel('Method').selectOption('afa');
  await page.getByRole('checkbox', { name: 'tiny3' }).check();
  // Too few models: Generate stays disabled and the models are marked.
  await page.getByText('Pick 2–6 models for AFA · adaptive feature aggregation.').first().waitFor();
  assert.equal(await page.getByRole('button', { name: 'Generate', exact: true }).isDisabled(), true);
  assert.equal(await page.getByRole('group', { name: 'Models' }).getAttribute('aria-invalid'), 'true');
  for (const name of ['tiny1', 'tiny2']) await page.getByRole('checkbox', { name }).check();
  // The one set trained for exactly these models is preselected, which puts them in its training order.
  const aggregator = page.getByLabel('Aggregator');
  await page.waitForFunction(() => {
    const select = [...document.querySelectorAll('select')].find((element) => element.labels?.[0]?.textContent === 'Aggregator');
    return select?.selectedOptions[0]?.textContent === 'Golden AFA';
  });
  assert.equal(await aggregator.isDisabled(), false);
  await fillSettings(3);
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.getByRole('button', { name: 'Open result 1 in history' }).click({ timeout: 120_000 });
  const dialog = page.getByRole('dialog', { name: 'Generation' });
  await dialog.getByRole('button', { name: 'Contribution map' }).click();
  const legend = dialog.getByRole('list', { name: 'Contribution by model' });
  await legend.waitFor();
  const entries = await legend.getByRole('listitem').allInnerTexts();
  const parsed = entries.map((entry) => /^(\S+)\s+(\d+)%$/.exec(entry.trim())!);
  assert.deepEqual(parsed.map((match) => match[1]), ['tiny1', 'tiny2', 'tiny3']);
  const shares = parsed.map((match) => Number(match[2]));
  assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 100) <= 2, `shares ${shares}`);
  const canvas = dialog.locator('canvas[aria-label^="Contribution map, step"]');
  assert.equal(await canvas.isVisible(), true);
  // 128 px images have 16×16 latents: the map is drawn at latent resolution and scaled up.
  assert.deepEqual(await canvas.evaluate((c: HTMLCanvasElement) => [c.width, c.height]), [16, 16]);
  const slider = dialog.getByLabel(/^Denoising step 3 of 3/);
  assert.equal(await slider.getAttribute('max'), '2');
  await slider.fill('0');
  await dialog.getByLabel(/^Denoising step 1 of 3/).waitFor();
  assert.match((await canvas.getAttribute('aria-label')) ?? '', /step 1$/);
  await dialog.getByRole('button', { name: 'Close' }).click();
});

test('no script or security-policy errors happened in the page', () => {
  assert.deepEqual(studio.problems, []);
});
