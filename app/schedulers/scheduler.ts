// The contract every sampler follows, diffusers' SchedulerMixin in TypeScript: construct from a config,
// setTimesteps(n), then for each t of `timesteps`: x_in = scaleModelInput(x, t), ε = U-Net(x_in, t),
// x = step(ε, t, x).prevSample. Samplers are stateful (multistep histories): one instance per generation.
// Latents are float32 [batch, 4, h, w]; step() works element-wise, so any shape is accepted as long as
// modelOutput and sample agree.
import type { Tensor } from '../tensor/tensor.ts';
import type { Seed } from './noise.ts';
import type { SchedulerConfig } from './scheduler-config.ts';

export interface StepOptions {
  /**
   * Standard normal noise of the sample's shape for this step (stochastic samplers only: Euler ancestral,
   * DDIM with η > 0). Golden tests pass diffusers' captured noise here. Takes precedence over `seed`.
   */
  readonly noise?: Tensor<'float32'>;
  /** The generation's seed: step i draws stream i + 1 of it (app/schedulers/noise.ts), whatever the call order. */
  readonly seed?: Seed;
  /** Index of `timestep` in `timesteps`; the sampler finds it itself when absent (it must agree if given). */
  readonly stepIndex?: number;
}

export interface StepResult {
  /** x at the next (smaller) timestep, same shape as the sample. */
  readonly prevSample: Tensor<'float32'>;
  /** The sampler's estimate of the clean latents x0, where the algorithm forms one (previews). */
  readonly predOriginalSample?: Tensor<'float32'>;
}

/**
 * One step written as x_prev = sample·x + modelOutput·ε + noise·z, with scalar coefficients (float32
 * values from the same rounded scalars the step uses); z is the step's standard normal noise (stream
 * stepIndex + 1 of the seed), needed only when `noise` ≠ 0. Device-resident loops run it as a small
 * graph on the GPU (app/pipeline/device-steps.ts). The result equals step()'s up to float32 rounding:
 * the coefficients fold the x0 form's divisions into two products.
 */
export interface LinearStep {
  readonly sample: number;
  readonly modelOutput: number;
  readonly noise: number;
}

export interface Scheduler {
  /** Frozen plain JSON that recreates this sampler (schedulerFromConfig in registry.ts); store it in history. */
  readonly config: Readonly<SchedulerConfig>;
  /** Standard deviation of the initial latents: sample N(0, 1) and multiply by it. */
  readonly initNoiseSigma: number;
  /**
   * The timesteps to run, after setTimesteps (empty before). Integers for DDIM, PNDM and DPM-Solver;
   * float64 values (not always whole) for Euler, Euler ancestral and LMS, exactly as diffusers makes them.
   * PNDM repeats one timestep (its PLMS warm-up): run the loop over this list, not over distinct values.
   */
  readonly timesteps: readonly number[];
  /** Model evaluations per timestep (diffusers' `order`; 1 for every sampler here). */
  readonly order: number;
  /** Chooses `steps` timesteps (1 ≤ steps ≤ numTrainTimesteps) and resets the sampler's history. */
  setTimesteps(steps: number): void;
  /** The U-Net input for timestep t (σ-based samplers divide by √(σ² + 1); others return the sample). */
  scaleModelInput(sample: Tensor<'float32'>, timestep: number): Tensor<'float32'>;
  /** One denoising step from t with the model's prediction (ε, x0 or v as the config says). */
  step(modelOutput: Tensor<'float32'>, timestep: number, sample: Tensor<'float32'>, options?: StepOptions): StepResult;
  /**
   * The factor scaleModelInput multiplies the sample by at `timestep`, and step() at `stepIndex` as a
   * LinearStep — for samplers whose step is one (first order, no history, no clipping); undefined
   * otherwise, and the loop keeps the latents on the host.
   */
  linearStep?(stepIndex: number): { readonly inputScale: number; readonly step: LinearStep } | undefined;
}
