// DDIM (Song, Meng & Ermon, "Denoising Diffusion Implicit Models", ICLR 2021, eq. 12 and 16), as
// diffusers 0.20.2's DDIMScheduler computes it. Scalars are float32 0-d tensors there (ᾱ is a float32
// table), so every product below is rounded to float32 in the same order as torch evaluates it.
//
//   x0 = (x_t − √(1−ᾱ_t)·ε) / √ᾱ_t
//   σ_t = η · √((1−ᾱ_prev)/(1−ᾱ_t) · (1 − ᾱ_t/ᾱ_prev))
//   x_prev = √ᾱ_prev·x0 + √(1 − ᾱ_prev − σ_t²)·ε + σ_t·z,  z ~ N(0, I) only when η > 0
//
// with prev = t − ⌊T/n⌋ (diffusers uses this even for 'linspace'/'trailing' spacing) and ᾱ_prev = ᾱ_0
// (or 1 with setAlphaToOne) past the end.
import { EngineError } from '../common/errors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { alphasCumprodOf } from './beta-schedule.ts';
import type { LinearStep, Scheduler, StepOptions, StepResult } from './scheduler.ts';
import type { DdimConfig } from './scheduler-config.ts';
import { checkSameShape, float32Like, findStepIndex, noiseForStep, requireTimesteps } from './step-inputs.ts';
import { checkStepCount, leadingTimesteps, numpyLinspace, roundHalfEven, trailingTimesteps } from './timestep-spacing.ts';

const f32 = Math.fround;
const NAME = 'DDIM';

export class DdimScheduler implements Scheduler {
  readonly config: Readonly<DdimConfig>;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  /** ᾱ_t, float32, t = 0 … T−1. */
  readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private schedule: readonly number[] = [];
  private inferenceSteps = 0;

  /** Takes a validated config (resolveSchedulerConfig / createScheduler in registry.ts). */
  constructor(config: DdimConfig) {
    this.config = Object.freeze({ ...config });
    this.alphasCumprod = alphasCumprodOf(config, { rescaleZeroSnr: config.rescaleBetasZeroSnr });
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.alphasCumprod[0]!;
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  setTimesteps(steps: number): void {
    const { numTrainTimesteps: trainSteps, timestepSpacing, stepsOffset } = this.config;
    checkStepCount(steps, trainSteps);
    let timesteps: number[];
    if (timestepSpacing === 'linspace') timesteps = numpyLinspace(0, trainSteps - 1, steps).map(roundHalfEven).reverse();
    else if (timestepSpacing === 'leading') timesteps = leadingTimesteps(trainSteps, steps, stepsOffset);
    else timesteps = trailingTimesteps(trainSteps, steps);
    this.schedule = Object.freeze(timesteps);
    this.inferenceSteps = steps;
  }

  scaleModelInput(sample: Tensor<'float32'>, _timestep: number): Tensor<'float32'> {
    return sample;
  }

  /** The float32 scalars of the step from `timestep`, shared by step() and linearStep() so both round alike. */
  #coefficients(timestep: number) {
    const eta = f32(this.config.eta);
    const prevTimestep = timestep - Math.floor(this.config.numTrainTimesteps / this.inferenceSteps);
    const alphaProd = this.alphaAt(timestep);
    const alphaProdPrev = prevTimestep >= 0 ? this.alphaAt(prevTimestep) : this.finalAlphaCumprod;
    const betaProd = f32(1 - alphaProd);
    const sqrtAlpha = f32(Math.sqrt(alphaProd));
    const sqrtBeta = f32(Math.sqrt(betaProd));
    const sqrtAlphaPrev = f32(Math.sqrt(alphaProdPrev));
    const variance = f32(f32(f32(1 - alphaProdPrev) / betaProd) * f32(1 - f32(alphaProd / alphaProdPrev)));
    const stdDev = f32(eta * f32(Math.sqrt(variance)));
    const directionCoefficient = f32(Math.sqrt(f32(f32(1 - alphaProdPrev) - f32(stdDev * stdDev))));
    return { eta, sqrtAlpha, sqrtBeta, sqrtAlphaPrev, stdDev, directionCoefficient };
  }

  step(modelOutput: Tensor<'float32'>, timestep: number, sample: Tensor<'float32'>, options?: StepOptions): StepResult {
    requireTimesteps(this.schedule, NAME);
    checkSameShape(modelOutput, sample, NAME);
    const { clipSample, clipSampleRange, predictionType } = this.config;
    const { eta, sqrtAlpha, sqrtBeta, sqrtAlphaPrev, stdDev, directionCoefficient } = this.#coefficients(timestep);
    const noise = eta > 0 ? noiseForStep(sample, findStepIndex(this.schedule, timestep, NAME, options), NAME, options) : undefined;

    const x = sample.data;
    const output = modelOutput.data;
    const size = x.length;
    const predOriginal = new Float32Array(size);
    const prev = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const xi = x[i]!;
      const oi = output[i]!;
      let x0: number;
      let epsilon: number;
      if (predictionType === 'epsilon') {
        x0 = f32(f32(xi - f32(sqrtBeta * oi)) / sqrtAlpha);
        epsilon = oi;
      } else if (predictionType === 'sample') {
        x0 = oi;
        epsilon = f32(f32(xi - f32(sqrtAlpha * x0)) / sqrtBeta);
      } else {
        x0 = f32(f32(sqrtAlpha * xi) - f32(sqrtBeta * oi));
        epsilon = f32(f32(sqrtAlpha * oi) + f32(sqrtBeta * xi));
      }
      if (clipSample) x0 = Math.min(clipSampleRange, Math.max(-clipSampleRange, x0));
      let value = f32(f32(sqrtAlphaPrev * x0) + f32(directionCoefficient * epsilon));
      if (noise !== undefined) value = f32(value + f32(stdDev * noise[i]!));
      predOriginal[i] = x0;
      prev[i] = value;
    }
    return { prevSample: float32Like(sample, prev), predOriginalSample: float32Like(sample, predOriginal) };
  }

  /**
   * ε-prediction without clipping: x_prev = √ᾱ_prev·(x − √(1−ᾱ_t)·ε)/√ᾱ_t + dir·ε + σ_t·z
   * = (√ᾱ_prev/√ᾱ_t)·x + (dir − √ᾱ_prev·√(1−ᾱ_t)/√ᾱ_t)·ε + σ_t·z, from step()'s own float32 scalars.
   */
  linearStep(stepIndex: number): { readonly inputScale: number; readonly step: LinearStep } | undefined {
    requireTimesteps(this.schedule, NAME);
    if (this.config.predictionType !== 'epsilon' || this.config.clipSample) return undefined;
    const timestep = this.schedule[stepIndex];
    if (timestep === undefined) throw new EngineError(`${NAME}: step index ${stepIndex} is outside the ${this.schedule.length} steps.`);
    const { eta, sqrtAlpha, sqrtBeta, sqrtAlphaPrev, stdDev, directionCoefficient } = this.#coefficients(timestep);
    return {
      inputScale: 1,
      step: {
        sample: sqrtAlphaPrev / sqrtAlpha,
        modelOutput: directionCoefficient - (sqrtAlphaPrev * sqrtBeta) / sqrtAlpha,
        noise: eta > 0 ? stdDev : 0,
      },
    };
  }

  private alphaAt(timestep: number): number {
    const alpha = this.alphasCumprod[timestep];
    if (!Number.isInteger(timestep) || alpha === undefined) {
      throw new EngineError(`${NAME}: timestep ${timestep} is outside 0 … ${this.alphasCumprod.length - 1}.`);
    }
    return alpha;
  }
}
