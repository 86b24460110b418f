// A named collection of tensors that are read only when needed. Safetensors files, renamed views of
// checkpoints (LDM keys → diffusers keys) and in-memory maps all implement it, so graph builders take
// weights without caring where they live, and a multi-GB checkpoint never has to sit in memory whole.
import { UserError } from '../common/errors.ts';
import type { DType, Tensor } from './tensor.ts';

/** Where a tensor's raw little-endian bytes sit in a file, so a graph can reference them in place. */
export interface FileRegion {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
}

export interface LazyTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Reads (or computes) the data. Each call may read the file again: callers keep what they need. */
  read(): Tensor;
  /** Present when the bytes are stored contiguously, unmodified, in a file. */
  readonly region?: FileRegion;
}

export interface WeightSource {
  /** Every tensor name, in a stable order. */
  names(): readonly string[];
  has(name: string): boolean;
  /** Throws a UserError naming the missing tensor (and the source) when absent. */
  get(name: string): LazyTensor;
  /** A human-readable description for error messages, e.g. the file path. */
  readonly description: string;
}

/** Wraps in-memory tensors (tests, merged weights) as a WeightSource. */
export class MemoryWeights implements WeightSource {
  readonly description: string;
  private readonly tensors: ReadonlyMap<string, Tensor>;

  constructor(tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>, description = 'in-memory weights') {
    this.tensors = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
    this.description = description;
  }

  names(): readonly string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  get(name: string): LazyTensor {
    const tensor = this.tensors.get(name);
    if (!tensor) throw new UserError('not-found', `Tensor '${name}' is missing from ${this.description}.`);
    return { dtype: tensor.dtype, shape: tensor.shape, read: () => tensor };
  }
}
