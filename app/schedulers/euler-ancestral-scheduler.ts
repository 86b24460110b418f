// Euler ancestral sampling (k-diffusion's sample_euler_ancestral, η = 1), as diffusers 0.20.2's
// EulerAncestralDiscreteScheduler: each step goes down to σ_down with Euler's method and adds fresh
// noise of scale σ_up, where σ_up² + σ_down² = σ_next² and
//
//   σ_up = √(σ_next² · (σ_i² − σ_next²) / σ_i²),   σ_down = √(σ_next² − σ_up²)
//   x0 = x − σ_i·ε,  d = (x − x0) / σ_i,  x_next = x + d·(σ_down − σ_i) + σ_up·z
//
// z comes from StepOptions: the given noise, or stream i + 1 of the seed (noise.ts). σ and timesteps are
// the Euler scheduler's (sigma-schedule.ts; no Karras option in this class in 0.20.2).
import type { Tensor } from '../tensor/tensor.ts';
import { alphasCumprodOf } from './beta-schedule.ts';
import type { LinearStep, Scheduler, StepOptions, StepResult } from './scheduler.ts';
import type { EulerAncestralConfig } from './scheduler-config.ts';
import { discreteSigmaSchedule, trainingSigmas } from './sigma-schedule.ts';
import { checkSameShape, float32Like, findStepIndex, noiseForStep } from './step-inputs.ts';
import { checkStepCount } from './timestep-spacing.ts';

const f32 = Math.fround;
const NAME = 'Euler ancestral';

export class EulerAncestralScheduler implements Scheduler {
  readonly config: Readonly<EulerAncestralConfig>;
  readonly order = 1;
  /** σ_t of the training process, float32, t = 0 … T−1. */
  readonly trainingSigmas: Float32Array;
  private schedule: readonly number[] = [];
  private sigmaList: readonly number[];

  /** Takes a validated config (resolveSchedulerConfig / createScheduler in registry.ts). */
  constructor(config: EulerAncestralConfig) {
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
    const { timesteps, sigmas } = discreteSigmaSchedule(this.config, steps, this.trainingSigmas, false);
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
    const sigmaNext = this.sigmaList[index + 1]!;
    const sigmaSquared = f32(sigma * sigma);
    const nextSquared = f32(sigmaNext * sigmaNext);
    const sigmaUp = f32(Math.sqrt(f32(f32(nextSquared * f32(sigmaSquared - nextSquared)) / sigmaSquared)));
    const sigmaDown = f32(Math.sqrt(f32(nextSquared - f32(sigmaUp * sigmaUp))));
    const dt = f32(sigmaDown - sigma);
    // The last step (σ_next = 0) adds no noise, so it needs none.
    const noise = sigmaUp > 0 ? noiseForStep(sample, index, NAME, options) : undefined;
    const { predictionType } = this.config;
    const vScale = f32(-sigma / f32(Math.sqrt(f32(sigmaSquared + 1))));
    const vDivisor = f32(sigmaSquared + 1);
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
      const deterministic = f32(xi + f32(derivative * dt));
      prev[i] = noise === undefined ? deterministic : f32(deterministic + f32(noise[i]! * sigmaUp));
    }
    return { prevSample: float32Like(sample, prev), predOriginalSample: float32Like(sample, predOriginal) };
  }
  /** ε-prediction: x0 = x − σ·ε, d = ε, so x_next = x + dt·ε + σ_up·z (step()'s float32 scalars). */
  linearStep(stepIndex: number): { readonly inputScale: number; readonly step: LinearStep } | undefined {
    if (this.config.predictionType !== 'epsilon') return undefined;
    const sigma = this.sigmaList[stepIndex]!;
    const sigmaNext = this.sigmaList[stepIndex + 1]!;
    const sigmaSquared = f32(sigma * sigma);
    const nextSquared = f32(sigmaNext * sigmaNext);
    const sigmaUp = f32(Math.sqrt(f32(f32(nextSquared * f32(sigmaSquared - nextSquared)) / sigmaSquared)));
    const sigmaDown = f32(Math.sqrt(f32(nextSquared - f32(sigmaUp * sigmaUp))));
    const divisor = f32(Math.sqrt(f32(sigmaSquared + 1)));
    return { inputScale: 1 / divisor, step: { sample: 1, modelOutput: f32(sigmaDown - sigma), noise: sigmaUp } };
  }
}
