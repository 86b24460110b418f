// Every random draw of a training run comes from a stream keyed by (seed, purpose, step): the data
// order of an epoch, step s's VAE sample noise, target noise, timesteps and caption dropout. Nothing
// depends on how many numbers were drawn before, so a run resumed at step s draws exactly what an
// uninterrupted run draws there (the usual cause of resumed runs diverging in other trainers: one
// global generator whose state was not saved).
//
// The generator is the studio's Philox4x32-10 (app/schedulers/noise.ts): Gaussian draws are its
// fillStandardNormal on stream `purpose + 8·index`; uniform integers read the words of blocks of the
// same streams directly.
import { fillStandardNormal, philox4x32, seedKey, type Seed } from '../schedulers/noise.ts';

export const RANDOM_PURPOSES = Object.freeze({
  /** Index: the epoch. */
  dataOrder: 0,
  /** Index: the step. */
  latentSample: 1,
  targetNoise: 2,
  timesteps: 3,
  captionDropout: 4,
  /** Index 0: the validation split; index 1: validation noise; index 2: validation latent samples. */
  validation: 5,
  crop: 6,
});

const PURPOSES = 8;
const TWO_POW_32 = 2 ** 32;

function streamOf(purpose: number, index: number): number {
  const stream = purpose + PURPOSES * index;
  if (!Number.isSafeInteger(stream) || stream >= TWO_POW_32) throw new RangeError(`random stream index ${index} is too large`);
  return stream;
}

export class TrainingRandom {
  readonly #seed: Seed;
  readonly #key: [number, number];

  constructor(seed: Seed) {
    this.#seed = seed;
    this.#key = seedKey(seed);
  }

  /** Standard normals (float32) of (purpose, index). */
  normal(purpose: number, index: number, length: number): Float32Array {
    return fillStandardNormal(new Float32Array(length), this.#seed, streamOf(purpose, index));
  }

  /** `count` uniform numbers in [0, 1) (53-bit) of (purpose, index). */
  uniform(purpose: number, index: number, count: number): number[] {
    const out: number[] = [];
    const words = new Uint32Array(4);
    const stream = streamOf(purpose, index);
    for (let block = 0; out.length < count; block++) {
      philox4x32([block, 0, stream, 0], this.#key, words);
      out.push((words[0]! * 2 ** 21 + (words[1]! >>> 11)) * 2 ** -53);
      if (out.length < count) out.push((words[2]! * 2 ** 21 + (words[3]! >>> 11)) * 2 ** -53);
    }
    return out;
  }

  /** `count` integers uniform in [0, n). */
  integers(purpose: number, index: number, count: number, n: number): number[] {
    return this.uniform(purpose, index, count).map((u) => Math.floor(u * n));
  }

  /** A permutation of 0 … n−1 (Fisher–Yates driven by the stream). */
  permutation(purpose: number, index: number, n: number): number[] {
    const order = Array.from({ length: n }, (_, i) => i);
    const draws = this.uniform(purpose, index, Math.max(0, n - 1));
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(draws[n - 1 - i]! * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  }
}
