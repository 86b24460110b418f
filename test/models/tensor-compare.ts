// Small numeric helpers for the model tests.
import type { Tensor } from '../../app/tensor/tensor.ts';

export function maxAbsDifference(a: Tensor, b: Tensor): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shapes differ: [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
  const [x, y] = [a.data as Float32Array, b.data as Float32Array];
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const difference = Math.abs(x[i] - y[i]);
    if (!(difference <= worst)) worst = Number.isNaN(difference) ? Infinity : difference;
  }
  return worst;
}

export function allFinite(t: Tensor): boolean {
  return (t.data as Float32Array).every((value) => Number.isFinite(value));
}

/** Deterministic pseudo-random float32 tensor in [-1, 1). */
export function randomTensor(shape: readonly number[], seed = 7): Tensor<'float32'> {
  let state = seed >>> 0 || 1;
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    data[i] = (state / 4294967296) * 2 - 1;
  }
  return { dtype: 'float32', shape: [...shape], data };
}
