// Generate takes the settings of an image from another tool: dropped, pasted or picked, in web mode (the
// file is uploaded, read by the services, and the upload removed). What maps fills the form; what does not
// is said. Real services, Debian's Chromium, fixture images written in each tool's format.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uploadsDirectory } from '../../app/api/uploads.ts';
import { pngWithChunks } from '../images/container-writers.ts';
import { A1111_FULL, a1111Jpeg, comfyFluxPrompt, comfyWebp, comfyWorkflowWithPrimitive } from '../images/tool-fixtures.ts';
import { openStudio, type StudioSession } from './studio-session.ts';

let studio: StudioSession;
let scratch: string;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'afa-generate-images-'));
  studio = await openStudio();
  await studio.page.goto(`${studio.server.origin}/#/generate`);
});

after(async () => {
  await studio?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** A DataTransfer holding one file, made in the page. */
function transferOf(bytes: Uint8Array, name: string, type: string) {
  return studio.page.evaluateHandle(
    ([base64, fileName, mime]) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], fileName, { type: mime }));
      return transfer;
    },
    [Buffer.from(bytes).toString('base64'), name, type] as const,
  );
}

test('dropping an AUTOMATIC1111 JPEG fills the form and says what did not map', async () => {
  const { page } = studio;
  const transfer = await transferOf(a1111Jpeg(A1111_FULL), 'castle.jpg', 'image/jpeg');
  await page.dispatchEvent('[aria-label="Generate"]', 'dragover', { dataTransfer: transfer });
  await page.getByText('Drop an image to use its settings').waitFor();
  await page.dispatchEvent('[aria-label="Generate"]', 'drop', { dataTransfer: transfer });
  const notice = page.getByRole('status', { name: 'Settings from an image' });
  await notice.getByText(/Settings from castle\.jpg \(AUTOMATIC1111\): filled in prompt, negative prompt, steps, CFG, sampler, size\./).waitFor();
  assert.equal(await page.getByLabel('Prompt', { exact: true }).inputValue(), 'masterpiece, a castle on a hill,\n<lora:add_detail:0.7>, sunset over the sea');
  assert.equal(await page.getByLabel('Negative prompt').inputValue(), '(worst quality:1.4), easynegative,\nwatermark');
  assert.equal(await page.getByLabel('Steps').inputValue(), '30');
  assert.equal(await page.getByLabel('Sampler').inputValue(), 'dpmpp-2m-karras');
  assert.equal(await page.getByLabel('Width').inputValue(), '512');
  assert.equal(await page.getByLabel('Height').inputValue(), '768');
  await notice.getByText(/The seed 99999999999999999999 is beyond the studio's seeds/).waitFor();
  await notice.getByText('The model (v1-5-pruned-emaonly) is not in the catalog; import it on Models to use it.').waitFor();
  await notice.getByText('LoRAs are not supported: add_detail was left out.').waitFor();
  await notice.getByText(/second pass \(hires fix or refiner\) is not repeated/).waitFor();
  assert.deepEqual(existsSync(uploadsDirectory(studio.home)) ? readdirSync(uploadsDirectory(studio.home)) : [], [], 'the upload is removed');
});

test('pasting a ComfyUI Flux WebP fills the prompt and says the model cannot run here', async () => {
  const { page } = studio;
  await page.getByLabel('Random seed', { exact: true }).uncheck();
  await page.getByLabel('Seed', { exact: true }).fill('5');
  const transfer = await transferOf(comfyWebp(comfyFluxPrompt(), JSON.stringify(comfyWorkflowWithPrimitive())), 'cabin.webp', 'image/webp');
  await page.evaluate((data) => window.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data })), transfer);
  const notice = page.getByRole('status', { name: 'Settings from an image' });
  await notice.getByText(/Settings from cabin\.webp \(ComfyUI\)/).waitFor();
  await notice.getByText('Made with a Flux model (flux1-dev), which the studio cannot run: it runs Stable Diffusion 1.x checkpoints.').waitFor();
  assert.equal(await page.getByLabel('Prompt', { exact: true }).inputValue(), 'a cozy cabin in the woods, snow');
  assert.equal(await page.getByLabel('Seed', { exact: true }).inputValue(), '5', 'a seed beyond 2^53 leaves the seed alone');
  assert.equal(await page.getByLabel('Width').inputValue(), '1024');
});

test('picking an image without settings says what it holds and changes nothing', async () => {
  const { page } = studio;
  const before = await page.getByLabel('Prompt', { exact: true }).inputValue();
  const plain = join(scratch, 'holiday.png');
  writeFileSync(plain, pngWithChunks([{ keyword: 'Software', text: 'GIMP 2.10' }]));
  await page.getByLabel('Image to take settings from').setInputFiles(plain);
  const notice = page.getByRole('status', { name: 'Settings from an image' });
  await notice.getByText(/holiday\.png carries no generation settings: it is a PNG image \(24x16\) with metadata Software/).waitFor();
  assert.equal(await page.getByLabel('Prompt', { exact: true }).inputValue(), before);
  await notice.getByRole('button', { name: 'Dismiss' }).click();
  await notice.waitFor({ state: 'detached' });
  assert.deepEqual(studio.problems, []);
});
