// Synthetic weights for models without a checkpoint: the SD1.5-size benchmark and tests of configs the
// golden data does not cover.
import { describeShape, sizeOf, tensor, type Tensor } from '../tensor/tensor.ts';
import type { LazyTensor, WeightSource } from '../tensor/weights.ts';

/**
 * Made-up float32 weights: every name exists and takes the shape the builder asks for; data is generated
 * when read (the serializer streams it to the weights file one tensor at a time, so a full-size model is
 * never held in memory). Benchmarks of SD1.5-size models and tests of other configs use it.
 */
export class SyntheticWeights implements WeightSource {
  readonly description: string;
  private readonly shapes = new Map<string, readonly number[]>();

  constructor(
    private readonly generate: (name: string, shape: readonly number[]) => Tensor = plausibleWeight,
    description = 'synthetic weights',
  ) {
    this.description = description;
  }

  /** The names asked for so far, in order. */
  names(): readonly string[] {
    return [...this.shapes.keys()];
  }

  has(): boolean {
    return true;
  }

  /** Fixes the shape of `name` (ModuleWeights calls it before get). */
  declare(name: string, shape: readonly number[]): void {
    const known = this.shapes.get(name);
    if (known && describeShape(known) !== describeShape(shape)) {
      throw new Error(`synthetic weight '${name}' was declared as ${describeShape(known)} and now as ${describeShape(shape)}`);
    }
    this.shapes.set(name, Object.freeze([...shape]));
  }

  get(name: string): LazyTensor {
    const shape = this.shapes.get(name);
    if (!shape) throw new Error(`synthetic weight '${name}' was never declared`);
    return { dtype: 'float32', shape, read: () => this.generate(name, shape) };
  }
}

/**
 * Deterministic weights with the scale of a trained network, so activations stay O(1) through dozens of
 * layers (no overflow or denormals that would distort timings): normalisation scales ≈ 1, biases ≈ 0,
 * other tensors uniform in ±1/√fan_in (PyTorch's default init bound for conv and linear layers).
 */
export function plausibleWeight(name: string, shape: readonly number[], seed = 1): Tensor<'float32'> {
  const data = new Float32Array(sizeOf(shape));
  let state = (hashName(name) ^ seed) >>> 0 || 1;
  const next = () => {
    // xorshift32: fast and good enough for weights.
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296 - 0.5; // [-0.5, 0.5)
  };
  const isNorm = /norm/.test(name) && shape.length === 1;
  const fanIn = shape.length > 1 ? sizeOf(shape.slice(1)) : 1;
  const [center, spread] = isNorm && name.endsWith('.weight') ? [1, 0.1] : shape.length === 1 ? [0, 0.02] : [0, 2 / Math.sqrt(fanIn)];
  for (let i = 0; i < data.length; i++) data[i] = center + spread * next();
  return tensor('float32', shape, data);
}

function hashName(name: string): number {
  let hash = 2166136261;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 16777619);
  return hash >>> 0;
}
