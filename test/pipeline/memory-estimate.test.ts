// The memory estimate a generation is accepted or refused on (app/pipeline/memory-estimate.ts), on the
// released SD1.5 configs: which part dominates, how it grows, and the size it suggests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SD15_UNET_CONFIG } from '../../app/models/unet-config.ts';
import { SD15_VAE_CONFIG } from '../../app/models/vae-config.ts';
import { estimateGenerationMemory, largestSizeWithin, type MemoryEstimateInput } from '../../app/pipeline/memory-estimate.ts';

const GiB = 1024 ** 3;
/** SD1.5 in float32: U-Net 3.4 GB, text encoder 0.5 GB, VAE decoder 0.2 GB. */
const sd15: MemoryEstimateInput = { unets: [SD15_UNET_CONFIG], vae: SD15_VAE_CONFIG, width: 512, height: 512, guided: true, weightsBytes: 4.1e9 };

test('SD1.5 at 512² needs its weights plus ~2.5 GiB, most of it to decode the image', () => {
  const estimate = estimateGenerationMemory(sd15);
  assert.ok(estimate.decoderBytes > estimate.unetBytes);
  assert.ok(estimate.totalBytes > 6 * GiB && estimate.totalBytes < 8 * GiB, `${estimate.totalBytes / GiB} GiB`);
});

test('memory grows with the pixels (flash attention: no N² scores), not with steps or batch count', () => {
  const small = estimateGenerationMemory(sd15);
  const large = estimateGenerationMemory({ ...sd15, width: 2048, height: 2048 });
  const activations = (estimate: typeof small) => estimate.totalBytes - estimate.weightsBytes;
  const ratio = activations(large) / activations(small);
  assert.ok(ratio > 14 && ratio < 17, `×${ratio.toFixed(1)} for ×16 pixels`);
  assert.ok(large.totalBytes > 40 * GiB, `${large.totalBytes / GiB} GiB`);
});

test('guidance doubles the U-Net batch; an ensemble adds each member\'s features', () => {
  const guided = estimateGenerationMemory(sd15).unetBytes;
  assert.equal(estimateGenerationMemory({ ...sd15, guided: false }).unetBytes * 2, guided);
  const trio = estimateGenerationMemory({ ...sd15, unets: [SD15_UNET_CONFIG, SD15_UNET_CONFIG, SD15_UNET_CONFIG] }).unetBytes;
  assert.ok(trio > guided * 1.5 && trio < guided * 3, `${trio / guided}`);
});

test('the suggested size keeps the aspect, is a multiple of 64 and fits; none when the weights alone do not', () => {
  const budget = 18 * GiB;
  const wide = { ...sd15, width: 2048, height: 1024 };
  const fits = largestSizeWithin(wide, budget)!;
  assert.equal(fits.width % 64, 0);
  assert.equal(fits.height % 64, 0);
  assert.equal(fits.width, fits.height * 2);
  assert.ok(estimateGenerationMemory({ ...wide, ...fits }).totalBytes <= budget);
  assert.ok(estimateGenerationMemory({ ...wide, width: fits.width + 128, height: fits.height + 64 }).totalBytes > budget);
  assert.equal(largestSizeWithin(sd15, 3 * GiB), undefined);
});
