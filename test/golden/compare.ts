// Comparison of computed outputs with golden ones: one code path for every kind.
// Floats pass when |ours − golden| ≤ atol + rtol·|golden| for every element (the manifest's
// tolerance_rule); integers must be equal; PNG pixels within atol (default 1: rounding at .5).
import { toFloat32 } from '../../app/tensor/cast.ts';
import { isFloatDType } from '../../app/tensor/cast.ts';
import { describeShape } from '../../app/tensor/tensor.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import type { CaseOutput } from './case-kind.ts';

export interface Comparison {
  readonly ok: boolean;
  /** Largest |ours − golden| (Infinity when a NaN or inf differs). */
  readonly maxAbsError: number;
  /** Largest error relative to what was allowed there: ≤ 1 passes. 0 when nothing differs. */
  readonly ratio: number;
  /** One line: what differs, where, by how much. */
  readonly message: string;
}

export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

const EXACT: Tolerance = { atol: 0, rtol: 0 };

export function isTensor(output: CaseOutput): output is Tensor {
  return 'dtype' in output && 'shape' in output && 'data' in output;
}

function coordinates(index: number, shape: readonly number[]): string {
  const coords: number[] = [];
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    coords.unshift(index % shape[axis]!);
    index = Math.floor(index / shape[axis]!);
  }
  return `[${coords.join(', ')}]`;
}

function format(value: number | bigint): string {
  if (typeof value === 'bigint' || Number.isInteger(value) || !Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 1e-3 && Math.abs(value) < 1e6 ? String(Number(value.toPrecision(6))) : value.toExponential(3);
}

/** Compares a computed tensor with a golden one: floats within tolerance, integers (and bool) exactly. */
export function compareTensors(ours: Tensor, golden: Tensor, tolerance: Tolerance): Comparison {
  if (describeShape(ours.shape) !== describeShape(golden.shape)) {
    return failure(`shape ${describeShape(ours.shape)} differs from golden ${describeShape(golden.shape)}`);
  }
  const goldenFloat = isFloatDType(golden.dtype);
  if (goldenFloat !== isFloatDType(ours.dtype)) {
    return failure(`dtype ${ours.dtype} is not comparable with golden ${golden.dtype} (${goldenFloat ? 'float' : 'integer'} expected)`);
  }
  return goldenFloat ? compareFloats(ours, golden, tolerance) : compareIntegers(ours, golden);
}

function failure(message: string): Comparison {
  return { ok: false, maxAbsError: Infinity, ratio: Infinity, message };
}

function compareFloats(ours: Tensor, golden: Tensor, { atol, rtol }: Tolerance): Comparison {
  // float64 stays float64 (scheduler sigmas); narrower floats widen exactly to float32.
  const a = ours.dtype === 'float64' ? (ours.data as Float64Array) : toFloat32(ours).data;
  const b = golden.dtype === 'float64' ? (golden.data as Float64Array) : toFloat32(golden).data;
  let maxAbsError = 0;
  let worstRatio = 0;
  let worstIndex = -1;
  let outside = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    const error = Math.abs(x - y); // NaN when exactly one is NaN; Infinity when an inf differs
    const allowed = atol + rtol * Math.abs(y);
    const ratio = Number.isNaN(error) ? Infinity : allowed > 0 ? error / allowed : error > 0 ? Infinity : 0;
    if (!(error <= allowed)) outside++;
    if (ratio > worstRatio || worstIndex < 0) {
      worstRatio = ratio;
      worstIndex = i;
    }
    maxAbsError = Math.max(maxAbsError, Number.isNaN(error) ? Infinity : error);
  }
  const ok = outside === 0;
  const limit = rtol > 0 ? `atol ${atol} + rtol ${rtol}·|golden|` : `atol ${atol}`;
  if (worstIndex < 0) return { ok, maxAbsError: 0, ratio: 0, message: `identical (${limit})` };
  const where = `at ${coordinates(worstIndex, golden.shape)} (ours ${format(a[worstIndex]!)}, golden ${format(b[worstIndex]!)})`;
  const message = ok
    ? `max |error| ${format(maxAbsError)} within ${limit}; worst ${where}`
    : `max |error| ${format(maxAbsError)} exceeds ${limit}: ${outside} of ${b.length} elements outside; worst ${where}`;
  return { ok, maxAbsError, ratio: worstRatio, message };
}

function compareIntegers(ours: Tensor, golden: Tensor): Comparison {
  const a = ours.data;
  const b = golden.data;
  let first = -1;
  let differing = 0;
  let maxAbsError = 0;
  for (let i = 0; i < b.length; i++) {
    const x = BigInt(a[i]!);
    const y = BigInt(b[i]!);
    if (x === y) continue;
    differing++;
    if (first < 0) first = i;
    maxAbsError = Math.max(maxAbsError, Number(x > y ? x - y : y - x));
  }
  if (differing === 0) return { ok: true, maxAbsError: 0, ratio: 0, message: 'exact' };
  return {
    ok: false,
    maxAbsError,
    ratio: Infinity,
    message: `${differing} of ${b.length} integers differ (exact match required); first at ${coordinates(first, golden.shape)}: ours ${format(a[first]!)}, golden ${format(b[first]!)}`,
  };
}

/** Compares an 8-bit RGB image with the golden pixels (atol in 0..255 units). */
export function comparePixels(
  ours: { readonly width: number; readonly height: number; readonly rgb: Uint8Array },
  golden: { readonly width: number; readonly height: number; readonly rgb: Uint8Array },
  atol: number,
): Comparison {
  if (ours.width !== golden.width || ours.height !== golden.height) {
    return failure(`image is ${ours.width}×${ours.height}, golden ${golden.width}×${golden.height}`);
  }
  if (ours.rgb.length !== golden.rgb.length) return failure(`image has ${ours.rgb.length} RGB bytes, expected ${golden.rgb.length}`);
  let maxAbsError = 0;
  let outside = 0;
  let worst = 0;
  for (let i = 0; i < golden.rgb.length; i++) {
    const error = Math.abs(ours.rgb[i]! - golden.rgb[i]!);
    if (error > atol) outside++;
    if (error > maxAbsError) {
      maxAbsError = error;
      worst = i;
    }
  }
  const pixel = Math.floor(worst / 3);
  const where = `pixel (x ${pixel % golden.width}, y ${Math.floor(pixel / golden.width)}) channel ${'RGB'[worst % 3]}`;
  const ratio = atol > 0 ? maxAbsError / atol : maxAbsError > 0 ? Infinity : 0;
  return outside === 0
    ? { ok: true, maxAbsError, ratio, message: maxAbsError === 0 ? 'identical pixels' : `max pixel error ${maxAbsError} ≤ ${atol}` }
    : { ok: false, maxAbsError, ratio, message: `${outside} channel values differ by more than ${atol}; max ${maxAbsError} at ${where}` };
}

/** Compares JSON values: numbers (also inside arrays/objects) within atol, everything else equal. */
export function compareValues(ours: unknown, golden: unknown, atol: number): Comparison {
  let maxAbsError = 0;
  let problem: string | undefined;
  const walk = (x: unknown, y: unknown, path: string): void => {
    if (problem) return;
    if (typeof y === 'number' && typeof x === 'number') {
      if (x === y || (Number.isNaN(x) && Number.isNaN(y))) return;
      const error = Math.abs(x - y);
      maxAbsError = Math.max(maxAbsError, Number.isNaN(error) ? Infinity : error);
      if (!(error <= atol)) problem = `${path || 'value'}: ours ${format(x)}, golden ${format(y)} (atol ${atol})`;
      return;
    }
    if (Array.isArray(y) && Array.isArray(x)) {
      if (x.length !== y.length) problem = `${path || 'value'}: ${x.length} elements, golden ${y.length}`;
      else y.forEach((item, i) => walk(x[i], item, `${path}[${i}]`));
      return;
    }
    if (typeof y === 'object' && y !== null && typeof x === 'object' && x !== null && !Array.isArray(x) && !Array.isArray(y)) {
      const keys = Object.keys(y);
      if (keys.length !== Object.keys(x).length || !keys.every((key) => Object.hasOwn(x, key))) {
        problem = `${path || 'value'}: keys ${JSON.stringify(Object.keys(x))}, golden ${JSON.stringify(keys)}`;
      } else keys.forEach((key) => walk((x as Record<string, unknown>)[key], (y as Record<string, unknown>)[key], `${path}.${key}`));
      return;
    }
    if (x !== y) problem = `${path || 'value'}: ours ${JSON.stringify(x)}, golden ${JSON.stringify(y)}`;
  };
  walk(ours, golden, '');
  const ratio = problem ? Infinity : atol > 0 ? maxAbsError / atol : 0;
  return problem
    ? { ok: false, maxAbsError: Math.max(maxAbsError, 0), ratio, message: problem }
    : { ok: true, maxAbsError, ratio, message: maxAbsError === 0 ? 'equal' : `max |error| ${format(maxAbsError)} within atol ${atol}` };
}

/** Bitwise equality of two computed tensors (same dtype, shape and bytes; NaN equals NaN of the same bits). */
export function compareExact(ours: Tensor, other: Tensor): Comparison {
  if (ours.dtype !== other.dtype) return failure(`dtype ${ours.dtype} differs from ${other.dtype}`);
  if (describeShape(ours.shape) !== describeShape(other.shape)) {
    return failure(`shape ${describeShape(ours.shape)} differs from ${describeShape(other.shape)}`);
  }
  const a = new Uint8Array(ours.data.buffer, ours.data.byteOffset, ours.data.byteLength);
  const b = new Uint8Array(other.data.buffer, other.data.byteOffset, other.data.byteLength);
  const size = a.length / Math.max(ours.data.length, 1);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      const element = Math.floor(i / size);
      const numeric = compareTensors(ours, other, EXACT);
      return {
        ok: false,
        maxAbsError: numeric.maxAbsError,
        ratio: Infinity,
        message: `not bitwise equal: first difference at ${coordinates(element, ours.shape)} (ours ${format(ours.data[element]!)}, other ${format(other.data[element]!)}); max |error| ${format(numeric.maxAbsError)}`,
      };
    }
  }
  return { ok: true, maxAbsError: 0, ratio: 0, message: 'bitwise equal' };
}

export { EXACT };
