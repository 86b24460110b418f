// Percentile bootstrap intervals over prompts (Efron & Tibshirani, "An Introduction to the Bootstrap",
// 1993, §13.3) for the reproduction's tables: the unit resampled is the prompt (or held-out image), so
// an interval says how much a mean would move with another draw of prompts from the same test split.
//
// Seeded and exact to rerun: resample r draws its n indices from its own stream (SceneRandom keyed by
// (seed, r)), so the intervals do not depend on the order in which tables are computed. Paired
// intervals (method A − method B on the same prompts) resample the same indices for both, which is what
// makes "AFA beats X" a statement about the difference rather than two overlapping intervals.
import { SceneRandom } from './scenes.ts';

export const BOOTSTRAP_RESAMPLES = 2000;
export const CONFIDENCE = 0.95;

export interface Estimate {
  readonly mean: number;
  /** The 2.5 % and 97.5 % percentiles of the resampled means (NaN for no data). */
  readonly low: number;
  readonly high: number;
  readonly n: number;
}

export interface BootstrapOptions {
  readonly seed: number;
  readonly resamples?: number;
  readonly confidence?: number;
}

function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum / values.length;
}

/** The q-quantile of sorted values by linear interpolation between order statistics (NumPy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const position = (n - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(n - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

/** The resampled means of `values` (one per resample, in resample order). */
function resampledMeans(values: ArrayLike<number>, options: BootstrapOptions): Float64Array {
  const n = values.length;
  const resamples = options.resamples ?? BOOTSTRAP_RESAMPLES;
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    const random = new SceneRandom([options.seed, r]);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[random.below(n)]!;
    means[r] = sum / n;
  }
  return means;
}

/** The mean of `values` with its percentile bootstrap interval. */
export function bootstrapMean(values: ArrayLike<number>, options: BootstrapOptions): Estimate {
  const n = values.length;
  if (n === 0) return { mean: NaN, low: NaN, high: NaN, n };
  const confidence = options.confidence ?? CONFIDENCE;
  const means = resampledMeans(values, options).sort();
  return { mean: mean(values), low: quantileSorted(means, (1 - confidence) / 2), high: quantileSorted(means, 1 - (1 - confidence) / 2), n };
}

/** The mean of a − b over paired observations (the same prompts), with its bootstrap interval. */
export function bootstrapDifference(a: ArrayLike<number>, b: ArrayLike<number>, options: BootstrapOptions): Estimate {
  if (a.length !== b.length) throw new RangeError(`paired bootstrap needs as many values on both sides (${a.length} ≠ ${b.length})`);
  const differences = Float64Array.from({ length: a.length }, (_, i) => a[i]! - b[i]!);
  return bootstrapMean(differences, options);
}

/** True when the interval lies entirely on one side of 0 (the difference is resolved at this confidence). */
export function excludesZero(estimate: Estimate): boolean {
  return estimate.low > 0 || estimate.high < 0;
}
