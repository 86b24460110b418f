// float32 exp exactly as PyTorch computes it on x86-64 CPUs: torch's vectorized exp kernel calls SLEEF's
// expf with 1.0-ULP accuracy (Sleef_expf8_u10 / Sleef_expf16_u10, built with FMA). It is not always the
// correctly rounded result (for the SD1.5 time embedding, 16 of the 160 frequencies differ by one ulp).
// The sinusoidal time embedding multiplies these frequencies by timesteps up to 999, so a one-ulp
// difference in a frequency moves the embedding by up to ~1e-4; matching SLEEF bit for bit makes the
// frequency table identical to diffusers'. Algorithm: SLEEF 3.x `xexpf` (Cody–Waite reduction by ln 2,
// degree-6 polynomial, scale by 2^q), each `mla` a fused multiply-add.
import { roundHalfEven } from '../common/round-half-even.ts';

const R_LN2 = Math.fround(1.442695040888963407359924681001892137426645954152985934135449406931);
const L2U = Math.fround(0.693145751953125);
const L2L = Math.fround(1.428606765330187045e-6);
const COEFFICIENTS = [
  0.000198527617612853646278381, 0.00139304355252534151077271, 0.00833336077630519866943359, 0.0416664853692054748535156,
  0.166666671633720397949219, 0.5,
].map(Math.fround);

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** The float32 next to `value` (a float32) in the direction of `toward`. */
function nextFloat32(value: number, toward: number): number {
  if (value === toward) return value;
  if (value === 0) return toward > 0 ? 2 ** -149 : -(2 ** -149);
  scratch[0] = value;
  scratchBits[0] += (toward > value) === (value > 0) ? 1 : -1;
  return scratch[0];
}

/** fl32(a·b + c) rounded once, as an FMA instruction does, for float32 a, b, c. */
export function fmaFloat32(a: number, b: number, c: number): number {
  const product = a * b; // exact: two 24-bit significands fit in a double's 53 bits
  const sum = product + c;
  // TwoSum: product + c == sum + error exactly.
  const virtual = sum - product;
  const error = product - (sum - virtual) + (c - virtual);
  const rounded = Math.fround(sum);
  if (rounded === sum || error === 0) return rounded;
  // Rounding `sum` to float32 is wrong only when `sum` sits exactly halfway between two float32s and the
  // discarded error decides the direction.
  const other = nextFloat32(rounded, sum);
  if (Math.abs(sum - rounded) !== Math.abs(other - sum)) return rounded;
  const up = Math.max(rounded, other);
  const down = Math.min(rounded, other);
  return error > 0 ? up : down;
}

/** torch.exp of a float32 `x` on the CPU (SLEEF expf_u10); returns a float32 value. */
export function torchExpFloat32(x: number): number {
  const d = Math.fround(x);
  if (d < -104) return 0;
  if (d > 1e38) return Infinity;
  const q = roundHalfEven(Math.fround(d * R_LN2));
  let s = fmaFloat32(q, -L2U, d);
  s = fmaFloat32(q, -L2L, s);
  let u = COEFFICIENTS[0];
  for (let i = 1; i < COEFFICIENTS.length; i++) u = fmaFloat32(u, s, COEFFICIENTS[i]);
  u = Math.fround(1 + fmaFloat32(Math.fround(s * s), u, s));
  return Math.fround(u * 2 ** q);
}
