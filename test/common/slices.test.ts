// Host-side image work in slices (app/common/slices.ts): the same bytes as in one piece, and the event
// loop gets turns all along — measured as the longest wait of a timer that should fire every 10 ms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inSlices } from '../../app/common/slices.ts';
import { pixelsFromTensor, pixelsFromTensorInSlices } from '../../app/images/pixels-from-tensor.ts';
import { encodePng, encodePngInSlices, type PixelImage } from '../../app/images/png.ts';
import { thumbnailPng, thumbnailPngInSlices } from '../../app/images/thumbnail.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';

/** A decoded image as the VAE returns it, [1, 3, H, W] in ~[-1, 1]: smooth colour plus a little noise. */
function decodedImage(width: number, height: number): Tensor<'float32'> {
  const data = new Float32Array(3 * width * height);
  let seed = 1;
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.1;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[(c * height + y) * width + x] = Math.sin(x / 37 + c) * Math.cos(y / 53) * 0.9 + noise();
  }
  return { dtype: 'float32', shape: [1, 3, height, width], data };
}

/** How long the event loop was held at most while `work` ran (a 10 ms interval's longest late arrival). */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  await work();
  clearInterval(timer);
  return Math.max(longest, performance.now() - last);
}

test('slices cover the range once, in order', async () => {
  const seen: [number, number][] = [];
  await inSlices(10, 4, (from, to) => seen.push([from, to]));
  assert.deepEqual(seen, [[0, 4], [4, 8], [8, 10]]);
  await inSlices(0, 4, () => assert.fail('nothing to do'));
});

test('a 1024×1536 image converts, encodes and shrinks to the same bytes in slices, never holding the loop for long', async () => {
  const tensor = decodedImage(1024, 1536);
  const layout = { layout: 'nchw', range: 'signed' } as const;
  const started = performance.now();
  const whole = pixelsFromTensor(tensor, layout);
  const png = encodePng(whole);
  const thumbnail = thumbnailPng(whole);
  const inOnePiece = performance.now() - started;

  let sliced: { pixels: PixelImage; png: Uint8Array; thumbnail: Uint8Array } | undefined;
  const stall = await longestStall(async () => {
    const pixels = await pixelsFromTensorInSlices(tensor, layout);
    sliced = { pixels, png: await encodePngInSlices(pixels), thumbnail: await thumbnailPngInSlices(pixels) };
  });
  console.log(`in one piece ${inOnePiece.toFixed(0)} ms; in slices the loop waited at most ${stall.toFixed(0)} ms`);
  assert.deepEqual(sliced!.pixels.data, whole.data);
  assert.deepEqual(sliced!.png, png);
  assert.deepEqual(sliced!.thumbnail, thumbnail);
  assert.ok(stall < Math.max(250, inOnePiece / 4), `the loop waited ${stall.toFixed(0)} ms (one piece: ${inOnePiece.toFixed(0)} ms)`);
});
