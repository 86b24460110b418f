// A view of a WeightSource under a module prefix (`down_blocks.0.resnets.1.`), handing out graph
// initializers named exactly like the checkpoint tensors (diffusers names). Because names are the
// checkpoint's, the whole U-Net and its per-point layer graphs refer to the same initializers, which is
// what lets them share one weights file. Shapes are checked here so a config that does not match its
// weights fails with the tensor's name instead of deep inside onnxruntime.
import { UserError } from '../common/errors.ts';
import { describeShape } from '../tensor/tensor.ts';
import type { WeightSource } from '../tensor/weights.ts';
import { SyntheticWeights } from './synthetic-weights.ts';
import type { Graph, Value } from '../onnx/graph.ts';

export class ModuleWeights {
  constructor(
    readonly source: WeightSource,
    readonly prefix = '',
  ) {}

  /** The weights of a submodule, e.g. `weights.child('attn1')`. */
  child(name: string): ModuleWeights {
    return new ModuleWeights(this.source, `${this.prefix}${name}.`);
  }

  has(name: string): boolean {
    return this.source.has(this.prefix + name);
  }

  /** The initializer for `<prefix><name>` in `g`; `shape` is what the config implies it must be. */
  get(g: Graph, name: string, shape: readonly number[]): Value {
    const full = this.prefix + name;
    if (this.source instanceof SyntheticWeights) this.source.declare(full, shape);
    if (!this.source.has(full)) {
      throw new UserError(
        'mismatch',
        `Weight '${full}' is missing from ${this.source.description}.`,
        'The weights do not match the model config: check that the checkpoint is a Stable Diffusion 1.x model.',
      );
    }
    const tensor = this.source.get(full);
    const matches = tensor.shape.length === shape.length && tensor.shape.every((dim, index) => dim === shape[index]);
    if (!matches) {
      throw new UserError(
        'mismatch',
        `Weight '${full}' of ${this.source.description} has shape ${describeShape(tensor.shape)}, but the model config implies ${describeShape(shape)}.`,
        'The weights do not match the model config: check that config.json belongs to this checkpoint.',
      );
    }
    return g.weight(full, tensor);
  }
}

