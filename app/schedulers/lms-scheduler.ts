// Linear multistep (k-diffusion's sample_lms, order 4), as diffusers 0.20.2's LMSDiscreteScheduler:
//
//   x0 = x − σ_i·ε,  d_i = (x − x0) / σ_i,  x_{i+1} = x + Σ_k c_k · d_{i−k}
//
// where c_k = ∫_{σ_i}^{σ_{i+1}} ℓ_k(τ) dτ integrates the Lagrange basis polynomial ℓ_k through the last
// `order` σ values (order = min(i + 1, 4)). diffusers integrates with scipy.integrate.quad (adaptive
// Gauss–Kronrod, epsrel 1e-4); ℓ_k has degree order − 1 ≤ 3, so a 4-point Gauss–Legendre rule gives the
// exact integral up to float64 rounding. Timesteps and σ are the Euler scheduler's (sigma-schedule.ts).
import type { Tensor } from '../tensor/tensor.ts';
import { alphasCumprodOf } from './beta-schedule.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import type { LmsConfig } from './scheduler-config.ts';
import { discreteSigmaSchedule, trainingSigmas } from './sigma-schedule.ts';
import { checkSameShape, float32Like, findStepIndex } from './step-inputs.ts';
import { checkStepCount } from './timestep-spacing.ts';

const f32 = Math.fround;
const NAME = 'LMS';
const MAX_ORDER = 4;

/** 4-point Gauss–Legendre nodes ±√(3/7 ∓ 2/7·√(6/5)) and weights (18 ± √30)/36 on [−1, 1]. */
const GAUSS_NODES = [
  -Math.sqrt(3 / 7 + (2 / 7) * Math.sqrt(6 / 5)),
  -Math.sqrt(3 / 7 - (2 / 7) * Math.sqrt(6 / 5)),
  Math.sqrt(3 / 7 - (2 / 7) * Math.sqrt(6 / 5)),
  Math.sqrt(3 / 7 + (2 / 7) * Math.sqrt(6 / 5)),
];
const GAUSS_WEIGHTS = [(18 - Math.sqrt(30)) / 36, (18 + Math.sqrt(30)) / 36, (18 + Math.sqrt(30)) / 36, (18 - Math.sqrt(30)) / 36];

/**
 * ∫_from^to ℓ(τ) dτ for the Lagrange basis polynomial ℓ that is 1 at nodes[current] and 0 at the other
 * nodes (diffusers' get_lms_coefficient with nodes = σ_t, σ_{t−1}, …).
 */
export function lagrangeBasisIntegral(nodes: readonly number[], current: number, from: number, to: number): number {
  const half = (to - from) / 2;
  const middle = (to + from) / 2;
  let sum = 0;
  for (let q = 0; q < GAUSS_NODES.length; q++) {
    const tau = middle + half * GAUSS_NODES[q]!;
    let product = 1;
    for (let k = 0; k < nodes.length; k++) {
      if (k !== current) product *= (tau - nodes[k]!) / (nodes[current]! - nodes[k]!);
    }
    sum += GAUSS_WEIGHTS[q]! * product;
  }
  return sum * half;
}

export class LmsScheduler implements Scheduler {
  readonly config: Readonly<LmsConfig>;
  readonly order = 1;
  /** σ_t of the training process, float32, t = 0 … T−1. */
  readonly trainingSigmas: Float32Array;
  private schedule: readonly number[] = [];
  private sigmaList: readonly number[];
  /** The last ≤ 4 derivatives d, oldest first. */
  private derivatives: Float32Array[] = [];

  /** Takes a validated config (resolveSchedulerConfig / createScheduler in registry.ts). */
  constructor(config: LmsConfig) {
    this.config = Object.freeze({ ...config });
    this.trainingSigmas = trainingSigmas(alphasCumprodOf(config));
    this.sigmaList = [...this.trainingSigmas].reverse().concat(0);
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  /** σ for each timestep, then 0 (float32 values, n + 1 entries). */
  get sigmas(): readonly number[] {
    return this.sigmaList;
  }

  get initNoiseSigma(): number {
    const largest = Math.max(...this.sigmaList);
    if (this.config.timestepSpacing === 'leading') return f32(Math.sqrt(f32(f32(largest * largest) + 1)));
    return largest;
  }

  setTimesteps(steps: number): void {
    checkStepCount(steps, this.config.numTrainTimesteps);
    const { timesteps, sigmas } = discreteSigmaSchedule(this.config, steps, this.trainingSigmas, this.config.useKarrasSigmas);
    this.schedule = Object.freeze(timesteps);
    this.sigmaList = Object.freeze(sigmas);
    this.derivatives = [];
  }

  scaleModelInput(sample: Tensor<'float32'>, timestep: number): Tensor<'float32'> {
    const sigma = this.sigmaList[findStepIndex(this.schedule, timestep, NAME)]!;
    const divisor = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
    return float32Like(sample, sample.data.map((value) => value / divisor));
  }

  /** The coefficients c_0 … c_{order−1} of step `index` (c_0 pairs with the newest derivative), float32. */
  coefficients(index: number, order: number): number[] {
    const nodes = Array.from({ length: order }, (_, k) => this.sigmaList[index - k]!);
    const from = this.sigmaList[index]!;
    const to = this.sigmaList[index + 1]!;
    return nodes.map((_, current) => f32(lagrangeBasisIntegral(nodes, current, from, to)));
  }

  step(modelOutput: Tensor<'float32'>, timestep: number, sample: Tensor<'float32'>, options?: StepOptions): StepResult {
    checkSameShape(modelOutput, sample, NAME);
    const index = findStepIndex(this.schedule, timestep, NAME, options);
    const sigma = this.sigmaList[index]!;
    const { predictionType } = this.config;
    const vScale = f32(-sigma / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
    const vDivisor = f32(f32(sigma * sigma) + 1);
    const x = sample.data;
    const output = modelOutput.data;
    const size = x.length;
    const predOriginal = new Float32Array(size);
    const derivative = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const xi = x[i]!;
      const oi = output[i]!;
      let x0: number;
      if (predictionType === 'epsilon') x0 = f32(xi - f32(sigma * oi));
      else if (predictionType === 'v_prediction') x0 = f32(f32(oi * vScale) + f32(xi / vDivisor));
      else x0 = oi;
      predOriginal[i] = x0;
      derivative[i] = f32(xi - x0) / sigma;
    }
    this.derivatives.push(derivative);
    if (this.derivatives.length > MAX_ORDER) this.derivatives.shift();
    const order = Math.min(index + 1, MAX_ORDER, this.derivatives.length);
    const coefficients = this.coefficients(index, order);
    // diffusers: sample + sum(c * d for c, d in zip(coefficients, reversed(derivatives))), in float32;
    // the Float32Array rounds every partial sum.
    const sum = new Float32Array(size);
    for (let k = 0; k < order; k++) {
      const coefficient = coefficients[k]!;
      const older = this.derivatives[this.derivatives.length - 1 - k]!;
      for (let i = 0; i < size; i++) sum[i] = sum[i]! + f32(coefficient * older[i]!);
    }
    const prev = new Float32Array(size);
    for (let i = 0; i < size; i++) prev[i] = x[i]! + sum[i]!;
    return { prevSample: float32Like(sample, prev), predOriginalSample: float32Like(sample, predOriginal) };
  }
}
