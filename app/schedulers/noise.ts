// The studio's own Gaussian noise: the same seed gives bit-identical latents on every machine, and the
// noise a stochastic sampler draws at step i does not depend on how many numbers were drawn before it.
// (Bit-compatibility with torch's CPU generator is not a goal; golden tests pass diffusers' noise in.)
//
// Algorithm, precisely enough to reimplement in any language:
//
// 1. Generator: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11;
//    Random123's philox4x32 with R = 10). Key (k0, k1) = the seed as a 64-bit unsigned integer,
//    k0 = low 32 bits, k1 = high 32 bits. Counter (c0, c1, c2, c3) = (block low 32 bits, block high 32
//    bits, stream, 0). One round: (hi0, lo0) = 0xD2511F53 · c0, (hi1, lo1) = 0xCD9E8D57 · c2 (full 64-bit
//    products), c ← (hi1 ⊕ c1 ⊕ k0, lo1, hi0 ⊕ c3 ⊕ k1, lo0); the key is bumped by (0x9E3779B9, 0xBB67AE85)
//    (mod 2^32) before every round but the first. Known-answer vectors: see test/schedulers/noise.test.ts.
// 2. Block b (0, 1, 2, ...) of a stream yields words (w0, w1, w2, w3) and two normals via Box–Muller in
//    IEEE float64: a = w0·2^21 + ⌊w1 / 2^11⌋ and c = w2·2^21 + ⌊w3 / 2^11⌋ (53-bit integers),
//    u = (a + 1) / 2^53 ∈ (0, 1], θ = (2π) · (c / 2^53) with 2π = 6.283185307179586,
//    r = sqrt(−2 · ln u), z0 = r · cos θ, z1 = r · sin θ.
// 3. Element 2b of the (row-major) tensor is z0 of block b, element 2b + 1 is z1; each is rounded to
//    the nearest float32 (ties to even). An odd-sized tensor drops the last z1.
// 4. Streams: stream 0 holds a generation's initial latents; stream i + 1 holds the noise a
//    stochastic sampler (Euler ancestral, DDIM with η > 0) adds at step i (0-based index in timesteps).
//
// ln, cos and sin are V8's (fdlibm ports, identical on every platform Node and Electron run on), so
// results are bit-identical across machines. Another libm may differ in the last float64 bit, which
// survives the float32 rounding only in rare ties.
import { UserError } from '../common/errors.ts';
import { sizeOf, type Tensor } from '../tensor/tensor.ts';

/** A seed: a non-negative safe integer, or a bigint below 2^64. */
export type Seed = number | bigint;

/** The stream of a generation's initial latents. */
export const LATENT_STREAM = 0;

/** The stream a stochastic sampler draws from at step `stepIndex` (0-based). */
export function stepStream(stepIndex: number): number {
  return stepIndex + 1;
}

const MULTIPLIER_0 = 0xd2511f53;
const MULTIPLIER_1 = 0xcd9e8d57;
const WEYL_0 = 0x9e3779b9;
const WEYL_1 = 0xbb67ae85;
const TWO_POW_32 = 2 ** 32;
const TWO_POW_21 = 2 ** 21;
const TWO_POW_MINUS_53 = 2 ** -53;
const TWO_PI = 6.283185307179586;

/** High 32 bits of the 64-bit product of two uint32 values, from 16-bit halves (exact in float64). */
function multiplyHigh(a: number, b: number): number {
  const aLow = a & 0xffff;
  const aHigh = a >>> 16;
  const bLow = b & 0xffff;
  const bHigh = b >>> 16;
  const lowLow = aLow * bLow;
  const highLow = aHigh * bLow;
  const lowHigh = aLow * bHigh;
  const middle = (lowLow >>> 16) + (highLow & 0xffff) + (lowHigh & 0xffff);
  return (aHigh * bHigh + (highLow >>> 16) + (lowHigh >>> 16) + Math.floor(middle / 65536)) >>> 0;
}

/**
 * Philox4x32-10 of one counter under one key, written into `out` (4 uint32 words).
 * Exposed for the known-answer tests; use `randn` for noise.
 */
export function philox4x32(counter: readonly number[], key: readonly number[], out: Uint32Array = new Uint32Array(4)): Uint32Array {
  let c0 = counter[0]! >>> 0;
  let c1 = counter[1]! >>> 0;
  let c2 = counter[2]! >>> 0;
  let c3 = counter[3]! >>> 0;
  let k0 = key[0]! >>> 0;
  let k1 = key[1]! >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + WEYL_0) >>> 0;
      k1 = (k1 + WEYL_1) >>> 0;
    }
    const high0 = multiplyHigh(MULTIPLIER_0, c0);
    const low0 = Math.imul(MULTIPLIER_0, c0) >>> 0;
    const high1 = multiplyHigh(MULTIPLIER_1, c2);
    const low1 = Math.imul(MULTIPLIER_1, c2) >>> 0;
    c0 = (high1 ^ c1 ^ k0) >>> 0;
    c1 = low1;
    c2 = (high0 ^ c3 ^ k1) >>> 0;
    c3 = low0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

/** The seed as Philox key words [low 32 bits, high 32 bits]; throws UserError for an invalid seed. */
export function seedKey(seed: Seed): [number, number] {
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed >= 1n << 64n) {
      throw new UserError('invalid-argument', `Seed ${seed} is out of range.`, 'Use a whole number from 0 to 2^64 − 1.');
    }
    return [Number(seed & 0xffffffffn), Number(seed >> 32n)];
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new UserError('invalid-argument', `Seed ${seed} is not a whole number from 0 to 2^53 − 1.`, 'Pick a non-negative whole number.');
  }
  return [seed % TWO_POW_32, Math.floor(seed / TWO_POW_32)];
}

function checkStream(stream: number): void {
  if (!Number.isInteger(stream) || stream < 0 || stream >= TWO_POW_32) {
    throw new UserError('invalid-argument', `Noise stream ${stream} is not a whole number from 0 to 2^32 − 1.`);
  }
}

/** Fills `out` with standard normals of stream `stream` under `seed`, starting at element 0. */
export function fillStandardNormal(out: Float32Array, seed: Seed, stream: number = LATENT_STREAM): Float32Array {
  checkStream(stream);
  const key = seedKey(seed);
  const counter = [0, 0, stream, 0];
  const words = new Uint32Array(4);
  for (let index = 0, block = 0; index < out.length; index += 2, block++) {
    counter[0] = block % TWO_POW_32;
    counter[1] = Math.floor(block / TWO_POW_32);
    philox4x32(counter, key, words);
    const a = words[0]! * TWO_POW_21 + (words[1]! >>> 11);
    const c = words[2]! * TWO_POW_21 + (words[3]! >>> 11);
    const radius = Math.sqrt(-2 * Math.log((a + 1) * TWO_POW_MINUS_53));
    const angle = TWO_PI * (c * TWO_POW_MINUS_53);
    out[index] = radius * Math.cos(angle);
    if (index + 1 < out.length) out[index + 1] = radius * Math.sin(angle);
  }
  return out;
}

/** Standard normal float32 noise of `shape` from stream `stream` of `seed` (algorithm in the header). */
export function randn(shape: readonly number[], seed: Seed, stream: number = LATENT_STREAM): Tensor<'float32'> {
  const data = fillStandardNormal(new Float32Array(sizeOf(shape)), seed, stream);
  return { dtype: 'float32', shape: [...shape], data };
}

/** A generation's initial latent noise (stream 0): same seed ⇒ same latents, bit for bit. */
export function gaussianNoise(shape: readonly number[], seed: Seed): Tensor<'float32'> {
  return randn(shape, seed, LATENT_STREAM);
}

/** The noise a stochastic sampler adds at step `stepIndex` of a generation seeded with `seed`. */
export function stepNoise(shape: readonly number[], seed: Seed, stepIndex: number): Tensor<'float32'> {
  if (!Number.isInteger(stepIndex) || stepIndex < 0) {
    throw new UserError('invalid-argument', `Step index ${stepIndex} is not a non-negative whole number.`);
  }
  return randn(shape, seed, stepStream(stepIndex));
}
