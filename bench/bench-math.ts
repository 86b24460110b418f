// Small helpers the benchmark suites share.
import { sizeOf, type Tensor } from '../app/tensor/tensor.ts';

/** The middle value (upper middle for even counts). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Uniform values in [-1, 1) from a 32-bit LCG: cheap, deterministic inputs for timing (not statistics). */
export function randomTensor(shape: readonly number[], seed: number): Tensor<'float32'> {
  const data = new Float32Array(sizeOf(shape));
  let state = seed;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state / 2 ** 31 - 1;
  }
  return { dtype: 'float32', shape: [...shape], data };
}
