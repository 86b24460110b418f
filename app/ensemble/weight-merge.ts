// Static parameter merging of checkpoints with one architecture: every tensor of the result is
//   θ = Σ_k w_k·θ_k        (float32; each w_k rounded to float32; summed left to right: ((w_1·θ_1) + w_2·θ_2) + …)
// which is the golden `baseline_weighted_merge` formula and, with two terms (1 − α, α), MBW's
// (mbw-merge.ts). A MergedWeights is a lazy WeightSource: nothing is computed until a tensor is read, one
// tensor at a time, so it can feed the normal model builders (the serializer then streams merged tensors
// into a weights file) or an export (merge-export.ts) without ever holding a whole model in memory.
// MergingGraph (merging-graph.ts) instead turns the same terms into Mul/Add nodes over the members'
// weights referenced in place; merged-unet.ts has the measurements that chose between the two.
import { UserError } from '../common/errors.ts';
import { toFloat32 } from '../tensor/cast.ts';
import { describeShape, sizeOf, tensor, type DType, type Tensor } from '../tensor/tensor.ts';
import type { LazyTensor, WeightSource } from '../tensor/weights.ts';

/** One member's contribution to a merged tensor. */
export interface MergeTerm {
  /** Index of the member (model) the tensor comes from. */
  readonly member: number;
  readonly source: LazyTensor;
  /** The multiplier; it acts as a float32 (Math.fround) like a Python float times a float32 torch tensor. */
  readonly weight: number;
}

/** A tensor computed as Σ terms when read (float32). */
export interface MergedTensor extends LazyTensor {
  readonly dtype: 'float32';
  readonly terms: readonly MergeTerm[];
}

/** A member's own tensor, passed through a merge unchanged (its file region kept). */
export interface MemberTensor extends LazyTensor {
  readonly member: number;
}

export function isMergedTensor(tensor: LazyTensor): tensor is MergedTensor {
  return Array.isArray((tensor as Partial<MergedTensor>).terms);
}

export function memberOf(tensor: LazyTensor): number | undefined {
  const member = (tensor as Partial<MemberTensor>).member;
  return typeof member === 'number' ? member : undefined;
}

/**
 * The multipliers of each member for tensor `name` (one per member, in member order). Members with a
 * multiplier of 0 are left out of the sum, and a sum left with a single multiplier of 1 is that member's
 * tensor itself, unchanged: 1·θ = θ exactly and θ + 0·θ' = θ for every finite θ' (up to the sign of a
 * zero), so skipping them changes no value while MBW blocks at α = 0 or 1 then cost nothing.
 */
export type Coefficients = (name: string) => readonly number[];

/**
 * Sum of float32 products, rounded as float32 torch does each op: acc = fround(acc + fround(w·θ)).
 * Lazy terms are read one at a time (peak: the sum plus one term).
 */
export function mergeTerms(terms: readonly { readonly tensor: Tensor | LazyTensor; readonly weight: number }[]): Tensor<'float32'> {
  const first = terms[0];
  if (!first) throw new Error('mergeTerms needs at least one term');
  const shape = first.tensor.shape;
  const out = new Float32Array(sizeOf(shape));
  terms.forEach(({ tensor: term, weight }, index) => {
    const input = 'read' in term ? term.read() : term;
    if (describeShape(input.shape) !== describeShape(shape)) {
      throw new Error(`merge term ${index} has shape ${describeShape(input.shape)}, expected ${describeShape(shape)}`);
    }
    const w = Math.fround(weight);
    const data = toFloat32(input).data;
    // A product of two float32 values is exact in a double, so storing it in the Float32Array rounds it
    // once, like float32 hardware. The sum of two float32 values computed in double and rounded to
    // float32 is also correctly rounded (53 ≥ 2·24 + 2 bits: double rounding is innocuous).
    if (index === 0) for (let i = 0; i < out.length; i++) out[i] = w * data[i]!;
    else for (let i = 0; i < out.length; i++) out[i] = out[i]! + Math.fround(w * data[i]!);
  });
  return tensor('float32', shape, out);
}

const FLOAT_DTYPES: ReadonlySet<DType> = new Set(['float32', 'float16', 'bfloat16', 'float64']);

/**
 * The merge of K WeightSources with identical tensor names and shapes. Each `get(name)` returns the
 * member's own LazyTensor when the coefficients select one member unchanged (its file region intact, so
 * a graph references it in place), else a MergedTensor. Non-float tensors (none in SD1.x weights) are
 * taken from the first member.
 */
export class MergedWeights implements WeightSource {
  private readonly cache = new Map<string, LazyTensor>();

  constructor(
    readonly members: readonly WeightSource[],
    private readonly coefficients: Coefficients,
    readonly description: string,
  ) {
    if (members.length < 1) throw new UserError('invalid-argument', 'A merge needs at least one model.');
  }

  names(): readonly string[] {
    return this.members[0]!.names();
  }

  has(name: string): boolean {
    return this.members[0]!.has(name);
  }

  /** The same object for the same name, so graphs can recognise a merged tensor they already added. */
  get(name: string): LazyTensor {
    const cached = this.cache.get(name);
    if (cached) return cached;
    const made = this.make(name);
    this.cache.set(name, made);
    return made;
  }

  private make(name: string): LazyTensor {
    const sources = this.members.map((member) => member.get(name));
    const first = sources[0]!;
    if (!FLOAT_DTYPES.has(first.dtype)) return passThrough(first, 0);
    const weights = this.coefficients(name);
    if (weights.length !== sources.length) {
      throw new Error(`merge coefficients for '${name}' have ${weights.length} entries for ${sources.length} models`);
    }
    const terms = sources.map((source, member) => ({ member, source, weight: weights[member]! })).filter((term) => term.weight !== 0);
    if (terms.length === 0) throw new UserError('invalid-argument', `Every merge weight of tensor '${name}' is 0.`, 'Give at least one model a weight above 0.');
    if (terms.length === 1 && terms[0]!.weight === 1) return passThrough(terms[0]!.source, terms[0]!.member);
    const merged: MergedTensor = {
      dtype: 'float32',
      shape: first.shape,
      terms,
      read: () => mergeTerms(terms.map((term) => ({ tensor: term.source, weight: term.weight }))),
    };
    return merged;
  }
}

function passThrough(source: LazyTensor, member: number): MemberTensor {
  return { dtype: source.dtype, shape: source.shape, read: () => source.read(), member, ...(source.region ? { region: source.region } : {}) };
}

/**
 * Checks that every member has exactly the first member's tensors, with the same shapes (reads headers
 * only). `labels` name the members in messages (e.g. the models' display names).
 */
export function checkSameTensors(members: readonly WeightSource[], labels: readonly string[] = members.map((_, k) => `model ${k + 1}`)): void {
  const reference = members[0]!;
  const names = reference.names();
  members.slice(1).forEach((member, offset) => {
    const k = offset + 1;
    const mismatch = (detail: string) =>
      new UserError(
        'mismatch',
        `${capitalize(labels[k]!)} has a different architecture than ${labels[0]}: ${detail}.`,
        'Only checkpoints of the same family and size (e.g. all SD1.x) can be merged.',
      );
    if (member.names().length !== names.length) {
      const missing = names.find((name) => !member.has(name));
      throw mismatch(missing ? `it has no tensor '${missing}'` : `it has ${member.names().length} tensors instead of ${names.length}`);
    }
    for (const name of names) {
      if (!member.has(name)) throw mismatch(`it has no tensor '${name}'`);
      const [a, b] = [reference.get(name), member.get(name)];
      if (describeShape(a.shape) !== describeShape(b.shape)) {
        throw mismatch(`tensor '${name}' is ${describeShape(b.shape)} instead of ${describeShape(a.shape)}`);
      }
    }
  });
}

/**
 * Validates weights for a weighted merge of `memberCount` models: one finite, non-negative number per
 * model, not all 0. They are used as given (θ = Σ w_k·θ_k): normalise first (recipe.ts memberWeights)
 * when they should sum to 1.
 */
export function checkMergeWeights(weights: readonly number[], memberCount: number): void {
  if (memberCount < 2) throw new UserError('invalid-argument', `A merge needs at least 2 models; got ${memberCount}.`);
  if (weights.length !== memberCount) {
    throw new UserError('invalid-argument', `A merge of ${memberCount} models needs ${memberCount} weights; got ${weights.length}.`, 'Give one weight per model, in model order.');
  }
  weights.forEach((weight, k) => {
    if (!Number.isFinite(weight)) throw new UserError('invalid-argument', `Merge weight ${k + 1} is not a finite number (${weight}).`);
    if (weight < 0) throw new UserError('invalid-argument', `Merge weight ${k + 1} is negative (${weight}); merge weights must be 0 or more.`);
  });
  if (weights.every((weight) => weight === 0)) throw new UserError('invalid-argument', 'Every merge weight is 0.', 'Give at least one model a weight above 0.');
}

/** θ = Σ_k w_k·θ_k over every tensor of `members` (the golden baseline_weighted_merge). */
export function weightedMerge(members: readonly WeightSource[], weights: readonly number[], labels?: readonly string[]): MergedWeights {
  checkMergeWeights(weights, members.length);
  checkSameTensors(members, labels);
  const fixed = Object.freeze([...weights]);
  return new MergedWeights(members, () => fixed, `the weighted merge (${fixed.join(', ')}) of ${members.map((m) => m.description).join(', ')}`);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
