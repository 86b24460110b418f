import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodePng, type PixelImage } from '../../app/images/png.ts';
import { makeThumbnail, thumbnailPng, thumbnailSize } from '../../app/images/thumbnail.ts';

function image(width: number, height: number, channels: 3 | 4, pixel: (x: number, y: number) => number[]): PixelImage {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(pixel(x, y).slice(0, channels), (y * width + x) * channels);
  return { width, height, channels, data };
}

describe('thumbnail', () => {
  it('fits the longest side to 256 px, keeps the aspect ratio and never enlarges', () => {
    assert.deepEqual(thumbnailSize(512, 512), { width: 256, height: 256 });
    assert.deepEqual(thumbnailSize(512, 768), { width: 171, height: 256 });
    assert.deepEqual(thumbnailSize(1920, 1080), { width: 256, height: 144 });
    assert.deepEqual(thumbnailSize(200, 100), { width: 200, height: 100 });
    assert.deepEqual(thumbnailSize(10_000, 10), { width: 256, height: 1 });
  });

  it('averages whole 2x2 blocks exactly for an integer factor', () => {
    // 512x512 with each 2x2 block holding the values v, v+2, v+4, v+6: their mean is v+3.
    const source = image(512, 512, 3, (x, y) => {
      const v = ((x >> 1) + (y >> 1)) % 200;
      const offset = (x & 1) * 2 + (y & 1) * 4;
      return [v + offset, 255 - v - offset, 7];
    });
    const thumb = makeThumbnail(source);
    assert.equal(thumb.width, 256);
    for (let y = 0; y < 256; y += 17) {
      for (let x = 0; x < 256; x += 13) {
        const v = (x + y) % 200;
        const i = (y * 256 + x) * 3;
        assert.deepEqual([...thumb.data.subarray(i, i + 3)], [v + 3, 252 - v, 7], `pixel ${x},${y}`);
      }
    }
  });

  it('averages by covered area for a fractional factor (no aliasing of a 1-px checkerboard)', () => {
    // Point sampling a checkerboard at 3:1 gives pure black or white; area averaging gives ~grey.
    const source = image(768, 300, 3, (x, y) => ((x + y) & 1 ? [255, 255, 255] : [0, 0, 0]));
    const thumb = makeThumbnail(source);
    assert.deepEqual([thumb.width, thumb.height], [256, 100]);
    let min = 255;
    let max = 0;
    for (let i = 0; i < thumb.data.length; i++) {
      min = Math.min(min, thumb.data[i]);
      max = Math.max(max, thumb.data[i]);
    }
    assert.ok(min >= 112 && max <= 143, `checkerboard thumbnail ranges ${min}..${max}`);
  });

  it('weights partially covered source pixels by the fraction covered', () => {
    // 3 px → 2 px: output 0 covers source [0, 1.5), output 1 covers [1.5, 3).
    const source = image(3, 1, 3, (x) => [[0, 90, 240][x], 0, 0]);
    const thumb = makeThumbnail(source, 2);
    assert.deepEqual([thumb.data[0], thumb.data[3]], [30, 190]); // (0 + 0.5·90)/1.5, (0.5·90 + 240)/1.5
  });

  it('premultiplies alpha so transparent pixels lend no colour, and drops alpha when opaque', () => {
    const source = image(4, 4, 4, (x) => (x < 2 ? [255, 0, 0, 0] : [0, 0, 255, 255]));
    const thumb = makeThumbnail(source, 1);
    assert.equal(thumb.channels, 4);
    assert.deepEqual([...thumb.data], [0, 0, 255, 128]); // colour of the opaque half only; half coverage
    const opaque = makeThumbnail(image(4, 4, 4, () => [1, 2, 3, 255]), 2);
    assert.equal(opaque.channels, 3);
  });

  it('encodes the thumbnail as a PNG', () => {
    const png = decodePng(thumbnailPng(image(600, 300, 3, () => [10, 20, 30])));
    assert.deepEqual([png.width, png.height, ...png.data.subarray(0, 4)], [256, 128, 10, 20, 30, 255]);
  });
});
