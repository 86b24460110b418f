// Pixels as the VAE takes them: EXIF orientation applied, shortest side resized, centre or seeded crop,
// [-1, 1]; small images upscaled (and said) or refused; corrupt files named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { ImageTooSmallError, loadTrainingImage } from '../../app/datasets/load-training-image.ts';

/** A 128×64 image: left half black, right half white. */
async function halves(format: 'png' | 'jpeg' | 'webp', orientation?: number): Promise<Buffer> {
  const data = Buffer.alloc(128 * 64 * 3);
  for (let y = 0; y < 64; y++) for (let x = 64; x < 128; x++) data.fill(255, (y * 128 + x) * 3, (y * 128 + x) * 3 + 3);
  let image = sharp(data, { raw: { width: 128, height: 64, channels: 3 } });
  if (orientation) image = image.withMetadata({ orientation });
  return format === 'png' ? image.png().toBuffer() : format === 'jpeg' ? image.jpeg({ quality: 100 }).toBuffer() : image.webp({ lossless: true }).toBuffer();
}

function at(pixels: Float32Array, size: number, channel: number, x: number, y: number): number {
  return pixels[channel * size * size + y * size + x]!;
}

test('PNG, JPEG and WebP: the shortest side goes to the resolution, the crop is centred, values in [-1, 1]', async () => {
  for (const format of ['png', 'jpeg', 'webp'] as const) {
    const image = await loadTrainingImage(await halves(format), { resolution: 64, crop: 'center' });
    assert.deepEqual(image.pixels.shape, [1, 3, 64, 64]);
    assert.deepEqual([image.width, image.height, image.upscaled], [128, 64, false]);
    // Centre crop of 128×64 keeps x 32…95: black left half, white right half.
    assert.ok(at(image.pixels.data, 64, 0, 2, 10) < -0.95, format);
    assert.ok(at(image.pixels.data, 64, 0, 61, 10) > 0.95, format);
    const left = await loadTrainingImage(await halves(format), { resolution: 64, crop: 'random', cropPosition: [0, 0] });
    assert.ok(at(left.pixels.data, 64, 1, 61, 10) < -0.95, `${format}: a crop at the left edge is all black`);
  }
});

test('EXIF orientation is honoured (orientation 6: rotated 90° clockwise)', async () => {
  const image = await loadTrainingImage(await halves('jpeg', 6), { resolution: 64, crop: 'center' });
  assert.deepEqual([image.width, image.height], [64, 128]);
  // After a clockwise turn the black half is on top.
  assert.ok(at(image.pixels.data, 64, 0, 30, 2) < -0.9);
  assert.ok(at(image.pixels.data, 64, 0, 30, 61) > 0.9);
});

test('images smaller than the resolution are upscaled and said so, or refused when asked', async () => {
  const small = await halves('png');
  const up = await loadTrainingImage(small, { resolution: 128, crop: 'center' });
  assert.equal(up.upscaled, true);
  assert.deepEqual(up.pixels.shape, [1, 3, 128, 128]);
  await assert.rejects(loadTrainingImage(small, { resolution: 128, crop: 'center', small: 'skip' }), (error) => error instanceof ImageTooSmallError && /128×64, smaller than the training resolution 128/.test(error.message));
});

test('a corrupt file and a bad resolution are refused with a clear message', async () => {
  await assert.rejects(loadTrainingImage(Buffer.from('not an image'), { resolution: 64, crop: 'center' }), /could not be decoded as an image/);
  const png = await halves('png');
  await assert.rejects(loadTrainingImage(png.subarray(0, png.length / 2), { resolution: 64, crop: 'center' }), /could not be decoded/);
  await assert.rejects(loadTrainingImage(png, { resolution: 100, crop: 'center' }), /multiple of 64/);
});
