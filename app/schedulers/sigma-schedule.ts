// σ-space helpers of the Karras-style samplers (Euler, Euler ancestral, LMS, DPM-Solver's Karras option),
// with diffusers 0.20.2's dtypes: the training table σ_t = √((1 − ᾱ_t) / ᾱ_t) is computed by torch in
// float32; interpolation (np.interp), Karras' ρ-schedule and σ → t conversion run in numpy float64 on it.
import type { TimestepSpacing } from './scheduler-config.ts';
import { leadingTimesteps, numpyLinspace, roundHalfEven, trailingTimesteps } from './timestep-spacing.ts';

const f32 = Math.fround;

/** σ_t for t = 0 … T−1, float32, ascending in t (diffusers: `((1 - alphas_cumprod) / alphas_cumprod) ** 0.5`). */
export function trainingSigmas(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((alphaBar) => f32(Math.sqrt(f32(f32(1 - alphaBar) / alphaBar))));
}

/** np.log of a float32 array: float32 results. */
export function logOfFloat32(values: Float32Array): Float32Array {
  return values.map((value) => f32(Math.log(value)));
}

/**
 * np.interp(x, arange(len(table)), table) in float64: table[j] + slope·(x − j) with j = ⌊x⌋, the table value
 * itself at whole x, and the end values outside the range.
 */
export function interpolateTable(positions: readonly number[], table: Float32Array): number[] {
  const last = table.length - 1;
  return positions.map((x) => {
    if (x <= 0) return table[0]!;
    if (x >= last) return table[last]!;
    const j = Math.floor(x);
    if (x === j) return table[j]!;
    const slope = table[j + 1]! - table[j]!;
    return slope * (x - j) + table[j]!;
  });
}

/**
 * Karras et al. 2022, eq. (5) with ρ = 7 (diffusers' `_convert_to_karras`): n sigmas from `first` to
 * `last`, evenly spaced in σ^(1/ρ). diffusers passes its input table's first and last entries, so the
 * direction follows that table (Euler/LMS: descending; DPM-Solver: ascending).
 */
export function karrasSigmas(first: number, last: number, steps: number): number[] {
  const rho = 7;
  const firstRoot = first ** (1 / rho);
  const lastRoot = last ** (1 / rho);
  return numpyLinspace(0, 1, steps).map((ramp) => (firstRoot + ramp * (lastRoot - firstRoot)) ** rho);
}

/**
 * diffusers' `_sigma_to_t`: the fractional training timestep whose σ is `sigma`, by linear interpolation
 * in log σ between neighbouring entries of `logSigmas` (float32, ascending). Mirrors its dtypes: the
 * difference of the two float32 neighbours is a float32 subtraction.
 */
export function sigmaToTimestep(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(sigma);
  // Last index whose log σ ≤ log(sigma) (numpy: cumsum(dists >= 0).argmax()), at most len − 2.
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i]! >= 0) low = i;
  low = Math.min(low, logSigmas.length - 2);
  const lowLog = logSigmas[low]!;
  const highLog = logSigmas[low + 1]!;
  const weight = Math.min(1, Math.max(0, (lowLog - logSigma) / f32(lowLog - highLog)));
  return (1 - weight) * low + weight * (low + 1);
}

/** sigmaToTimestep, rounded half to even (DPM-Solver rounds its Karras timesteps to integers). */
export function sigmaToWholeTimestep(sigma: number, logSigmas: Float32Array): number {
  return roundHalfEven(sigmaToTimestep(sigma, logSigmas));
}

export interface SigmaSchedule {
  /** float64 timesteps, descending (not always whole numbers). */
  readonly timesteps: readonly number[];
  /** σ per timestep plus a final 0, float32 values (n + 1 entries). */
  readonly sigmas: readonly number[];
}

/**
 * The set_timesteps of diffusers 0.20.2's Euler, Euler ancestral and LMS schedulers: float timesteps by
 * `timestepSpacing` (linspace is not rounded), σ by np.interp in the float32 training table, optionally
 * replaced by Karras sigmas (with timesteps mapped back through log σ), then a final σ = 0 appended.
 */
export function discreteSigmaSchedule(
  config: { readonly numTrainTimesteps: number; readonly timestepSpacing: TimestepSpacing; readonly stepsOffset: number },
  steps: number,
  table: Float32Array,
  useKarrasSigmas: boolean,
): SigmaSchedule {
  const trainSteps = config.numTrainTimesteps;
  let timesteps: number[];
  if (config.timestepSpacing === 'linspace') timesteps = numpyLinspace(0, trainSteps - 1, steps).reverse();
  else if (config.timestepSpacing === 'leading') timesteps = leadingTimesteps(trainSteps, steps, config.stepsOffset);
  else timesteps = trailingTimesteps(trainSteps, steps);
  let sigmas = interpolateTable(timesteps, table);
  if (useKarrasSigmas) {
    const logSigmas = logOfFloat32(table);
    sigmas = karrasSigmas(sigmas[0]!, sigmas[sigmas.length - 1]!, steps);
    timesteps = sigmas.map((sigma) => sigmaToTimestep(sigma, logSigmas));
  }
  return { timesteps, sigmas: [...sigmas.map(f32), 0] };
}
