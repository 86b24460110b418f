// Host tensors: a dtype, a shape and a typed array in row-major (C) order. Every part of the engine
// exchanges tensors in this one form; onnxruntime tensors are created from it only in app/runtime.

export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'uint8' | 'bool';

/** The typed array that backs each dtype. float16/bfloat16 are raw 16-bit patterns. */
export interface DTypeArrays {
  float32: Float32Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  float64: Float64Array;
  int64: BigInt64Array;
  int32: Int32Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

export type TensorData = DTypeArrays[DType];

export interface Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: DTypeArrays[D];
}

export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  uint8: 1,
  bool: 1,
};

export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) size *= dim;
  return size;
}

export function tensor<D extends DType>(dtype: D, shape: readonly number[], data: DTypeArrays[D]): Tensor<D> {
  const expected = sizeOf(shape);
  if (data.length !== expected) {
    throw new Error(`tensor of shape [${shape.join(', ')}] needs ${expected} elements, got ${data.length}`);
  }
  return { dtype, shape: [...shape], data };
}

/** Whether a typed array lives in memory shared between threads (a SharedArrayBuffer). */
export function inSharedMemory(array: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && array.buffer instanceof SharedArrayBuffer;
}

/**
 * A Float32Array in shared memory: a copy of `values`, or zeros of that length. It reaches a worker
 * thread without a copy (a structured clone shares it), and both threads see each other's writes.
 */
export function sharedFloat32(values: Float32Array | number): Float32Array {
  const length = typeof values === 'number' ? values : values.length;
  const shared = new Float32Array(new SharedArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT));
  if (typeof values !== 'number') shared.set(values);
  return shared;
}

export function float32(shape: readonly number[], data?: Float32Array | readonly number[]): Tensor<'float32'> {
  const array = data === undefined ? new Float32Array(sizeOf(shape)) : Float32Array.from(data);
  return tensor('float32', shape, array);
}

export function int64(shape: readonly number[], data: BigInt64Array | readonly (number | bigint)[]): Tensor<'int64'> {
  const array = data instanceof BigInt64Array ? data : BigInt64Array.from(data, (v) => BigInt(v));
  return tensor('int64', shape, array);
}

export function allocate<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
  const size = sizeOf(shape);
  const arrays: { [K in DType]: () => DTypeArrays[K] } = {
    float32: () => new Float32Array(size),
    float16: () => new Uint16Array(size),
    bfloat16: () => new Uint16Array(size),
    float64: () => new Float64Array(size),
    int64: () => new BigInt64Array(size),
    int32: () => new Int32Array(size),
    uint8: () => new Uint8Array(size),
    bool: () => new Uint8Array(size),
  };
  return tensor(dtype, shape, arrays[dtype]() as DTypeArrays[D]);
}

export function describeShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}
