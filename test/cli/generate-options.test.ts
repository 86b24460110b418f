// `afa generate --from`: settings taken from another tool's image, and what could not be used said.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { settingsFromImage } from '../../app/cli/generate-options.ts';
import { temporaryDirectory } from '../pipeline/tiny-model.ts';
import { pngWithChunks } from '../images/container-writers.ts';
import { A1111_FULL, a1111Jpeg, comfyFluxPrompt } from '../images/tool-fixtures.ts';

test('--from takes a JPEG from AUTOMATIC1111 and a ComfyUI Flux PNG, and says what cannot be used', (t) => {
  const folder = temporaryDirectory(t, 'afa-from-');
  const jpeg = join(folder, 'a.jpg');
  const flux = join(folder, 'flux.png');
  writeFileSync(jpeg, a1111Jpeg(A1111_FULL));
  writeFileSync(flux, pngWithChunks([{ keyword: 'prompt', text: comfyFluxPrompt() }]));
  const fromJpeg = settingsFromImage(jpeg, folder);
  assert.equal(fromJpeg.input.prompt, 'masterpiece, a castle on a hill,\n<lora:add_detail:0.7>, sunset over the sea');
  assert.equal(fromJpeg.input.sampler, 'dpmpp-2m-karras');
  assert.equal(fromJpeg.input.seed, undefined);
  assert.deepEqual(fromJpeg.notes, ["the image's seed 99999999999999999999 cannot be used here (the studio's seeds are 0 to 2^53 - 1)"]);
  const fromFlux = settingsFromImage(flux, folder);
  assert.equal(fromFlux.input.prompt, 'a cozy cabin in the woods, snow');
  assert.equal(fromFlux.input.steps, 20);
  assert.ok(fromFlux.notes.includes('the image was made with a flux model (flux1-dev), which the studio cannot run'));
});
