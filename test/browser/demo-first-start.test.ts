// The first start on a new home with the built-in demo (a test pack, written by the real writer): the
// Generate screen says the demo models are being set up, with progress, then opens on the demo recipe
// with its prompt and settings, ready to generate; the Models screen badges what the demo added. The
// pack is missing when the studio opens, so the screen first shows the failure and its "Try again" —
// which also makes the setup start while the page watches.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECIPE, writeTestPack } from '../demo/test-pack.ts';
import { openStudio, type StudioSession } from './studio-session.ts';

let root: string;
let studio: StudioSession;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'afa-demo-browser-'));
  studio = await openStudio({ demoPack: join(root, 'pack') });
});

after(async () => {
  await studio?.close();
  rmSync(root, { recursive: true, force: true });
});

test('a missing pack is said with what to do; Try again sets the demo up while the screen shows its progress', async () => {
  const { page } = studio;
  const failed = page.getByRole('region', { name: 'Demo setup failed' });
  await failed.waitFor();
  assert.match(await failed.innerText(), /The demo models could not be set up[\s\S]*There is no demo pack at [\s\S]*npm run demo:train/);
  await writeTestPack(join(root, 'pack'));
  await failed.getByRole('button', { name: 'Try again' }).click();
  const setup = page.getByRole('region', { name: 'Demo setup' });
  await setup.getByRole('heading', { name: 'Setting up the demo models…' }).waitFor();
  await setup.getByRole('progressbar', { name: 'Demo setup' }).waitFor();
  await setup.waitFor({ state: 'detached', timeout: 120_000 });
  assert.deepEqual(studio.problems, []);
});

test('once ready, Generate opens on the demo recipe with its prompt and settings, and it generates', async () => {
  const { page } = studio;
  const prompt = page.getByLabel('Prompt', { exact: true });
  await page.waitForFunction((text) => (document.querySelector('textarea') as HTMLTextAreaElement | null)?.value === text, RECIPE.prompt);
  assert.equal(await prompt.inputValue(), RECIPE.prompt);
  assert.match(await page.getByLabel('Recipe', { exact: true }).locator('option:checked').innerText(), /Demo · Shapes ensemble — AFA/);
  assert.equal(await page.getByLabel('Steps').inputValue(), String(RECIPE.steps));
  assert.equal(await page.getByLabel('Width').inputValue(), '64');
  assert.equal(await page.getByLabel('Seed', { exact: true }).inputValue(), String(RECIPE.seed));
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.getByRole('img', { name: /^Result 1: a small red star/ }).waitFor({ timeout: 120_000 });
  assert.deepEqual(studio.problems, []);
});

test('the Models screen badges the demo models, recipe and aggregators', async () => {
  const { page } = studio;
  await page.goto(`${studio.server.origin}/#/models`);
  const models = page.getByRole('table', { name: 'Imported models' });
  await models.getByText('Demo · Warm plain scenes').waitFor();
  assert.equal(await models.getByText('Demo', { exact: true }).count(), 3);
  assert.equal(await page.getByRole('list', { name: 'Recipes' }).getByText('Demo', { exact: true }).count(), 1);
});
