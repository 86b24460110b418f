// What the frozen encoders make of a dataset, computed once and kept on disk:
//
//   <cache>/<model key>/latents/<key>.safetensors    mean, std  float32 [4, R/8, R/8]
//   <cache>/<model key>/captions/<key>.safetensors   embedding  float32 [K, 77, D]
//
// An image's key is the SHA-256 of its bytes with the resolution and the crop; a caption's, of its
// text. The VAE's mean AND std are stored (not a sample), so every step draws latents = (mean + std·ε)·s
// with its own ε exactly as the official training samples latent_dist; a second epoch, a resumed run or
// another run on the same images and models reads the files instead of encoding again. Random crops
// are chosen once per image (seeded) when cached, as sd-scripts does when it caches latents.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { throwIfCancelled, UserError } from '../common/errors.ts';
import { atOnce, type JobControl, type WorkUnit } from '../common/progress.ts';
import { SafetensorsFile, writeSafetensors } from '../tensor/safetensors.ts';
import { ImageTooSmallError, loadTrainingImage, type CropMode } from '../datasets/load-training-image.ts';
import type { DatasetItem } from '../datasets/image-dataset.ts';
import type { TrainingEncoders } from './training-encoders.ts';

export interface CachedExample {
  readonly item: DatasetItem;
  /** [4, h, w] each. */
  readonly mean: Float32Array;
  readonly std: Float32Array;
  readonly latentShape: readonly number[];
  /** Key of the caption embedding (looked up in CachedDataset.captions). */
  readonly captionKey: string;
}

export interface CachedDataset {
  readonly examples: readonly CachedExample[];
  /** Caption embeddings [K, 77, D] by caption key; '' (the empty caption) is always present. */
  readonly captions: ReadonlyMap<string, Float32Array>;
  readonly captionShape: readonly number[];
  /** Images that could not be used, with why. */
  readonly skipped: readonly { readonly name: string; readonly reason: string }[];
  readonly upscaled: readonly string[];
  /** How many images and captions were encoded now (0 on a second run over the same data). */
  readonly encoded: { readonly images: number; readonly captions: number };
}

export interface CacheOptions extends JobControl {
  readonly dir: string;
  readonly resolution: number;
  readonly crop: CropMode;
  /** Seeded crop position per item (for 'random' crops). */
  readonly cropPosition?: (index: number) => readonly [number, number];
  readonly small?: 'upscale' | 'skip';
  /** The run refuses when more than this share of the images is corrupt or unreadable (default 0.1). */
  readonly maxFailedShare?: number;
  /** Runs each encoding (one image, one caption) when it may (a training run's turns); default at once. */
  readonly unit?: WorkUnit;
}

function sha256(...parts: (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

export function captionKey(caption: string): string {
  return sha256('caption\0', caption);
}

function readTensors(path: string, names: readonly string[]): Float32Array[] | undefined {
  let file: SafetensorsFile | undefined;
  try {
    file = SafetensorsFile.open(path);
    return names.map((name) => file!.get(name).read().data as Float32Array);
  } catch {
    return undefined; // a damaged cache entry is encoded again
  } finally {
    file?.close();
  }
}

/** Encodes what is not cached yet and reads the rest; reports 'cache' progress per image. */
export async function cacheDataset(items: readonly DatasetItem[], encoders: TrainingEncoders, options: CacheOptions): Promise<CachedDataset> {
  const root = join(options.dir, encoders.modelKey.slice(0, 32));
  const latentDir = join(root, 'latents');
  const captionDir = join(root, 'captions');
  mkdirSync(latentDir, { recursive: true });
  mkdirSync(captionDir, { recursive: true });
  const examples: CachedExample[] = [];
  const captions = new Map<string, Float32Array>();
  const skipped: { name: string; reason: string }[] = [];
  const corrupt: string[] = [];
  const upscaled: string[] = [];
  let encodedImages = 0;
  let encodedCaptions = 0;
  const unit = options.unit ?? atOnce;

  const caption = async (text: string): Promise<string> => {
    const key = captionKey(text);
    if (captions.has(key)) return key;
    const path = join(captionDir, `${key}.safetensors`);
    let embedding = existsSync(path) ? readTensors(path, ['embedding'])?.[0] : undefined;
    if (!embedding) {
      embedding = await unit(() => encoders.encodeCaption(text));
      writeSafetensors(path, [['embedding', { dtype: 'float32', shape: encoders.captionShape, data: embedding }]]);
      encodedCaptions++;
    }
    captions.set(key, embedding);
    return key;
  };
  await caption('');

  for (const [index, item] of items.entries()) {
    throwIfCancelled(options.signal);
    options.onProgress?.({ phase: 'cache', done: index, total: items.length, unit: 'items', message: `Encoding ${item.name}` });
    let bytes: Buffer;
    try {
      bytes = readFileSync(item.path);
    } catch (error) {
      corrupt.push(item.name);
      skipped.push({ name: item.name, reason: `unreadable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` });
      continue;
    }
    const position = options.crop === 'random' ? (options.cropPosition?.(index) ?? [0.5, 0.5]) : ([0.5, 0.5] as const);
    const key = sha256('image\0', bytes, `\0${options.resolution}\0${options.crop}\0${position.join(',')}\0${options.small ?? 'upscale'}`);
    const path = join(latentDir, `${key}.safetensors`);
    let cached = existsSync(path) ? readTensors(path, ['mean', 'std']) : undefined;
    let latentShape: readonly number[] = [];
    if (cached) {
      const file = SafetensorsFile.open(path);
      latentShape = file.get('mean').shape;
      if (file.metadata.upscaled === 'true') upscaled.push(item.name);
      file.close();
    } else {
      try {
        const image = await loadTrainingImage(bytes, { resolution: options.resolution, crop: options.crop, cropPosition: position, small: options.small });
        const distribution = await unit(() => encoders.encodeImage(image.pixels));
        cached = [distribution.mean, distribution.std];
        latentShape = distribution.shape;
        if (image.upscaled) upscaled.push(item.name);
        writeSafetensors(
          path,
          [
            ['mean', { dtype: 'float32', shape: latentShape, data: distribution.mean }],
            ['std', { dtype: 'float32', shape: latentShape, data: distribution.std }],
          ],
          { upscaled: String(image.upscaled) },
        );
        encodedImages++;
      } catch (error) {
        if (error instanceof ImageTooSmallError) {
          skipped.push({ name: item.name, reason: `${error.width}×${error.height} is smaller than ${options.resolution}` });
          continue;
        }
        if (error instanceof UserError && error.code === 'corrupt-file') {
          corrupt.push(item.name);
          skipped.push({ name: item.name, reason: 'not a readable PNG, JPEG or WebP image' });
          continue;
        }
        throw error;
      }
    }
    examples.push({ item, mean: cached[0]!, std: cached[1]!, latentShape, captionKey: await caption(item.caption) });
  }
  options.onProgress?.({ phase: 'cache', done: items.length, total: items.length, unit: 'items' });
  const maxFailedShare = options.maxFailedShare ?? 0.1;
  if (items.length > 0 && corrupt.length / items.length > maxFailedShare) {
    throw new UserError(
      'corrupt-file',
      `${corrupt.length} of ${items.length} images could not be read (more than ${Math.round(maxFailedShare * 100)} %): ${corrupt.slice(0, 10).join(', ')}${corrupt.length > 10 ? ', …' : ''}.`,
      'Remove or re-export the damaged files.',
    );
  }
  if (examples.length === 0) throw new UserError('invalid-argument', `None of the ${items.length} images can be used for training.`, skipped.slice(0, 5).map((s) => `${s.name}: ${s.reason}`).join('; '));
  return { examples, captions, captionShape: encoders.captionShape, skipped, upscaled, encoded: { images: encodedImages, captions: encodedCaptions } };
}
