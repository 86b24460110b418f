// History as a library, without the image engine: the studio-folder check at start-up (orphan images
// offered for import, entries whose image vanished shown as missing), importing PNGs from other tools by
// file picker and by drag-and-drop, the date range filter, exporting a selection with its settings,
// deleting it with undo, and emptying the trash in Settings. Real services and files, Debian's Chromium.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyGenerationSettings, writeOldFile } from '../library/history-fixtures.ts';
import { Library } from '../../app/library/library.ts';
import { a1111Png, comfyUiPng, invokeAiPng, testImage } from '../images/foreign-fixtures.ts';
import { openStudio, type StudioSession } from './studio-session.ts';

let studio: StudioSession;
let scratch: string;

const settings = (prompt: string) => tinyGenerationSettings(prompt, 5);


/** A history left by an earlier session: three images, one whose file was deleted, two PNGs without rows. */
function earlierSession(home: string): void {
  const library = Library.open({ home });
  for (const [prompt, date] of [['a quiet harbour', '2024-01-10T12:00:00Z'], ['a snowy owl', '2024-06-10T12:00:00Z'], ['a desert road', '2025-01-10T12:00:00Z']] as const) {
    library.recordGeneration({ settings: settings(prompt), image: testImage(), createdAt: Date.parse(date) });
  }
  const lost = library.recordGeneration({ settings: settings('a lost kite'), image: testImage(), createdAt: Date.parse('2025-02-10T12:00:00Z') });
  rmSync(library.absolutePath(lost.imagePath!));
  library.close();
  writeOldFile(join(home, 'images', '2023-05-05', 'restored-1.png'), a1111Png());
  writeOldFile(join(home, 'images', '2023-05-05', 'restored-2.png'), a1111Png());
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'afa-history-files-'));
  studio = await openStudio({ prepare: earlierSession });
  await studio.page.goto(`${studio.server.origin}/#/history`);
});

after(async () => {
  await studio?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const imageCount = (n: number) => studio.page.getByRole('status').filter({ hasText: new RegExp(`^${n} images?$`) }).waitFor();

test('the studio-folder check offers orphan images for import and shows the entry whose image vanished', async () => {
  const { page } = studio;
  const banner = page.getByRole('region', { name: 'Studio folder check' });
  await banner.getByText('2 images in the studio folder have no history entry.').waitFor();
  await banner.getByText(/1 history entry has lost its image file/).waitFor();
  await imageCount(4);
  const lost = page.getByRole('button', { name: 'Open generation: a lost kite' });
  assert.match(await lost.innerText(), /Image missing/);

  await banner.getByRole('button', { name: 'Import them' }).click();
  await page.getByText('Imported 2 images into history.').waitFor();
  await imageCount(6);
  await banner.getByText(/no history entry/).waitFor({ state: 'detached' });
  await banner.getByRole('button', { name: 'Dismiss' }).click();
  await banner.waitFor({ state: 'detached' });

  await lost.click();
  const dialog = page.getByRole('dialog', { name: 'Generation' });
  await dialog.getByText('Image missing').waitFor();
  await dialog.getByText(/images\/.*\.png/).waitFor();
  assert.equal(await dialog.getByRole('link', { name: 'Download' }).count(), 0);
  await dialog.getByRole('button', { name: 'Close' }).click();
});

test('PNGs from other tools come in by the file picker and by drag-and-drop; a bad file is listed with the reason', async () => {
  const { page } = studio;
  const invoke = join(scratch, 'invoke.png');
  const notes = join(scratch, 'notes.png');
  writeFileSync(invoke, invokeAiPng());
  writeFileSync(notes, 'shopping list, not an image');
  await page.getByLabel('Images to import').setInputFiles([invoke, notes]);
  await page.getByText('Imported 1 image into history.').waitFor();
  const problem = page.getByRole('alert').filter({ hasText: '1 file was not imported' });
  await problem.getByText(/notes\.png is not a PNG, JPEG or WebP image/).waitFor();
  await problem.getByRole('button', { name: 'Dismiss' }).click();
  await imageCount(7);

  const dropped = await page.evaluateHandle((base64) => {
    const transfer = new DataTransfer();
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], 'comfy.png', { type: 'image/png' }));
    return transfer;
  }, Buffer.from(comfyUiPng()).toString('base64'));
  await page.dispatchEvent('[aria-label="Generations"]', 'dragover', { dataTransfer: dropped });
  await page.getByText('Drop images (PNG, JPEG, WebP) to import them into history').waitFor();
  await page.dispatchEvent('[aria-label="Generations"]', 'drop', { dataTransfer: dropped });
  await page.getByText('Imported 1 image into history.').last().waitFor();
  await imageCount(8);

  const sources = new Set<string>();
  for (const cell of await page.getByRole('button', { name: /^Open generation: a lighthouse on a cliff/ }).all()) {
    await cell.click();
    const dialog = page.getByRole('dialog', { name: 'Generation' });
    sources.add((await dialog.getByText(/\(settings from its image\)$/).innerText()).split(' ')[0]!);
    await dialog.getByRole('button', { name: 'Close' }).click();
  }
  assert.deepEqual([...sources].sort(), ['AUTOMATIC1111', 'ComfyUI', 'InvokeAI']);
});

test('the date range narrows the history to the days chosen, both included', async () => {
  const { page } = studio;
  await page.getByLabel('From', { exact: true }).fill('2024-06-10');
  await page.getByLabel('To', { exact: true }).fill('2024-06-10');
  await imageCount(1);
  await page.getByRole('button', { name: 'Open generation: a snowy owl' }).waitFor();
  await page.getByLabel('From', { exact: true }).fill('2030-01-01');
  await page.getByLabel('To', { exact: true }).fill('');
  await page.getByText('Nothing matches these filters.').waitFor();
  await page.getByLabel('From', { exact: true }).fill('');
  await imageCount(8);
});

test('a selection is exported with its settings, deleted with undo, and the trash is emptied in Settings', async () => {
  const { page } = studio;
  // Newest first: road (2025-01), owl (2024-06), harbour (2024-01) are the last three cells.
  await page.getByRole('checkbox', { name: 'Select: a desert road' }).check();
  await page.getByRole('checkbox', { name: 'Select: a quiet harbour' }).click({ modifiers: ['Shift'] });
  const selection = page.getByRole('toolbar', { name: 'Selection' });
  await selection.getByText('3 selected').waitFor();
  assert.equal(await page.getByRole('checkbox', { name: 'Select: a snowy owl' }).isChecked(), true);

  await selection.getByRole('button', { name: 'Export…' }).click();
  const toast = page.getByRole('status').filter({ hasText: /^Exported 3 images with settings\.json and settings\.csv to / });
  await toast.waitFor();
  const directory = /to (.+)$/.exec(await toast.locator('p').first().innerText())![1]!;
  assert.ok(directory.startsWith(studio.home), directory);
  assert.deepEqual(readdirSync(directory).filter((name) => name.endsWith('.png')).length, 3);
  assert.ok(existsSync(join(directory, 'settings.csv')) && existsSync(join(directory, 'settings.json')));

  await selection.getByRole('button', { name: 'Delete' }).click();
  await page.getByText('Deleted 3 images.').waitFor();
  await imageCount(5);
  await selection.waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'Undo' }).click();
  await imageCount(8);

  await page.getByRole('checkbox', { name: 'Select: a desert road' }).check();
  await page.getByRole('checkbox', { name: 'Select: a snowy owl' }).check();
  await selection.getByRole('button', { name: 'Delete' }).click();
  await imageCount(6);
  // The export and undo toasts would sit over the bottom of the Settings screen for their ten seconds.
  const dismiss = page.getByRole('status').getByRole('button', { name: 'Dismiss' });
  while ((await dismiss.count()) > 0) await dismiss.first().click();

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  const trash = page.getByRole('region', { name: 'Trash' });
  await trash.getByText(/^2 images in the trash/).waitFor();
  await trash.getByRole('button', { name: 'Empty trash…' }).click();
  await trash.getByText('Delete 2 images for good?').waitFor();
  await trash.getByRole('button', { name: 'Delete for good' }).click();
  await trash.getByText('The trash is empty.').waitFor();
  assert.equal((await studio.services.history.trashInfo()).count, 0);
  assert.deepEqual(readdirSync(join(studio.home, 'trash')), []);
});

test('no script or security-policy errors happened in the page', () => {
  assert.deepEqual(studio.problems, []);
});
