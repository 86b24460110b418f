// The Train screen as a person uses it (no training runs here: the image engine is exercised by the
// training job and CLI tests): reaching it, previewing a dataset folder with its captions and problems,
// the settings' defaults, Start disabled until two members and a folder are chosen, no runs yet.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openStudio, type StudioSession } from './studio-session.ts';
import { writeGeneratedDataset } from '../datasets/generated-dataset.ts';

let studio: StudioSession;

before(async () => {
  studio = await openStudio();
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
