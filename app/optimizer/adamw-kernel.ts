// The AdamW update of a range of one parameter tensor (app/optimizer/adamw.ts has the formula and why
// every operation is rounded to float32). Shared by the optimizer on the engine's main thread and the
// inference thread, which takes part of each update (AdamW.updateInParallel): one function, so both
// threads compute every element bit for bit alike and a step's result does not depend on the split.

/** The step's scalars, already rounded to float32 where torch hands them to its kernel. */
export interface AdamWScalars {
  readonly decay: number;
  readonly keep1: number;
  readonly take1: number;
  readonly keep2: number;
  readonly take2: number;
  readonly stepSize: number;
  readonly correction2: number;
  readonly epsilon: number;
}

/** Elements [from, to) of a parameter, its gradient and both moments (updated in place). */
export interface AdamWSlice {
  readonly p: Float32Array;
  readonly g: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly from: number;
  readonly to: number;
}

const f = Math.fround;

export function adamwSlice(slice: AdamWSlice, k: AdamWScalars): void {
  const { p, g, m, v, from, to } = slice;
  const { decay, keep1, take1, keep2, take2, stepSize, correction2, epsilon } = k;
  for (let i = from; i < to; i++) {
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
