// A renamed, lazily read view of another WeightSource: diffusers names over the tensors of an LDM
// checkpoint (or of a folder with older names). Nothing is read until a tensor's read() is called, and a
// reshape keeps the tensor's file region, because a reshape never moves bytes (row-major data is the
// same for [C, C, 1, 1] and [C, C]).
import { UserError } from '../common/errors.ts';
import { describeShape, sizeOf } from '../tensor/tensor.ts';
import type { LazyTensor, WeightSource } from '../tensor/weights.ts';

export interface MappedTensor {
  /** The name in this view (diffusers naming). */
  readonly name: string;
  /** The name in the underlying source. */
  readonly sourceName: string;
  /** A new shape with the same number of elements, e.g. [C, C] for a 1×1 conv weight [C, C, 1, 1]. */
  readonly shape?: readonly number[];
}

export class MappedWeights implements WeightSource {
  private readonly byName: ReadonlyMap<string, MappedTensor>;
  private readonly order: readonly string[];

  constructor(
    private readonly source: WeightSource,
    mapping: readonly MappedTensor[],
    readonly description: string,
  ) {
    this.byName = new Map(mapping.map((entry) => [entry.name, entry]));
    this.order = mapping.map((entry) => entry.name);
  }

  names(): readonly string[] {
    return this.order;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The underlying source's name of `name` (undefined when absent). */
  sourceNameOf(name: string): string | undefined {
    return this.byName.get(name)?.sourceName;
  }

  get(name: string): LazyTensor {
    const entry = this.byName.get(name);
    if (!entry) {
      throw new UserError('not-found', `Tensor '${name}' is missing from ${this.description}.`, 'Check that this is the right checkpoint for this model.');
    }
    const inner = this.source.get(entry.sourceName);
    const shape = entry.shape;
    if (!shape) return inner;
    if (sizeOf(shape) !== sizeOf(inner.shape)) {
      throw new UserError(
        'corrupt-file',
        `Tensor '${entry.sourceName}' of ${this.source.description} has shape ${describeShape(inner.shape)}, which cannot be viewed as ${describeShape(shape)} ('${name}').`,
        'The checkpoint is damaged or not an SD1.x model.',
      );
    }
    const reshaped: LazyTensor = {
      dtype: inner.dtype,
      shape,
      read: () => ({ ...inner.read(), shape: [...shape] }),
      ...(inner.region ? { region: inner.region } : {}),
    };
    return reshaped;
  }
}

/** The union of several sources with disjoint names (a sharded diffusers component: one per shard). */
export class CombinedWeights implements WeightSource {
  private readonly owner = new Map<string, WeightSource>();
  private readonly order: string[] = [];

  constructor(
    sources: readonly WeightSource[],
    readonly description: string,
  ) {
    for (const source of sources) {
      for (const name of source.names()) {
        if (this.owner.has(name)) {
          throw new UserError('corrupt-file', `Tensor '${name}' appears in both ${this.owner.get(name)!.description} and ${source.description}.`);
        }
        this.owner.set(name, source);
        this.order.push(name);
      }
    }
  }

  names(): readonly string[] {
    return this.order;
  }

  has(name: string): boolean {
    return this.owner.has(name);
  }

  get(name: string): LazyTensor {
    const source = this.owner.get(name);
    if (!source) throw new UserError('not-found', `Tensor '${name}' is missing from ${this.description}.`);
    return source.get(name);
  }
}
