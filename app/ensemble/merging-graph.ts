// A Graph that computes merged weights inside the model: when a builder asks for a weight that is a
// MergedTensor (weight-merge.ts), each member's tensor becomes an initializer of its own, under the
// member's namespace (`expert0.down_blocks.0…`, referenced in place from the member's weights file), and
//   θ = ((w_1·θ_1) + w_2·θ_2) + …
// becomes Mul/Add nodes over them, in that order, with float32 scalar multipliers — the golden formula
// op for op. Every input of those nodes is an initializer, so onnxruntime's constant folding evaluates
// them once when the session is created; the graph then runs like a plain U-Net (measurements in
// merged-unet.ts). Any builder works unchanged (addUnet, addClipText, …): they only call `g.weight`.
import { Graph, type StoredFloat, type Value } from '../onnx/graph.ts';
import { add, mul } from '../onnx/ops.ts';
import type { LazyTensor } from '../tensor/weights.ts';
import { expertNamespace } from './lock-step-graph.ts';
import { isMergedTensor, memberOf, type MergedTensor } from './weight-merge.ts';

/**
 * Build the model from a MergedWeights (weightedMerge, mbwMerge) on a MergingGraph instead of a Graph.
 * A tensor one member passes through unchanged (an MBW block at α = 0 or 1) is stored under that
 * member's namespace like its merged neighbours: one name per stored tensor.
 */
export class MergingGraph extends Graph {
  private readonly mergedValues = new Map<MergedTensor, Value>();

  override weight(localName: string, source: LazyTensor, options: { readonly storeAs?: StoredFloat } = {}): Value {
    if (!isMergedTensor(source)) {
      const member = memberOf(source);
      if (member === undefined) return super.weight(localName, source, options);
      return this.weightNamespace(expertNamespace(member), () => super.weight(localName, source, options));
    }
    const known = this.mergedValues.get(source);
    if (known) return known;
    const value = this.scope('merge', () => {
      let sum: Value | undefined;
      for (const term of source.terms) {
        const theta = this.weightNamespace(expertNamespace(term.member), () => super.weight(localName, term.source, options));
        const product = mul(this, theta, term.weight);
        sum = sum === undefined ? product : add(this, sum, product);
      }
      if (!sum) throw new Error(`merged weight '${localName}' has no terms`);
      return sum;
    });
    this.mergedValues.set(source, value);
    return value;
  }
}
