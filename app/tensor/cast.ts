// Tensor-level dtype conversions for the float dtypes (checkpoint import, golden comparisons).
// fp16/bf16 go through half.ts (round-to-nearest-even); float64 → float32 rounds like Math.fround,
// as torch's `.float()` does.
import { bfloat16ToFloat32Array, float32ToBfloat16Array, float32ToHalfArray, halfToFloat32Array } from './half.ts';
import { tensor } from './tensor.ts';
import type { DType, Tensor } from './tensor.ts';

export type FloatDType = 'float32' | 'float16' | 'bfloat16' | 'float64';

export function isFloatDType(dtype: DType): dtype is FloatDType {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16' || dtype === 'float64';
}

/**
 * Any tensor as float32. A float32 input is returned as is (not copied). Integers convert exactly up
 * to 2^24; int64 goes through Number (exact up to 2^53) before rounding to float32.
 */
export function toFloat32(input: Tensor): Tensor<'float32'> {
  switch (input.dtype) {
    case 'float32':
      return input as Tensor<'float32'>;
    case 'float16':
      return tensor('float32', input.shape, halfToFloat32Array(input.data as Uint16Array));
    case 'bfloat16':
      return tensor('float32', input.shape, bfloat16ToFloat32Array(input.data as Uint16Array));
    case 'int64':
      return tensor('float32', input.shape, Float32Array.from(input.data as BigInt64Array, Number));
    default:
      return tensor('float32', input.shape, Float32Array.from(input.data as Float64Array | Int32Array | Uint8Array));
  }
}

/** Any float tensor in the float dtype `dtype` (rounded to nearest even where it narrows). */
export function castFloat<D extends FloatDType>(input: Tensor, dtype: D): Tensor<D> {
  if (input.dtype === dtype) return input as Tensor<D>;
  if (!isFloatDType(input.dtype)) throw new Error(`castFloat converts float tensors, got ${input.dtype}`);
  const single = toFloat32(input).data;
  const converted: Record<FloatDType, () => Tensor> = {
    float32: () => tensor('float32', input.shape, single),
    float16: () => tensor('float16', input.shape, float32ToHalfArray(single)),
    bfloat16: () => tensor('bfloat16', input.shape, float32ToBfloat16Array(single)),
    // Widening from float16/bfloat16/float32 is exact; float64 input was handled by the first line.
    float64: () => tensor('float64', input.shape, Float64Array.from(single)),
  };
  return converted[dtype]() as Tensor<D>;
}
