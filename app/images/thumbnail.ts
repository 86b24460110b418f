// Thumbnails: the image shrunk so its longest side is 256 px, by area averaging — each output pixel
// is the mean of the source area it covers, with fractional weights at the edges (the "box"/"area"
// filter of PIL's Image.reduce and OpenCV's INTER_AREA). Point sampling would alias fine detail.
import { inSlices, pixelsPerSlice } from '../common/slices.ts';
import { encodePng, encodePngInSlices, type PixelImage } from './png.ts';

export const THUMBNAIL_SIZE = 256;

interface Taps {
  readonly first: Int32Array; // first source index per output index
  readonly count: Int32Array; // number of source indices per output index
  readonly weights: Float32Array[]; // weight of each source index; they sum to 1
}

// Output index i covers source interval [i·scale, (i+1)·scale); source pixel j covers [j, j+1).
function areaTaps(source: number, target: number): Taps {
  const scale = source / target;
  const first = new Int32Array(target);
  const count = new Int32Array(target);
  const weights: Float32Array[] = [];
  for (let i = 0; i < target; i++) {
    const start = i * scale;
    const end = Math.min(source, (i + 1) * scale);
    const j0 = Math.floor(start);
    const j1 = Math.min(source, Math.ceil(end));
    const taps = new Float32Array(j1 - j0);
    for (let j = j0; j < j1; j++) taps[j - j0] = (Math.min(end, j + 1) - Math.max(start, j)) / (end - start);
    first[i] = j0;
    count[i] = j1 - j0;
    weights.push(taps);
  }
  return { first, count, weights };
}

export function thumbnailSize(width: number, height: number, maxSide = THUMBNAIL_SIZE): { width: number; height: number } {
  const longest = Math.max(width, height);
  if (longest <= maxSide) return { width, height };
  const scale = maxSide / longest;
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** The three passes of a thumbnail, each over a range of its rows (or pixels), and the result. */
interface ThumbnailPasses {
  readonly premultiply: { readonly count: number; readonly run: (from: number, to: number) => void };
  readonly horizontal: { readonly count: number; readonly run: (from: number, to: number) => void };
  readonly vertical: { readonly count: number; readonly run: (from: number, to: number) => void };
  readonly result: PixelImage;
}

function thumbnailPasses(image: PixelImage, maxSide: number): ThumbnailPasses {
  const { width: outWidth, height: outHeight } = thumbnailSize(image.width, image.height, maxSide);
  const channels = image.channels;
  const hasAlpha = channels === 4;
  let opaque = true;
  if (hasAlpha) for (let i = 3; i < image.data.length; i += 4) if (image.data[i] !== 255) { opaque = false; break; }

  // Premultiplied float copy, [height, width, 4] (alpha 255 for RGB input).
  const source = new Float32Array(image.width * image.height * 4);
  const premultiply = (from: number, to: number) => {
    for (let p = from, q = from * channels; p < to; p++, q += channels) {
      const alpha = hasAlpha ? image.data[q + 3] / 255 : 1;
      source[p * 4] = image.data[q] * alpha;
      source[p * 4 + 1] = image.data[q + 1] * alpha;
      source[p * 4 + 2] = image.data[q + 2] * alpha;
      source[p * 4 + 3] = alpha * 255;
    }
  };

  // Horizontal pass: [height, outWidth, 4].
  const horizontal = areaTaps(image.width, outWidth);
  const rows = new Float32Array(image.height * outWidth * 4);
  const horizontalRows = (from: number, to: number) => {
    for (let y = from; y < to; y++) {
      for (let x = 0; x < outWidth; x++) {
        const taps = horizontal.weights[x];
        const base = (y * image.width + horizontal.first[x]) * 4;
        let r = 0, g = 0, b = 0, a = 0;
        for (let k = 0; k < horizontal.count[x]; k++) {
          const w = taps[k];
          r += source[base + k * 4] * w;
          g += source[base + k * 4 + 1] * w;
          b += source[base + k * 4 + 2] * w;
          a += source[base + k * 4 + 3] * w;
        }
        const o = (y * outWidth + x) * 4;
        rows[o] = r;
        rows[o + 1] = g;
        rows[o + 2] = b;
        rows[o + 3] = a;
      }
    }
  };

  // Vertical pass and un-premultiply into 8-bit.
  const vertical = areaTaps(image.height, outHeight);
  const outChannels = opaque ? 3 : 4;
  const out = new Uint8Array(outWidth * outHeight * outChannels);
  const verticalRows = (from: number, to: number) => {
    for (let y = from; y < to; y++) {
      const taps = vertical.weights[y];
      for (let x = 0; x < outWidth; x++) {
        let r = 0, g = 0, b = 0, a = 0;
        for (let k = 0; k < vertical.count[y]; k++) {
          const w = taps[k];
          const i = ((vertical.first[y] + k) * outWidth + x) * 4;
          r += rows[i] * w;
          g += rows[i + 1] * w;
          b += rows[i + 2] * w;
          a += rows[i + 3] * w;
        }
        const o = (y * outWidth + x) * outChannels;
        const unpremultiply = a > 0 ? 255 / a : 0;
        out[o] = Math.min(255, Math.round(r * unpremultiply));
        out[o + 1] = Math.min(255, Math.round(g * unpremultiply));
        out[o + 2] = Math.min(255, Math.round(b * unpremultiply));
        if (!opaque) out[o + 3] = Math.round(a);
      }
    }
  };
  return {
    premultiply: { count: image.width * image.height, run: premultiply },
    horizontal: { count: image.height, run: horizontalRows },
    vertical: { count: outHeight, run: verticalRows },
    result: { width: outWidth, height: outHeight, channels: outChannels, data: out },
  };
}

/**
 * Shrinks `image` to at most `maxSide` px on its longest side (never enlarges). Colour is averaged
 * with alpha premultiplied, so transparent pixels do not bleed their colour; the result is RGB when
 * the source is fully opaque.
 */
export function makeThumbnail(image: PixelImage, maxSide = THUMBNAIL_SIZE): PixelImage {
  const passes = thumbnailPasses(image, maxSide);
  for (const pass of [passes.premultiply, passes.horizontal, passes.vertical]) pass.run(0, pass.count);
  return passes.result;
}

/** thumbnailPng in slices between turns of the event loop (app/common/slices.ts); the same bytes. */
export async function thumbnailPngInSlices(image: PixelImage, maxSide = THUMBNAIL_SIZE): Promise<Uint8Array> {
  const passes = thumbnailPasses(image, maxSide);
  await inSlices(passes.premultiply.count, pixelsPerSlice, passes.premultiply.run);
  // A horizontal row reads the whole source row; a vertical row reads the columns of a few source rows.
  await inSlices(passes.horizontal.count, pixelsPerSlice / image.width, passes.horizontal.run);
  await inSlices(passes.vertical.count, pixelsPerSlice / image.width, passes.vertical.run);
  return encodePngInSlices(passes.result);
}

/** The thumbnail of `image` as PNG bytes. */
export function thumbnailPng(image: PixelImage, maxSide = THUMBNAIL_SIZE): Uint8Array {
  return encodePng(makeThumbnail(image, maxSide));
}
