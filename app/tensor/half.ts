// IEEE 754 binary16 (fp16) and bfloat16 ↔ float32, bit-exact, as torch's `.half()`, `.bfloat16()` and
// `.float()` convert: round-to-nearest-even, subnormals kept, overflow to ±inf, NaN stays NaN (quiet).
// Checkpoint import converts GBs of weights, so the bulk functions work on the raw 32-bit patterns:
// fp16 → fp32 is one lookup in a 65536-entry table (256 kB), fp32 → fp16 is integer arithmetic.

/** Float32 bit patterns of all 65536 fp16 values, indexed by the fp16 pattern. */
const HALF_TO_SINGLE_BITS = buildHalfTable();

/** The same table seen as float32 values, for scalar lookups. */
const HALF_TO_SINGLE = new Float32Array(HALF_TO_SINGLE_BITS.buffer);

function buildHalfTable(): Uint32Array {
  const table = new Uint32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = (bits & 0x8000) << 16;
    const exponent = (bits >>> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    let single: number;
    if (exponent === 0x1f) {
      // Inf and NaN: the 10 mantissa bits become the top of the 23 (torch/numpy keep the payload).
      single = 0x7f800000 | (mantissa << 13);
    } else if (exponent !== 0) {
      single = ((exponent + 112) << 23) | (mantissa << 13); // rebias 15 → 127
    } else if (mantissa === 0) {
      single = 0;
    } else {
      // Subnormal m·2^-24: normalise so that the leading 1 becomes the implicit bit.
      let shift = 0;
      let m = mantissa;
      while ((m & 0x400) === 0) {
        m <<= 1;
        shift++;
      }
      single = ((113 - shift) << 23) | ((m & 0x3ff) << 13);
    }
    table[bits] = (sign | single) >>> 0;
  }
  return table;
}

/** The fp16 pattern nearest (ties to even) to the float32 value with bit pattern `single`. */
function singleBitsToHalf(single: number): number {
  const sign = (single >>> 16) & 0x8000;
  const magnitude = single & 0x7fffffff;
  if (magnitude >= 0x7f800000) {
    // Inf stays inf; NaN keeps the top 9 payload bits and is forced quiet so it cannot turn into inf.
    return magnitude === 0x7f800000 ? sign | 0x7c00 : sign | 0x7e00 | ((magnitude >>> 13) & 0x3ff);
  }
  // 65520 = halfway between 65504 (largest fp16, odd mantissa) and 65536: ties to even give inf.
  if (magnitude >= 0x477ff000) return sign | 0x7c00;
  if (magnitude >= 0x38800000) {
    // Normal fp16 (≥ 2^-14): rebias the exponent (127 → 15, i.e. subtract 112 << 23) and round away
    // 13 mantissa bits; a carry out of the mantissa correctly bumps the exponent.
    const truncated = (magnitude - 0x38000000) >>> 13;
    const rest = magnitude & 0x1fff;
    const up = rest > 0x1000 || (rest === 0x1000 && (truncated & 1) === 1) ? 1 : 0;
    return sign | (truncated + up);
  }
  // 2^-25 is halfway between 0 and the smallest subnormal 2^-24 and rounds to even (0).
  if (magnitude <= 0x33000000) return sign;
  // Subnormal fp16: value = significand · 2^(exponent − 150); in units of 2^-24 that is
  // significand >> (126 − exponent), rounded to nearest even. A result of 0x400 is the smallest normal.
  const exponent = magnitude >>> 23;
  const significand = (magnitude & 0x7fffff) | 0x800000;
  const shift = 126 - exponent;
  const truncated = significand >>> shift;
  const rest = significand & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  const up = rest > halfway || (rest === halfway && (truncated & 1) === 1) ? 1 : 0;
  return sign | (truncated + up);
}

/** The bfloat16 pattern nearest (ties to even) to the float32 value with bit pattern `single`. */
function singleBitsToBfloat(single: number): number {
  if ((single & 0x7fffffff) > 0x7f800000) return ((single >>> 16) | 0x40) & 0xffff; // quiet NaN, sign kept
  // Adding 0x7fff plus the lowest kept bit rounds to nearest even; a carry may reach the exponent
  // (and turn the largest finite values into inf), which is the correct rounding.
  return ((single + 0x7fff + ((single >>> 16) & 1)) >>> 16) & 0xffff;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** fp16 bit pattern → number (exact). */
export function halfToFloat(bits: number): number {
  return HALF_TO_SINGLE[bits & 0xffff]!;
}

/** Number → fp16 bit pattern. The number is first rounded to float32, as a float32 tensor's `.half()` sees it. */
export function floatToHalf(value: number): number {
  scratch[0] = value;
  return singleBitsToHalf(scratchBits[0]!);
}

/** bfloat16 bit pattern → number (exact). */
export function bfloat16ToFloat(bits: number): number {
  scratchBits[0] = (bits & 0xffff) << 16;
  return scratch[0]!;
}

/** Number → bfloat16 bit pattern. The number is first rounded to float32. */
export function floatToBfloat16(value: number): number {
  scratch[0] = value;
  return singleBitsToBfloat(scratchBits[0]!);
}

function checkOutput(name: string, inputLength: number, outputLength: number): void {
  if (inputLength !== outputLength) throw new Error(`${name}: output has ${outputLength} elements for ${inputLength} inputs`);
}

/** fp16 patterns → float32 values (bit-exact, NaN payloads kept). `out` may be given to avoid allocation. */
export function halfToFloat32Array(half: Uint16Array, out = new Float32Array(half.length)): Float32Array {
  checkOutput('halfToFloat32Array', half.length, out.length);
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < half.length; i++) bits[i] = HALF_TO_SINGLE_BITS[half[i]!]!;
  return out;
}

/** float32 values → fp16 patterns, round-to-nearest-even. */
export function float32ToHalfArray(single: Float32Array, out = new Uint16Array(single.length)): Uint16Array {
  checkOutput('float32ToHalfArray', single.length, out.length);
  const bits = new Uint32Array(single.buffer, single.byteOffset, single.length);
  for (let i = 0; i < bits.length; i++) out[i] = singleBitsToHalf(bits[i]!);
  return out;
}

/** bfloat16 patterns → float32 values (exact: bfloat16 is the top half of a float32). */
export function bfloat16ToFloat32Array(bfloat: Uint16Array, out = new Float32Array(bfloat.length)): Float32Array {
  checkOutput('bfloat16ToFloat32Array', bfloat.length, out.length);
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bfloat.length; i++) bits[i] = bfloat[i]! << 16;
  return out;
}

/** float32 values → bfloat16 patterns, round-to-nearest-even. */
export function float32ToBfloat16Array(single: Float32Array, out = new Uint16Array(single.length)): Uint16Array {
  checkOutput('float32ToBfloat16Array', single.length, out.length);
  const bits = new Uint32Array(single.buffer, single.byteOffset, single.length);
  for (let i = 0; i < bits.length; i++) out[i] = singleBitsToBfloat(bits[i]!);
  return out;
}
