// What a person does in the studio that does not need the image engine: moving between screens,
// settings, importing checkpoints (a bad file and the golden tiny ones), building and saving a recipe,
// the prompt gallery. Real services, real importer, Debian's Chromium.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WebSocketRoute } from 'playwright-core';
import { golden, openStudio, type StudioSession } from './studio-session.ts';

let studio: StudioSession;

before(async () => {
  studio = await openStudio();
});

after(async () => {
  await studio?.close();
});

test('the token URL opens the studio and every screen is reachable from the navigation', async () => {
  const { page } = studio;
  // The token left the address bar for a cookie.
  assert.doesNotMatch(page.url(), /token=/);
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const screen of ['Models', 'History', 'Settings', 'Generate']) {
    await nav.getByRole('link', { name: screen }).click();
    await page.getByRole('heading', { level: 1, name: screen }).waitFor();
    assert.equal(await nav.getByRole('link', { name: screen }).getAttribute('aria-current'), 'page');
  }
  await page.getByLabel('Prompt', { exact: true }).waitFor();
});

test('settings default to the automatic provider and precision, offer only the available providers and say why the others are not', async () => {
  const { page } = studio;
  await page.goto(`${studio.server.origin}/#/settings`);
  const cpu = page.getByRole('radio', { name: /^CPU/ });
  await cpu.waitFor();
  assert.equal(await page.getByRole('radio', { name: /^Automatic/ }).isChecked(), true);
  assert.equal(await cpu.isChecked(), false);
  assert.equal(await cpu.isDisabled(), false);
  assert.equal(await page.getByRole('radio', { name: /CoreML|Core ML/ }).isDisabled(), true);
  await page.getByText('CoreML exists only on macOS.').waitFor();
  assert.equal(await page.getByLabel('Precision').inputValue(), 'auto', 'automatic precision by default');
  await page.getByLabel('Threads').fill('1');
  await page.getByLabel('Precision').selectOption('fp16');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Settings saved.').waitFor();
  await page.reload();
  await page.getByLabel('Threads').waitFor();
  assert.equal(await page.getByLabel('Threads').inputValue(), '1');
  assert.equal(await page.getByLabel('Precision').inputValue(), 'fp16');
  const saved = await studio.services.settings.get();
  assert.equal(saved.threads, 1);
  assert.equal(saved.precision, 'fp16');
  await studio.services.settings.set({ precision: 'auto' });
});

test('a bad import shows the importer’s error next to the file', async () => {
  const { page } = studio;
  // A fast failure: its event comes over the WebSocket just before the import call's reply (both held
  // back here until they are there, as on a busy machine). The entry must still learn that it failed.
  let hold: ((message: string) => void) | undefined;
  const failEvent = new Promise<string>((resolve) => (hold = resolve));
  let pageSocket: WebSocketRoute | undefined;
  await page.routeWebSocket('**/events', (socket) => {
    pageSocket = socket;
    const server = socket.connectToServer();
    server.onMessage((message) => {
      if (hold && String(message).includes('models.onDidImportFail')) {
        hold(String(message));
        hold = undefined;
      } else socket.send(message);
    });
    socket.onMessage((message) => server.send(message));
  });
  await page.route('**/api/models.import', async (route) => {
    const response = await route.fetch();
    pageSocket?.send(await failEvent);
    await route.fulfill({ response });
  });
  await page.goto(`${studio.server.origin}/#/models`);
  await page.reload();
  const bogus = join(studio.home, 'holiday-photo.safetensors');
  writeFileSync(bogus, 'not a checkpoint at all');
  await page.getByLabel('Checkpoint file').setInputFiles(bogus);
  const alert = page.getByRole('alert').filter({ hasText: 'Could not import holiday-photo.safetensors' });
  await alert.waitFor();
  assert.match(await alert.innerText(), /safetensors/i);
  // The upload's place on the server is not the user's business: the file is named as they chose it.
  assert.doesNotMatch(await alert.innerText(), /uploads|tmp\//);
  assert.match(await alert.innerText(), /holiday-photo\.safetensors/);
  await page.getByRole('button', { name: 'Dismiss' }).first().click();
  await alert.waitFor({ state: 'detached' });
  await page.unrouteAll();
});

test('importing the golden checkpoints lists them with hashes and sizes', async () => {
  const { page } = studio;
  await page.goto(`${studio.server.origin}/#/models`);
  await page.getByLabel('Architecture config folder (optional)').fill(join(golden, 'models', 'afa'));
  await page.getByLabel('Checkpoint file').setInputFiles([
    join(golden, 'models', 'single_file', 'expert1_fp32.safetensors'),
    join(golden, 'models', 'single_file', 'expert2_fp16.safetensors'),
  ]);
  const table = page.getByRole('table', { name: 'Imported models' });
  await table.getByRole('cell', { name: 'expert1_fp32', exact: true }).waitFor({ timeout: 60_000 });
  await table.getByRole('cell', { name: 'expert2_fp16', exact: true }).waitFor({ timeout: 60_000 });
  const models = await studio.services.models.list();
  for (const model of models) await table.getByRole('cell', { name: `${model.sha256.slice(0, 12)}…` }).waitFor();
  // One precision everywhere: the stored one (fp32 by default), as `afa models` shows it; the file's own on hover.
  const fp16File = table.getByRole('row', { name: /expert2_fp16/ });
  assert.equal(await fp16File.getByRole('cell', { name: 'fp32', exact: true }).getAttribute('title'), 'Stored in fp32; the file is fp16');
});

test('a single file imported with a config folder generates in the UI (the folder brought its tokenizer)', async () => {
  const { page } = studio;
  await page.goto(`${studio.server.origin}/#/generate`);
  await page.getByLabel('Prompt', { exact: true }).fill('a small test');
  await page.getByLabel('Method').selectOption('single');
  await page.getByRole('radio', { name: 'expert1_fp32' }).check();
  await page.getByLabel('Steps').fill('2');
  await page.getByLabel('Width').fill('64');
  await page.getByLabel('Height').fill('64');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await page.getByRole('button', { name: 'Open result 1 in history' }).waitFor({ timeout: 60_000 });
  // The form survives reloads; the next test starts from an empty one.
  await page.evaluate(() => localStorage.clear());
  await page.reload();
});

test('a recipe is built from imported checkpoints, saved, and offered by name', async () => {
  const { page } = studio;
  await page.goto(`${studio.server.origin}/#/generate`);
  await page.getByLabel('Method').selectOption('output-average');
  await page.getByLabel('expert1_fp32').check();
  await page.getByLabel('expert2_fp16').check();
  await page.getByLabel('Weight of expert2_fp16').fill('3');
  await page.getByLabel('Recipe name').fill('Tiny pair');
  await page.getByRole('button', { name: 'Save recipe' }).click();
  await page.getByText('Recipe “Tiny pair” saved.').waitFor();
  const picker = page.getByLabel('Recipe', { exact: true });
  assert.match(await picker.locator('option:checked').innerText(), /Tiny pair/);
  const [recipe] = await studio.services.recipes.list();
  assert.equal(recipe?.method, 'output-average');
  assert.deepEqual(recipe?.weights, [1, 3]);
  await page.goto(`${studio.server.origin}/#/models`);
  await page.getByRole('list', { name: 'Recipes' }).getByText('Tiny pair').waitFor();
});

test('the prompt gallery saves, finds and inserts prompts', async () => {
  const { page } = studio;
  await page.goto(`${studio.server.origin}/#/generate`);
  const prompt = page.getByLabel('Prompt', { exact: true });
  await prompt.fill('a lighthouse on a cliff at dusk');
  await page.getByRole('button', { name: 'Prompt gallery' }).click();
  await page.getByLabel('Tags for this prompt').fill('sea, evening');
  await page.getByRole('button', { name: 'Save prompt' }).click();
  await page.getByText('Prompt saved to the gallery.').waitFor();
  await prompt.fill('');
  await page.getByLabel('Search prompts').fill('lighth');
  // Inserting counts a use and reloads the list; that call answers late here (as on a busy machine),
  // after the next search: the list must show that search's results, not the earlier one's.
  await page.route('**/api/prompts.use', async (route) => {
    const response = await route.fetch();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await route.fulfill({ response });
  });
  await page.getByRole('button', { name: 'Insert prompt: a lighthouse on a cliff at dusk' }).click();
  assert.equal(await prompt.inputValue(), 'a lighthouse on a cliff at dusk');
  await page.getByLabel('Search prompts').fill('nothing like it');
  await page.getByText('No saved prompts match.').waitFor();
  await page.waitForTimeout(700);
  assert.equal(await page.getByText('No saved prompts match.').isVisible(), true);
  await page.unrouteAll();
  await page.getByLabel('Search prompts').fill('#evening');
  await page.getByRole('button', { name: 'Show prompts tagged sea' }).click();
  assert.equal(await page.getByLabel('Search prompts').inputValue(), '#sea');
  await page.getByRole('button', { name: 'Insert prompt: a lighthouse on a cliff at dusk' }).waitFor();
});

test('a live token count under the prompt warns past the 75 tokens the text encoder reads', async () => {
  const { page } = studio;
  await page.goto(`${studio.server.origin}/#/generate`);
  const prompt = page.getByLabel('Prompt', { exact: true });
  await prompt.fill('a photo of a cat');
  await page.getByText('5 / 75 tokens', { exact: true }).waitFor();
  // "cat, " is two tokens: 40 of them make 79 (the last has no comma).
  await prompt.fill(Array.from({ length: 40 }, () => 'cat').join(', '));
  const warning = page.getByText('79 / 75 tokens — words after token 75 are ignored');
  await warning.waitFor();
  assert.match((await prompt.getAttribute('aria-describedby')) ?? '', /hint/);
  await page.getByLabel('Negative prompt').fill('blurry');
  await page.getByText('1 / 75 tokens', { exact: true }).waitFor();
});

test('no script or security-policy errors happened in the page', () => {
  assert.deepEqual(studio.problems, []);
});
