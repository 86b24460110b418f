import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bfloat16ToFloat,
  bfloat16ToFloat32Array,
  float32ToBfloat16Array,
  float32ToHalfArray,
  floatToBfloat16,
  floatToHalf,
  halfToFloat,
  halfToFloat32Array,
} from '../../app/tensor/half.ts';
import { castFloat, toFloat32 } from '../../app/tensor/cast.ts';
import { tensor } from '../../app/tensor/tensor.ts';

// Independent reference: the value of an fp16 pattern straight from the IEEE 754 definition.
function referenceHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

// Every finite non-negative fp16 value, ascending (patterns 0x0000..0x7bff are ascending in value).
const POSITIVE_HALVES = Array.from({ length: 0x7c00 }, (_, bits) => referenceHalf(bits));

/** Reference rounding of a finite double to fp16 by searching the value table: nearest, ties to even. */
function referenceToHalf(value: number): number {
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  // Beyond 65504 the next step would be 65536 (exponent 16): from the midpoint 65520 on, inf.
  if (magnitude >= 65520) return sign | 0x7c00;
  let low = 0;
  let high = POSITIVE_HALVES.length - 1;
  while (high - low > 1) {
    const middle = (low + high) >> 1;
    if (POSITIVE_HALVES[middle]! <= magnitude) low = middle;
    else high = middle;
  }
  if (POSITIVE_HALVES[high]! <= magnitude) low = high;
  if (POSITIVE_HALVES[low] === magnitude || low === POSITIVE_HALVES.length - 1) return sign | low;
  const below = magnitude - POSITIVE_HALVES[low]!;
  const above = POSITIVE_HALVES[low + 1]! - magnitude;
  if (below < above) return sign | low;
  if (above < below) return sign | (low + 1);
  return sign | (low % 2 === 0 ? low : low + 1);
}

function float32FromBits(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0]!;
}

/** A deterministic stream of 32-bit patterns (xorshift32). */
function* randomBits(count: number, seed = 0x9e3779b9): Generator<number> {
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    yield state;
  }
}

test('all 65536 fp16 patterns decode to their IEEE value and encode back to themselves', () => {
  const patterns = Uint16Array.from({ length: 65536 }, (_, bits) => bits);
  const decoded = halfToFloat32Array(patterns);
  const encoded = float32ToHalfArray(decoded);
  for (let bits = 0; bits < 65536; bits++) {
    const expected = referenceHalf(bits);
    const value = decoded[bits]!;
    if (Number.isNaN(expected)) {
      assert.ok(Number.isNaN(value), `0x${bits.toString(16)} should be NaN`);
      assert.ok(Number.isNaN(halfToFloat(encoded[bits]!)), `NaN 0x${bits.toString(16)} stays NaN`);
      assert.equal(encoded[bits]! & 0x8000, bits & 0x8000, 'NaN keeps its sign');
      continue;
    }
    assert.ok(Object.is(value, expected), `0x${bits.toString(16)}: ${value} vs ${expected}`);
    assert.ok(Object.is(halfToFloat(bits), expected));
    assert.equal(encoded[bits], bits, `0x${bits.toString(16)} round trip`);
    assert.equal(floatToHalf(expected), bits);
  }
});

test('values halfway between two fp16 values round to the even one, and a float32 ulp off decides', () => {
  const ties: number[] = [];
  const expectations: number[] = [];
  for (let bits = 0; bits < 0x7bff; bits++) {
    const low = referenceHalf(bits);
    const high = referenceHalf(bits + 1);
    const middle = (low + high) / 2; // needs 12 significant bits: exact in float32
    assert.equal(Math.fround(middle), middle);
    const even = bits % 2 === 0 ? bits : bits + 1;
    const step = Math.abs(middle) * 2 ** -23 || 2 ** -149;
    const below = Math.fround(middle - step);
    const above = Math.fround(middle + step);
    for (const sign of [1, -1]) {
      const signBit = sign < 0 ? 0x8000 : 0;
      ties.push(sign * middle, sign * below, sign * above);
      expectations.push(signBit | even, signBit | (below < middle ? bits : even), signBit | (above > middle ? bits + 1 : even));
    }
  }
  const encoded = float32ToHalfArray(Float32Array.from(ties));
  for (let i = 0; i < ties.length; i++) {
    assert.equal(encoded[i], expectations[i], `${ties[i]} → 0x${encoded[i]!.toString(16)}, expected 0x${expectations[i]!.toString(16)}`);
  }
  // Around the top of the range: 65504 is the largest finite fp16, 65520 the midpoint to inf.
  assert.equal(floatToHalf(65519.99), 0x7bff);
  assert.equal(floatToHalf(65520), 0x7c00);
  assert.equal(floatToHalf(-65520), 0xfc00);
  assert.equal(floatToHalf(1e10), 0x7c00);
  // Around zero: 2^-25 ties to 0, just above rounds to the smallest subnormal.
  assert.equal(floatToHalf(2 ** -25), 0);
  assert.equal(floatToHalf(-(2 ** -25)), 0x8000);
  assert.equal(floatToHalf(Math.fround(2 ** -25 * (1 + 2 ** -23))), 1);
  assert.equal(floatToHalf(2 ** -149), 0);
  assert.equal(floatToHalf(Infinity), 0x7c00);
  assert.equal(floatToHalf(-Infinity), 0xfc00);
  assert.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
});

test('a million random float32 patterns round to fp16 like the reference search', () => {
  const input = new Float32Array(1 << 20);
  const bits = new Uint32Array(input.buffer);
  let i = 0;
  for (const pattern of randomBits(input.length)) {
    // Concentrate on exponents near the fp16 range (including subnormal and overflow) but keep some of everything.
    bits[i] = i % 4 === 0 ? pattern : (pattern & 0x807fffff) | ((((pattern >>> 23) & 0xff) % 48) + 96) << 23;
    i++;
  }
  const output = float32ToHalfArray(input);
  for (let j = 0; j < input.length; j++) {
    const value = input[j]!;
    if (Number.isNaN(value)) {
      assert.ok(Number.isNaN(halfToFloat(output[j]!)));
      continue;
    }
    const expected = referenceToHalf(value);
    if (output[j] !== expected) assert.fail(`${value} (0x${bits[j]!.toString(16)}) → 0x${output[j]!.toString(16)}, expected 0x${expected.toString(16)}`);
  }
});

test('all 65536 bfloat16 patterns round-trip and random float32 values round to nearest even', () => {
  const patterns = Uint16Array.from({ length: 65536 }, (_, bits) => bits);
  const decoded = bfloat16ToFloat32Array(patterns);
  const encoded = float32ToBfloat16Array(decoded);
  for (let bits = 0; bits < 65536; bits++) {
    const expected = float32FromBits(bits << 16);
    if (Number.isNaN(expected)) {
      assert.ok(Number.isNaN(bfloat16ToFloat(encoded[bits]!)), `NaN 0x${bits.toString(16)} stays NaN`);
      continue;
    }
    assert.ok(Object.is(decoded[bits], expected));
    assert.ok(Object.is(bfloat16ToFloat(bits), expected));
    assert.equal(encoded[bits], bits);
  }

  const input = new Float32Array(1 << 18);
  const inputBits = new Uint32Array(input.buffer);
  let i = 0;
  for (const pattern of randomBits(input.length, 12345)) inputBits[i++] = i % 3 === 0 ? (pattern & 0xffff0000) | 0x8000 : pattern; // a third are exact ties
  const output = float32ToBfloat16Array(input);
  for (let j = 0; j < input.length; j++) {
    const value = input[j]!;
    if (Number.isNaN(value)) continue;
    const truncated = inputBits[j]! >>> 16;
    const low = float32FromBits(truncated << 16);
    // The next pattern up in magnitude. Past the largest finite value IEEE rounds as if the exponent
    // were unbounded (the next step is ±2^128) and then overflows to inf.
    const next = float32FromBits(((truncated + 1) << 16) >>> 0);
    const high = Number.isFinite(next) ? next : Math.sign(next) * 2 ** 128;
    const below = Math.abs(value - low);
    const above = Math.abs(high - value);
    const expected = below < above ? truncated : above < below ? truncated + 1 : truncated % 2 === 0 ? truncated : truncated + 1;
    if (output[j] !== (expected & 0xffff)) assert.fail(`${value} → 0x${output[j]!.toString(16)}, expected 0x${expected.toString(16)}`);
  }
  assert.equal(floatToBfloat16(1 + 2 ** -8), 0x3f80, 'tie to even (down)');
  assert.equal(floatToBfloat16(1 + 3 * 2 ** -8), 0x3f82, 'tie to even (up)');
  assert.equal(floatToBfloat16(3.4028234663852886e38), 0x7f80, 'largest float32 rounds to inf');
});

test('bulk conversions honour subarray views and output buffers', () => {
  const backing = new Float32Array([9, 1.5, -2, 9]);
  const view = backing.subarray(1, 3);
  const out = new Uint16Array(2);
  assert.equal(float32ToHalfArray(view, out), out);
  assert.deepEqual([...out], [0x3e00, 0xc000]);
  const back = halfToFloat32Array(out, new Float32Array(2));
  assert.deepEqual([...back], [1.5, -2]);
  assert.throws(() => halfToFloat32Array(out, new Float32Array(3)), /3 elements for 2 inputs/);
});

test('castFloat and toFloat32 convert whole tensors', () => {
  const single = tensor('float32', [2, 2], new Float32Array([1, 1 + 2 ** -11, 65520, -0.1]));
  const half = castFloat(single, 'float16');
  assert.equal(half.dtype, 'float16');
  assert.deepEqual(half.shape, [2, 2]);
  assert.deepEqual([...half.data], [0x3c00, 0x3c00, 0x7c00, floatToHalf(-0.1)]);
  assert.deepEqual([...toFloat32(half).data], [1, 1, Infinity, halfToFloat(floatToHalf(-0.1))]);
  assert.deepEqual([...toFloat32(castFloat(single, 'bfloat16')).data], [1, 1, 65536, bfloat16ToFloat(floatToBfloat16(-0.1))]);
  assert.deepEqual([...castFloat(tensor('float64', [1], new Float64Array([0.1])), 'float32').data], [Math.fround(0.1)]);
  assert.deepEqual([...toFloat32(tensor('int64', [2], new BigInt64Array([-3n, 16777217n]))).data], [-3, 16777216]);
  assert.equal(toFloat32(single), single);
  assert.throws(() => castFloat(tensor('int32', [1], new Int32Array(1)), 'float16'), /float tensors/);
});
