// One training image as the VAE encoder takes it: decoded by sharp (libvips; PNG, JPEG, WebP), turned
// upright by its EXIF orientation, the shortest side resized to the training resolution (Lanczos, as
// torchvision's Resize on PIL images is antialiased too), then a square crop (centre, or at a seeded
// random offset), and scaled to [-1, 1] as diffusers' training scripts do (ToTensor + Normalize([0.5], [0.5])).
import sharp from 'sharp';
import { UserError } from '../common/errors.ts';
import type { Tensor } from '../tensor/tensor.ts';

export type CropMode = 'center' | 'random';

export interface LoadImageOptions {
  /** Side of the square training image in pixels (a multiple of 64). */
  readonly resolution: number;
  readonly crop: CropMode;
  /** For 'random' crops: a number in [0, 1) per axis choosing the offset (the caller seeds it). */
  readonly cropPosition?: readonly [number, number];
  /** Images whose shortest side is below the resolution: upscale them (default) or refuse them. */
  readonly small?: 'upscale' | 'skip';
}

export interface LoadedImage {
  /** float32 [1, 3, resolution, resolution] in [-1, 1]. */
  readonly pixels: Tensor<'float32'>;
  /** Size after EXIF orientation, before resizing. */
  readonly width: number;
  readonly height: number;
  readonly upscaled: boolean;
}

/** Thrown for an image smaller than the resolution when small images are skipped. */
export class ImageTooSmallError extends UserError {
  constructor(
    readonly path: string,
    readonly width: number,
    readonly height: number,
    resolution: number,
  ) {
    super('invalid-argument', `${path} is ${width}×${height}, smaller than the training resolution ${resolution}.`);
  }
}

export function checkResolution(resolution: number): void {
  if (!Number.isInteger(resolution) || resolution < 64 || resolution % 64 !== 0) {
    throw new UserError('invalid-argument', `The training resolution must be a multiple of 64 (64, 128, …, 512), got ${resolution}.`);
  }
}

export async function loadTrainingImage(input: string | Buffer, options: LoadImageOptions): Promise<LoadedImage> {
  const { resolution } = options;
  checkResolution(resolution);
  const name = typeof input === 'string' ? input : 'the image';
  let upright: { data: Buffer; info: { width: number; height: number } };
  try {
    // rotate() without an angle applies the EXIF orientation; the pixels are then re-read at their upright size.
    upright = await sharp(input, { failOn: 'error' }).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new UserError('corrupt-file', `${name} could not be decoded as an image (${(error as Error).message}).`);
  }
  const { width, height } = upright.info;
  const shortest = Math.min(width, height);
  if (shortest < resolution && options.small === 'skip') throw new ImageTooSmallError(name, width, height, resolution);
  const scale = resolution / shortest;
  const resizedWidth = Math.max(resolution, Math.round(width * scale));
  const resizedHeight = Math.max(resolution, Math.round(height * scale));
  const [px, py] = options.crop === 'random' ? (options.cropPosition ?? [0.5, 0.5]) : [0.5, 0.5];
  const left = options.crop === 'random' ? Math.floor(px * (resizedWidth - resolution + 1)) : Math.round((resizedWidth - resolution) / 2);
  const top = options.crop === 'random' ? Math.floor(py * (resizedHeight - resolution + 1)) : Math.round((resizedHeight - resolution) / 2);
  const { data } = await sharp(upright.data, { raw: { width, height, channels: 3 } })
    .resize(resizedWidth, resizedHeight, { kernel: 'lanczos3', fit: 'fill' })
    .extract({ left, top, width: resolution, height: resolution })
    .raw()
    .toBuffer({ resolveWithObject: true });
  // HWC uint8 → CHW float32: (x / 255 − 0.5) / 0.5.
  const plane = resolution * resolution;
  const pixels = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) pixels[c * plane + i] = Math.fround(Math.fround(Math.fround(data[i * 3 + c]! / 255) - 0.5) / 0.5);
  }
  return { pixels: { dtype: 'float32', shape: [1, 3, resolution, resolution], data: pixels }, width, height, upscaled: shortest < resolution };
}
