// What happens to gradients between the training graph and the optimizer: accumulation over
// micro-batches (a batch of 8 run as 4 × 2 when memory is short) and optional clipping by global norm
// (torch.nn.utils.clip_grad_norm_ with the L2 norm).
import { UserError } from '../common/errors.ts';

const f = Math.fround;

/** Sums gradients of several micro-batches; `mean()` gives their average (what one large batch gives). */
export class GradientAccumulator {
  private readonly sums = new Map<string, Float32Array>();
  private count = 0;

  get microBatches(): number {
    return this.count;
  }

  add(gradients: ReadonlyMap<string, Float32Array>): void {
    for (const [name, gradient] of gradients) {
      const sum = this.sums.get(name);
      if (!sum) this.sums.set(name, Float32Array.from(gradient));
      else for (let i = 0; i < sum.length; i++) sum[i] = f(sum[i]! + gradient[i]!);
    }
    this.count++;
  }

  /** The mean gradient over the micro-batches added since the last reset (each of equal size). */
  mean(): Map<string, Float32Array> {
    if (this.count === 0) throw new UserError('invalid-argument', 'No gradients were accumulated.');
    const scale = f(1 / this.count);
    const result = new Map<string, Float32Array>();
    for (const [name, sum] of this.sums) result.set(name, this.count === 1 ? Float32Array.from(sum) : sum.map((v) => f(v * scale)));
    return result;
  }

  reset(): void {
    this.sums.clear();
    this.count = 0;
  }
}

/** The L2 norm over every gradient together (in double), as clip_grad_norm_ computes it before clipping. */
export function globalNorm(gradients: ReadonlyMap<string, Float32Array>): number {
  let squares = 0;
  for (const gradient of gradients.values()) for (let i = 0; i < gradient.length; i++) squares += gradient[i]! * gradient[i]!;
  return Math.sqrt(squares);
}

/**
 * Scales every gradient by maxNorm / (norm + 1e-6) when the global norm exceeds maxNorm (torch's
 * clip_grad_norm_), in place. Returns the norm before clipping (non-finite norms are returned as they
 * are and leave the gradients untouched: the caller stops the run).
 */
export function clipGlobalNorm(gradients: ReadonlyMap<string, Float32Array>, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new UserError('invalid-argument', `The gradient clipping norm must be positive, got ${maxNorm}.`);
  const norm = globalNorm(gradients);
  if (!Number.isFinite(norm)) return norm;
  const coefficient = maxNorm / (norm + 1e-6);
  if (coefficient < 1) {
    const scale = f(coefficient);
    for (const gradient of gradients.values()) for (let i = 0; i < gradient.length; i++) gradient[i] = f(gradient[i]! * scale);
  }
  return norm;
}
