// From the VAE's float image to 8-bit pixels, as diffusers does it: VaeImageProcessor.postprocess maps
// the decoder output x ∈ ~[-1, 1] to (x / 2 + 0.5).clamp(0, 1) (NHWC), and numpy_to_pil takes
// (image * 255).round().astype('uint8') — numpy's round, which rounds halves to even.
import { UserError } from '../common/errors.ts';
import { roundHalfEven } from '../common/round-half-even.ts';
import { inSlices, pixelsPerSlice } from '../common/slices.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { PixelImage } from './png.ts';

export interface TensorImageLayout {
  /** 'nchw': [1, 3, H, W] as the VAE decoder returns it; 'nhwc': [1, H, W, 3] as diffusers' pipelines do. */
  readonly layout: 'nchw' | 'nhwc';
  /** 'signed': the decoder's ~[-1, 1]; 'unit': already mapped to [0, 1]. */
  readonly range: 'signed' | 'unit';
}

interface Conversion {
  readonly image: PixelImage;
  /** Converts pixels [from, to). */
  readonly convert: (from: number, to: number) => void;
  readonly pixels: number;
}

function conversion(image: Tensor<'float32'>, { layout, range }: TensorImageLayout): Conversion {
  const shape = image.shape;
  const channelsAt = layout === 'nchw' ? 1 : 3;
  if (shape.length !== 4 || shape[0] !== 1 || shape[channelsAt] !== 3) {
    throw new UserError('invalid-argument', `Expected one RGB image as [1, ${layout === 'nchw' ? '3, H, W' : 'H, W, 3'}], got [${shape.join(', ')}].`);
  }
  const height = layout === 'nchw' ? shape[2] : shape[1];
  const width = layout === 'nchw' ? shape[3] : shape[2];
  const plane = width * height;
  const out = new Uint8Array(plane * 3);
  const convert = (from: number, to: number) => {
    for (let p = from; p < to; p++) {
      for (let c = 0; c < 3; c++) {
        const raw = layout === 'nchw' ? image.data[c * plane + p] : image.data[p * 3 + c];
        // Float32 math, as torch does the mapping in float32 before numpy sees the values.
        const unit = range === 'signed' ? Math.fround(Math.fround(raw / 2) + 0.5) : raw;
        const clamped = Math.min(1, Math.max(0, Number.isNaN(unit) ? 0 : unit));
        out[p * 3 + c] = roundHalfEven(Math.fround(clamped * 255));
      }
    }
  };
  return { image: { width, height, channels: 3, data: out }, convert, pixels: plane };
}

/** One image of a float32 batch of one, as 8-bit RGB. */
export function pixelsFromTensor(image: Tensor<'float32'>, layout: TensorImageLayout): PixelImage {
  const job = conversion(image, layout);
  job.convert(0, job.pixels);
  return job.image;
}

/** pixelsFromTensor in slices between turns of the event loop (app/common/slices.ts); the same pixels. */
export async function pixelsFromTensorInSlices(image: Tensor<'float32'>, layout: TensorImageLayout): Promise<PixelImage> {
  const job = conversion(image, layout);
  await inSlices(job.pixels, pixelsPerSlice, job.convert);
  return job.image;
}
