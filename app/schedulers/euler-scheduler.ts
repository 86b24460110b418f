// Euler's method on the probability-flow ODE in σ-space (Karras et al. 2022, Algorithm 2 with no churn),
// as diffusers 0.20.2's EulerDiscreteScheduler: x is scaled by 1/√(σ² + 1) for the U-Net, and
//
//   x0 = x − σ_i·ε,   d = (x − x0) / σ_i,   x_{i+1} = x + d·(σ_{i+1} − σ_i)
//
// σ_i are float32 (set by sigma-schedule.ts); every product is rounded to float32 as torch does.
import type { Tensor } from '../tensor/tensor.ts';
import { alphasCumprodOf } from './beta-schedule.ts';
import type { LinearStep, Scheduler, StepOptions, StepResult } from './scheduler.ts';
import type { EulerConfig } from './scheduler-config.ts';
import { discreteSigmaSchedule, trainingSigmas } from './sigma-schedule.ts';
import { checkSameShape, float32Like, findStepIndex } from './step-inputs.ts';
import { checkStepCount } from './timestep-spacing.ts';

const f32 = Math.fround;
const NAME = 'Euler';

export class EulerScheduler implements Scheduler {
  readonly config: Readonly<EulerConfig>;
  readonly order = 1;
  /** σ_t of the training process, float32, t = 0 … T−1. */
  readonly trainingSigmas: Float32Array;
  private schedule: readonly number[] = [];
  private sigmaList: readonly number[];

  /** Takes a validated config (resolveSchedulerConfig / createScheduler in registry.ts). */
  constructor(config: EulerConfig) {
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
  }

  scaleModelInput(sample: Tensor<'float32'>, timestep: number): Tensor<'float32'> {
    const sigma = this.sigmaList[findStepIndex(this.schedule, timestep, NAME)]!;
    const divisor = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
    return float32Like(sample, sample.data.map((value) => value / divisor));
  }

  step(modelOutput: Tensor<'float32'>, timestep: number, sample: Tensor<'float32'>, options?: StepOptions): StepResult {
    checkSameShape(modelOutput, sample, NAME);
    const index = findStepIndex(this.schedule, timestep, NAME, options);
    const sigma = this.sigmaList[index]!;
    const dt = f32(this.sigmaList[index + 1]! - sigma);
    const { predictionType } = this.config;
    const vScale = f32(-sigma / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
    const vDivisor = f32(f32(sigma * sigma) + 1);
    const x = sample.data;
    const output = modelOutput.data;
    const predOriginal = new Float32Array(x.length);
    const prev = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i]!;
      const oi = output[i]!;
      let x0: number;
      if (predictionType === 'epsilon') x0 = f32(xi - f32(sigma * oi));
      else if (predictionType === 'v_prediction') x0 = f32(f32(oi * vScale) + f32(xi / vDivisor));
      else x0 = oi;
      const derivative = f32(f32(xi - x0) / sigma);
      predOriginal[i] = x0;
      prev[i] = f32(xi + f32(derivative * dt));
    }
    return { prevSample: float32Like(sample, prev), predOriginalSample: float32Like(sample, predOriginal) };
  }
  /**
   * ε-prediction without churn (this class has none): x0 = x − σ·ε, d = ε, so x_next = x + dt·ε
   * (step()'s float32 scalars).
   */
  linearStep(stepIndex: number): { readonly inputScale: number; readonly step: LinearStep } | undefined {
    if (this.config.predictionType !== 'epsilon') return undefined;
    const sigma = this.sigmaList[stepIndex]!;
    const divisor = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
    return { inputScale: 1 / divisor, step: { sample: 1, modelOutput: f32(this.sigmaList[stepIndex + 1]! - sigma), noise: 0 } };
  }
}
