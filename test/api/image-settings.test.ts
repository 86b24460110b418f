// An image's settings mapped onto the Generate form: what maps, and the words for what does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readingFor } from '../../app/api/image-settings.ts';
import { readImageInfo } from '../../app/images/image-info.ts';
import type { ModelRow } from '../../app/library/models-table.ts';
import { pngWithChunks } from '../images/container-writers.ts';
import { a1111Png, FIXTURE } from '../images/foreign-fixtures.ts';
import { novelAiV3Png, swarmPng } from '../images/tool-fixtures.ts';

const dreamshaper = {
  id: `${FIXTURE.modelHash}${'0'.repeat(54)}`,
  name: 'DreamShaper 8',
  shortHash: FIXTURE.modelHash,
} as ModelRow;

test('an SD 1.x image whose model is in the catalog fills everything, the model by its AUTOV2 hash', () => {
  const reading = readingFor('a.png', readImageInfo(a1111Png()), [dreamshaper]);
  assert.equal(reading.tool, 'automatic1111');
  assert.equal(reading.toolName, 'AUTOMATIC1111');
  assert.deepEqual(reading.fill, {
    prompt: FIXTURE.prompt,
    negativePrompt: FIXTURE.negativePrompt,
    seed: FIXTURE.seed,
    steps: FIXTURE.steps,
    guidance: FIXTURE.guidance,
    sampler: 'dpmpp-2m-karras',
    width: FIXTURE.width,
    height: FIXTURE.height,
    recipe: { method: 'single', members: [{ modelId: dreamshaper.id }] },
  });
  assert.deepEqual(reading.notes, ['LoRAs are not supported: detail, style were left out.']);
  assert.equal(reading.recorded['Lora hashes'], 'detail: 0123abcd, style: 4567ef01');
});

test('the model is matched by name when there is no hash; unknown samplers and odd sizes are said', () => {
  const bytes = pngWithChunks([{ keyword: 'parameters', text: 'a fox\nSteps: 20, Sampler: Restart, CFG scale: 7, Seed: 1, Size: 500x500, Model: dreamshaper 8' }]);
  const reading = readingFor('b.png', readImageInfo(bytes), [dreamshaper]);
  assert.deepEqual(reading.fill.recipe, { method: 'single', members: [{ modelId: dreamshaper.id }] });
  assert.equal(reading.fill.sampler, undefined);
  assert.equal(reading.fill.width, undefined);
  assert.deepEqual(reading.notes, [
    'The sampler "Restart" has no counterpart in the studio; the sampler was left as it was.',
    'The size 500x500 is not one the studio makes (64–2048 pixels, multiples of 8); the size was left as it was.',
  ]);
});

test('SDXL and NovelAI images: the model cannot run here, said in words', () => {
  const swarm = readingFor('s.png', readImageInfo(swarmPng()), []);
  assert.ok(swarm.notes.includes('Made with an SDXL model (OfficialStableDiffusion/sd_xl_base_1.0), which the studio cannot run: it runs Stable Diffusion 1.x checkpoints.'));
  assert.ok(swarm.notes.includes('LoRAs are not supported: cute_style was left out.'));
  assert.equal(swarm.fill.prompt, 'a tiny robot watering plants, <lora:cute_style>');
  const novelai = readingFor('n.png', readImageInfo(novelAiV3Png()), []);
  assert.ok(novelai.notes.some((note) => note.startsWith('Made with an SDXL model (Stable Diffusion XL)')));
  assert.equal(novelai.fill.width, 832);
});

test('an image without settings: tool none, and what the file holds', () => {
  const reading = readingFor('c.png', readImageInfo(pngWithChunks([])), []);
  assert.deepEqual(reading, { fileName: 'c.png', tool: 'none', toolName: null, fill: {}, notes: ['c.png carries no generation settings: it is a PNG image (24x16) with no text metadata.'], recorded: {} });
});

test('an SD 1.x image whose model is not in the catalog names it (missingModel) and fills no recipe', () => {
  const reading = readingFor('a.png', readImageInfo(a1111Png()), []);
  assert.equal(reading.fill.recipe, undefined);
  assert.deepEqual(reading.missingModel, { name: FIXTURE.modelName, hash: FIXTURE.modelHash });
  assert.ok(reading.notes.includes(`The model (${FIXTURE.modelName}) is not in the catalog; import it on Models to use it.`));
  assert.equal(readingFor('a.png', readImageInfo(a1111Png()), [dreamshaper]).missingModel, undefined);
});
