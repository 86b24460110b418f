// A stand-in for what a tiny diffusion model does to a demo scene — soft edges, grain, a colour cast —
// so the scene checker's robustness can be measured before any model exists: a Gaussian blur, a
// per-channel gain and offset, and Gaussian noise, all seeded.
import { UserError } from '../common/errors.ts';
import { SceneRandom } from './scenes.ts';

export interface Degradation {
  /** Blur standard deviation in pixels of a 64-pixel image (scaled with the image). */
  readonly blur: number;
  /** Noise standard deviation in 8-bit levels. */
  readonly noise: number;
  /** Largest per-channel offset in 8-bit levels (uniform in ±shift). */
  readonly shift: number;
  /** Largest per-channel relative gain change (uniform in 1 ± gain). */
  readonly gain: number;
}

/** The degradation the checker's accuracy is reported on. */
export const DEFAULT_DEGRADATION: Degradation = Object.freeze({ blur: 1, noise: 8, shift: 10, gain: 0.05 });

/** A degraded copy of an RGB image (HWC, `size`² × 3 bytes), deterministic in `seed`. */
export function degradeImage(image: Uint8Array, size: number, seed: number, degradation: Degradation = DEFAULT_DEGRADATION): Uint8Array {
  if (image.length !== size * size * 3) throw new UserError('invalid-argument', `A ${size}×${size} RGB image has ${size * size * 3} bytes, got ${image.length}.`);
  const random = new SceneRandom([seed, 7001]);
  const sigma = degradation.blur * (size / 64);
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, k) => (sigma > 0 ? Math.exp(-((k - radius) ** 2) / (2 * sigma * sigma)) : k === radius ? 1 : 0));
  const sum = kernel.reduce((a, b) => a + b, 0);
  for (let k = 0; k < kernel.length; k++) kernel[k]! /= sum;
  const clampIndex = (v: number) => Math.min(size - 1, Math.max(0, v));
  // Separable blur: rows, then columns, with edges replicated.
  const across = new Float32Array(image.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let k = -radius; k <= radius; k++) v += kernel[k + radius]! * image[(y * size + clampIndex(x + k)) * 3 + c]!;
        across[(y * size + x) * 3 + c] = v;
      }
    }
  }
  const gains = [0, 1, 2].map(() => 1 + (random.float() * 2 - 1) * degradation.gain);
  const offsets = [0, 1, 2].map(() => (random.float() * 2 - 1) * degradation.shift);
  // Box–Muller gives two independent normals per pair of uniforms: both are used.
  let spare: number | undefined;
  const normal = (): number => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - random.float()));
    const angle = 2 * Math.PI * random.float();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
  const out = new Uint8Array(image.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let k = -radius; k <= radius; k++) v += kernel[k + radius]! * across[(clampIndex(y + k) * size + x) * 3 + c]!;
        v = v * gains[c]! + offsets[c]! + normal() * degradation.noise;
        out[(y * size + x) * 3 + c] = Math.min(255, Math.max(0, Math.round(v)));
      }
    }
  }
  return out;
}
