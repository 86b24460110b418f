// A cheap preview of the current latent: SD1.x latents map almost linearly to RGB, so one 4×3 matrix
// per pixel gives a recognisable thumbnail at 1/8 resolution for free (no VAE decode per step).
// The coefficients are the widely used least-squares fit of SD1.5's VAE (latent channel → R, G, B).
import { pixelsFromTensor, pixelsFromTensorInSlices } from '../images/pixels-from-tensor.ts';
import type { Tensor } from '../tensor/tensor.ts';

const LATENT_RGB: readonly (readonly [number, number, number])[] = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
];

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** 8-bit RGB, row-major, 3 bytes per pixel. */
  readonly rgb: Uint8Array;
}

/** Latents [B, 4, h, w] in pipeline space → RGB preview of image `index` at h×w. */
export function latentPreview(latents: Tensor<'float32'>, index = 0): RgbImage {
  const [, channels, height, width] = latents.shape as [number, number, number, number];
  if (channels !== 4) throw new Error(`latent preview needs 4 channels, got ${channels}`);
  const plane = height * width;
  const base = index * channels * plane;
  const rgb = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    let r = 0;
    let g = 0;
    let b = 0;
    for (let c = 0; c < 4; c++) {
      const value = latents.data[base + c * plane + p]!;
      const row = LATENT_RGB[c]!;
      r += value * row[0];
      g += value * row[1];
      b += value * row[2];
    }
    rgb[p * 3] = toByte(r);
    rgb[p * 3 + 1] = toByte(g);
    rgb[p * 3 + 2] = toByte(b);
  }
  return { width, height, rgb };
}

/** [-1, 1] → 0..255 with rounding, as the preview's values are roughly in the decoded image's range. */
function toByte(value: number): number {
  const scaled = Math.round(((value + 1) / 2) * 255);
  return scaled < 0 ? 0 : scaled > 255 ? 255 : scaled;
}

/** The decoded image [1, 3, H, W] in ~[-1, 1] → 8-bit RGB, rounded as diffusers does (images/pixels-from-tensor.ts). */
export function imageToRgb(image: Tensor<'float32'>): RgbImage {
  const pixels = pixelsFromTensor(image, { layout: 'nchw', range: 'signed' });
  return { width: pixels.width, height: pixels.height, rgb: pixels.data };
}

/** imageToRgb in slices between turns of the event loop: the engine keeps answering while a large image converts. */
export async function imageToRgbInSlices(image: Tensor<'float32'>): Promise<RgbImage> {
  const pixels = await pixelsFromTensorInSlices(image, { layout: 'nchw', range: 'signed' });
  return { width: pixels.width, height: pixels.height, rgb: pixels.data };
}
