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
// 25 SD1.5 aggregators (≈ 30 M parameters) it is a few percent of a training step (bench 'train'), and
// its state stays in host memory where checkpoints are written from.
import { UserError } from '../common/errors.ts';

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

export class AdamW {
  readonly config: AdamWConfig;
  private stepCount = 0;
  private readonly firstMoments = new Map<string, Float32Array>();
  private readonly secondMoments = new Map<string, Float32Array>();

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
    this.stepCount++;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const t = this.stepCount;
    const decay = f(1 - lr * weightDecay);
    const keep1 = f(beta1);
    const take1 = f(1 - beta1);
    const keep2 = f(beta2);
    const take2 = f(1 - beta2);
    const stepSize = f(-(lr / (1 - beta1 ** t)));
    const correction2 = f(Math.sqrt(1 - beta2 ** t));
    const epsilon = f(eps);
    for (const [name, p] of parameters) {
      const g = gradients.get(name);
      if (!g) continue;
      if (g.length !== p.length) throw new UserError('mismatch', `Gradient of '${name}' has ${g.length} elements, the parameter ${p.length}.`);
      const m = this.moment(this.firstMoments, name, p.length);
      const v = this.moment(this.secondMoments, name, p.length);
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]!;
        const pi = f(p[i]! * decay);
        const mi = f(f(m[i]! * keep1) + f(take1 * gi));
        const vi = f(f(v[i]! * keep2) + f(f(take2 * gi) * gi));
        const denom = f(f(f(Math.sqrt(vi)) / correction2) + epsilon);
        m[i] = mi;
        v[i] = vi;
        p[i] = f(pi + f(f(stepSize * mi) / denom));
      }
    }
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
    for (const [name, values] of state.exp_avg) this.firstMoments.set(name, Float32Array.from(values));
    for (const [name, values] of state.exp_avg_sq) this.secondMoments.set(name, Float32Array.from(values));
  }

  private moment(moments: Map<string, Float32Array>, name: string, length: number): Float32Array {
    let values = moments.get(name);
    if (!values) {
      values = new Float32Array(length);
      moments.set(name, values);
    }
    return values;
  }
}
