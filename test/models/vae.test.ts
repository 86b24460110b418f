import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';
import { goldenDir } from './golden-paths.ts';
import { compiledVae } from './compiled-models.ts';
import { allFinite, maxAbsDifference, randomTensor } from './tensor-compare.ts';

const folder = join(goldenDir, 'models', 'afa', 'vae');
const cases = join(goldenDir, 'cases', 'vae');

test('the VAE decoder takes pipeline latents and reproduces vae.decode(latents / scaling_factor)', async () => {
  const compiled = await compiledVae(folder, 'decoder');
  const latents = SafetensorsFile.open(join(cases, 'inputs.safetensors')).read('latents');
  const { image } = await compiled.session('vae_decoder').run({ latents });
  const error = maxAbsDifference(image, SafetensorsFile.open(join(cases, 'outputs.safetensors')).read('decoded'));
  assert.ok(error <= 5e-5, `decoded error ${error}`);
});

test('the VAE encoder reproduces the latent distribution (mean, clamped logvar, std, scaled mean)', async () => {
  const compiled = await compiledVae(folder, 'encoder');
  const image = SafetensorsFile.open(join(cases, 'inputs.safetensors')).read('image');
  const result = await compiled.session('vae_encoder').run({ image });
  const expected = SafetensorsFile.open(join(cases, 'outputs.safetensors'));
  for (const name of ['mean', 'logvar', 'std']) assert.ok(maxAbsDifference(result[name], expected.read(name)) <= 2e-5, name);
  assert.ok(maxAbsDifference(result.scaled_mean, expected.read('scaled_mean')) <= 5e-6);
});

test('non-square sizes: 24×16 latents decode to 192×128 pixels, which encode back to 24×16', async () => {
  const decoder = await compiledVae(folder, 'decoder');
  const encoder = await compiledVae(folder, 'encoder');
  const { image } = await decoder.session('vae_decoder').run({ latents: randomTensor([1, 4, 24, 16], 11) });
  assert.deepEqual(image.shape, [1, 3, 192, 128]);
  assert.ok(allFinite(image));
  const { mean } = await encoder.session('vae_encoder').run({ image });
  assert.deepEqual(mean.shape, [1, 4, 24, 16]);
  assert.ok(allFinite(mean));
});
