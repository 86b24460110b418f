// AdamW (Loshchilov & Hutter 2019) exactly as torch.optim.AdamW (torch 1.13, foreach=False) computes it
// in float32, one parameter tensor at a time:
//
//   p ← p·(1 − lr·λ)                                   decoupled weight decay, before the moments
//   m ← β1·m + (1 − β1)·g
//   v ← β2·v + (1 − β2)·g·g
//   p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)     ε added after the square root
//
// Scalars are computed in double and rounded to float32 where torch hands them to a float kernel; every
// elementwise operation is rounded to float32 (Math.fround after each +, −, ×, ÷, √ is exactly float32
// arithmetic). The optimizer runs in TypeScript over Float32Arrays rather than as an ONNX graph: on the
// 25 SD1.5 aggregators (≈ 45 M parameters) it is a few percent of a training step (bench 'train'), and
// its state stays in host memory where checkpoints are written from.
//
// updateInParallel spreads one update over this thread and the inference thread, which is idle between
// a step's runs: the moments live in shared memory, parameters kept there (TrainingSession's) are
// updated in place by either thread, and the gradients of the inference thread's part are copied into a
// shared staging buffer. Each element gets the same float32 operations on either thread (adamw-kernel.ts),
// so the result is bit-identical to update().
import { UserError } from '../common/errors.ts';
import { inferenceThread } from '../runtime/inference-thread.ts';
import { inSharedMemory, sharedFloat32 } from '../tensor/tensor.ts';
import { adamwSlice, type AdamWScalars, type AdamWSlice } from './adamw-kernel.ts';

export interface AdamWConfig {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

/** torch.optim.AdamW's defaults except the weight decay of the official AFA recipe (0.01 is also torch's). */
export const ADAMW_DEFAULTS: AdamWConfig = Object.freeze({ lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });

/** The optimizer's state: the step count and both moments of every parameter (checkpointed with the weights). */
export interface AdamWState {
  readonly step: number;
  readonly exp_avg: ReadonlyMap<string, Float32Array>;
  readonly exp_avg_sq: ReadonlyMap<string, Float32Array>;
}

const f = Math.fround;

/** Below this many elements an update stays on one thread (a message round trip costs more). */
const PARALLEL_MIN_ELEMENTS = 1 << 20;

export class AdamW {
  readonly config: AdamWConfig;
  private stepCount = 0;
  private readonly firstMoments = new Map<string, Float32Array>();
  private readonly secondMoments = new Map<string, Float32Array>();
  /** Per parameter array: shared memory the inference thread reads its share of the gradient from. */
  private readonly staging = new WeakMap<Float32Array, Float32Array>();

  constructor(config: Partial<AdamWConfig> = {}) {
    this.config = Object.freeze({ ...ADAMW_DEFAULTS, ...config });
    const { lr, beta1, beta2, eps, weightDecay } = this.config;
    if (!(lr >= 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps >= 0) || !(weightDecay >= 0)) {
      throw new UserError('invalid-argument', `AdamW settings out of range: ${JSON.stringify(this.config)}.`, 'Use lr ≥ 0, 0 ≤ β < 1, ε ≥ 0 and weight decay ≥ 0.');
    }
  }

  get step(): number {
    return this.stepCount;
  }

  /**
   * One update of every parameter in place, at learning rate `lr` (default: the configured one; a
   * schedule passes its value). Parameters without a gradient are left as they are (torch skips them).
   */
  update(parameters: ReadonlyMap<string, Float32Array>, gradients: ReadonlyMap<string, Float32Array>, lr = this.config.lr): void {
    const { slices, scalars } = this.prepare(parameters, gradients, lr);
    for (const slice of slices) adamwSlice(slice, scalars);
  }

  /**
   * update() with about half of the elements computed on the inference thread meanwhile (see above):
   * the same result, bit for bit, in about half the time for large parameter sets. Parameters outside
   * shared memory, and updates under a million elements, stay on this thread. Resolves to the number of
   * elements the inference thread updated.
   */
  async updateInParallel(parameters: ReadonlyMap<string, Float32Array>, gradients: ReadonlyMap<string, Float32Array>, lr = this.config.lr): Promise<number> {
    const { slices, scalars } = this.prepare(parameters, gradients, lr);
    const ours: AdamWSlice[] = [];
    const movable: AdamWSlice[] = [];
    for (const slice of slices) (inSharedMemory(slice.p) ? movable : ours).push(slice);
    const total = movable.reduce((sum, slice) => sum + slice.to, 0);
    if (total < PARALLEL_MIN_ELEMENTS) {
      for (const slice of slices) adamwSlice(slice, scalars);
      return 0;
    }
    // The other thread's share: the first half of the shared elements (tensors whole, the one across
    // the middle split by range); this thread also copies that share's gradients, so it keeps less.
    let quota = Math.floor(total * 0.52);
    const theirs: AdamWSlice[] = [];
    for (const slice of movable) {
      const take = Math.min(quota, slice.to);
      quota -= take;
      if (take > 0) theirs.push({ ...slice, g: this.staged(slice, take), to: take });
      if (take < slice.to) ours.push({ ...slice, from: take });
    }
    const done = inferenceThread.call({ op: 'adamw', slices: theirs, scalars });
    try {
      for (const slice of ours) adamwSlice(slice, scalars);
    } finally {
      await done;
    }
    return theirs.reduce((sum, slice) => sum + slice.to - slice.from, 0);
  }

  /** Shared-memory gradients for elements [0, count) of a slice (the gradient itself when already shared). */
  private staged(slice: AdamWSlice, count: number): Float32Array {
    if (inSharedMemory(slice.g)) return slice.g;
    const key = slice.p;
    let staging = this.staging.get(key);
    if (!staging || staging.length !== slice.g.length) {
      staging = sharedFloat32(slice.g.length);
      this.staging.set(key, staging);
    }
    staging.set(slice.g.subarray(0, count));
    return staging;
  }

  /** Counts the step and lays out its work: one whole-tensor slice per parameter with a gradient. */
  private prepare(parameters: ReadonlyMap<string, Float32Array>, gradients: ReadonlyMap<string, Float32Array>, lr: number): { slices: AdamWSlice[]; scalars: AdamWScalars } {
    const slices: AdamWSlice[] = [];
    for (const [name, p] of parameters) {
      const g = gradients.get(name);
      if (!g) continue;
      if (g.length !== p.length) throw new UserError('mismatch', `Gradient of '${name}' has ${g.length} elements, the parameter ${p.length}.`);
      slices.push({ p, g, m: this.moment(this.firstMoments, name, p.length), v: this.moment(this.secondMoments, name, p.length), from: 0, to: p.length });
    }
    this.stepCount++;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const t = this.stepCount;
    const scalars: AdamWScalars = {
      decay: f(1 - lr * weightDecay),
      keep1: f(beta1),
      take1: f(1 - beta1),
      keep2: f(beta2),
      take2: f(1 - beta2),
      stepSize: f(-(lr / (1 - beta1 ** t))),
      correction2: f(Math.sqrt(1 - beta2 ** t)),
      epsilon: f(eps),
    };
    return { slices, scalars };
  }

  state(): AdamWState {
    return { step: this.stepCount, exp_avg: new Map(this.firstMoments), exp_avg_sq: new Map(this.secondMoments) };
  }

  /** Restores a saved state (copies the arrays). */
  load(state: AdamWState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new UserError('corrupt-file', `Optimizer state has an invalid step count ${state.step}.`);
    this.stepCount = state.step;
    this.firstMoments.clear();
    this.secondMoments.clear();
    for (const [name, values] of state.exp_avg) this.firstMoments.set(name, sharedFloat32(values));
    for (const [name, values] of state.exp_avg_sq) this.secondMoments.set(name, sharedFloat32(values));
  }

  private moment(moments: Map<string, Float32Array>, name: string, length: number): Float32Array {
    let values = moments.get(name);
    if (!values) {
      values = sharedFloat32(length);
      moments.set(name, values);
    }
    return values;
  }
}
