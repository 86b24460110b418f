// The Train screen as a person uses it: reaching it, previewing a dataset folder with its captions and
// problems, the settings' defaults, Start disabled until two members and a folder are chosen, no runs
// yet; then a short real run of two golden tiny experts on images of the history — the History screen's
// search offered as the dataset — with its validation table and sample images.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Library } from '../../app/library/library.ts';
import type { GenerationSettings } from '../../app/images/generation-settings.ts';
import { openStudio, type StudioSession } from './studio-session.ts';
import { captionOf, generatedPixels, writeGeneratedDataset } from '../datasets/generated-dataset.ts';
import { tinyExpertFolder } from '../api/tiny-experts.ts';

let studio: StudioSession;

function settingsOf(prompt: string, seed: number): GenerationSettings {
  return {
    prompt, negativePrompt: '', seed, steps: 4, guidance: 7, sampler: 'ddim', width: 64, height: 64, batchIndex: 0,
    recipe: { recipeId: null, name: null, method: 'single', members: [{ modelId: null, shortHash: null, name: 'tiny' }], aggregatorId: null },
  };
}

/** Six images in the history (red, green, blue, yellow, red, green squares); the first two are favourites. */
function earlierImages(home: string): void {
  const library = Library.open({ home });
  for (let i = 0; i < 6; i++) {
    const row = library.recordGeneration({ settings: settingsOf(captionOf(i), i), image: { width: 64, height: 64, channels: 3, data: generatedPixels(i, 64, 64) }, createdAt: Date.parse('2025-03-01T12:00:00Z') + i * 1000 });
    if (i < 2) library.generations.setFavourite(row.id, true);
  }
  library.close();
}

before(async () => {
  studio = await openStudio({ prepare: earlierImages });
  for (const n of [1, 2] as const) {
    const done = new Promise<void>((resolve, reject) => {
      const off = studio.services.models.onDidImportFinish(() => (off(), resolve()));
      studio.services.models.onDidImportFail((event) => reject(new Error(event.error.message)));
    });
    await studio.services.models.import({ source: { kind: 'path', path: tinyExpertFolder(studio.home, n) }, name: `tiny${n}` });
    await done;
  }
});

after(async () => {
  await studio?.close();
});

test('the Train screen previews a dataset with its problems and offers the recipe defaults', async () => {
  const { page } = studio;
  const data = await writeGeneratedDataset(join(studio.home, 'dataset'), 3, 16);
  rmSync(join(data, 'image-02.txt'));
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Train' }).click();
  await page.getByRole('heading', { level: 1, name: 'Train' }).waitFor();
  await page.getByText('No training runs yet.').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Start training' }).isDisabled(), true);
  assert.equal(await page.getByLabel('Learning rate').inputValue(), '0.0001');
  assert.equal(await page.getByLabel('Batch').inputValue(), '8');
  await page.getByLabel('Dataset folder').fill(data);
  await page.getByRole('button', { name: 'Preview' }).click();
  const preview = page.getByLabel('Dataset preview');
  await preview.getByText('2 images (captions)').waitFor();
  await preview.getByText('a green square').waitFor();
  await preview.getByRole('alert').getByText(/1 image\(s\) have no \.txt caption/).waitFor();
  await page.getByLabel('Caption images without a .txt by their file name').check();
  await page.getByRole('button', { name: 'Preview' }).click();
  await preview.getByText('3 images (captions)').waitFor();
  await preview.getByText('image 02').waitFor();
  assert.deepEqual(studio.problems, []);
});

test('training on the History search: preview, a short run, its validation table and sample images', async () => {
  const { page } = studio;
  // A search in History ("red" among the favourites and not) is what the Train screen offers next.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'History' }).click();
  await page.getByLabel('Search history').fill('square');
  await page.getByRole('status').filter({ hasText: /^6 images$/ }).waitFor();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Train' }).click();
  await page.getByRole('radio', { name: 'From history' }).check();
  const choices = page.getByRole('radiogroup', { name: 'History images' });
  assert.equal(await choices.getByRole('radio', { name: /selected in History/ }).isDisabled(), true);
  await choices.getByRole('radio', { name: 'The favourites' }).check();
  await page.getByRole('button', { name: 'Preview' }).click();
  const preview = page.getByLabel('Dataset preview');
  await preview.getByText('2 images (history)').waitFor();
  await choices.getByRole('radio', { name: 'The History search “square”' }).check();
  await page.getByRole('button', { name: 'Preview' }).click();
  await preview.getByText('6 images (history)').waitFor();
  await preview.getByText('a yellow square').waitFor();

  await page.getByRole('checkbox', { name: 'tiny1' }).check();
  await page.getByRole('checkbox', { name: 'tiny2' }).check();
  await page.getByLabel('Resolution').fill('64');
  await page.getByLabel('Steps', { exact: true }).fill('2');
  await page.getByLabel('Batch').fill('2');
  await page.getByLabel('Sample steps').fill('2');
  await page.getByLabel('Sample prompts (one per line)').fill('a blue square\na red square');
  await page.getByRole('button', { name: 'Start training' }).click();
  const runs = page.getByRole('region', { name: 'Training runs' });
  await runs.getByText('Dataset: 6 history images (History search “square”)').waitFor();
  await runs.getByText('done', { exact: true }).waitFor({ timeout: 240_000 });

  // One row per validation (steps 2 and 0), newest first, with the members' and the uniform average's
  // losses and a sample per prompt that the browser really loads.
  const table = page.getByRole('table', { name: 'Validation' });
  assert.deepEqual(await table.getByRole('columnheader').allInnerTexts(), ['Step', 'Ensemble', 'tiny1 alone', 'tiny2 alone', 'Uniform average', '“a blue square”', '“a red square”']);
  assert.deepEqual(await table.getByRole('rowheader').allInnerTexts(), ['2', '0']);
  const sample = table.getByRole('img', { name: 'Sample at step 2: a red square (seed 1)' });
  await sample.waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll('table[aria-label="Validation"] img')].every((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth === 64));
  assert.equal(await table.getByRole('img').count(), 4);
  for (const cell of await table.getByRole('row').nth(1).getByRole('cell').allInnerTexts()) if (cell) assert.match(cell, /^\d\.\d{4}$/);
  assert.deepEqual(studio.problems, []);
});
