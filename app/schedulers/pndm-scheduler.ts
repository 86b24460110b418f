// PLMS, the pseudo linear multistep sampler (Liu et al., "Pseudo Numerical Methods for Diffusion Models on
// Manifolds", ICLR 2022), as diffusers 0.20.2's PNDMScheduler runs it with skip_prk_steps (SD1.5's
// config). The ε used at each step is an Adams–Bashforth combination of the latest predictions:
//
//   1 prediction: ε_0 (then the second timestep repeats the first transition with (ε_0 + ε_1)/2)
//   2: (3ε_1 − ε_0)/2    3: (23ε_2 − 16ε_1 + 5ε_0)/12    4: (55ε_3 − 59ε_2 + 37ε_1 − 9ε_0)/24
//
// and the transfer from t to prev = t − ⌊T/n⌋ is PNDM's eq. (9):
//   x_prev = √(ᾱ_prev/ᾱ_t)·x − (ᾱ_prev − ᾱ_t)·ε / (ᾱ_t·√(1−ᾱ_prev) + √(ᾱ_t·(1−ᾱ_t)·ᾱ_prev))
// The timestep list has n + 1 entries: the warm-up repeats the second timestep. Float32 as torch.
import { EngineError } from '../common/errors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { alphasCumprodOf } from './beta-schedule.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import type { PndmConfig } from './scheduler-config.ts';
import { checkSameShape, float32Like, requireTimesteps } from './step-inputs.ts';
import { checkStepCount, leadingTimesteps, numpyArange, numpyLinspace, roundHalfEven } from './timestep-spacing.ts';

const f32 = Math.fround;
const NAME = 'PNDM';

export class PndmScheduler implements Scheduler {
  readonly config: Readonly<PndmConfig>;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  /** ᾱ_t, float32, t = 0 … T−1. */
  readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private schedule: readonly number[] = [];
  private inferenceSteps = 0;
  /** Model outputs ε of the steps so far (at most 4 kept), oldest first. */
  private history: Float32Array[] = [];
  private counter = 0;
  /** The sample of the first step, which the warm-up step restarts from. */
  private warmupSample: Float32Array | undefined;

  /** Takes a validated config (resolveSchedulerConfig / createScheduler in registry.ts). */
  constructor(config: PndmConfig) {
    this.config = Object.freeze({ ...config });
    this.alphasCumprod = alphasCumprodOf(config);
    this.finalAlphaCumprod = config.setAlphaToOne ? 1 : this.alphasCumprod[0]!;
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  setTimesteps(steps: number): void {
    const { numTrainTimesteps: trainSteps, timestepSpacing, stepsOffset } = this.config;
    checkStepCount(steps, trainSteps);
    // Ascending, as diffusers' `_timesteps`.
    let ascending: number[];
    if (timestepSpacing === 'linspace') ascending = numpyLinspace(0, trainSteps - 1, steps).map(roundHalfEven);
    else if (timestepSpacing === 'leading') ascending = leadingTimesteps(trainSteps, steps, stepsOffset).reverse();
    else ascending = numpyArange(trainSteps, 0, -trainSteps / steps).map((t) => roundHalfEven(t) - 1).reverse();
    // plms_timesteps = concat(_timesteps[:-1], _timesteps[-2:-1], _timesteps[-1:])[::-1]
    const plms = [...ascending.slice(0, -1), ...ascending.slice(-2, -1), ...ascending.slice(-1)].reverse();
    this.schedule = Object.freeze(plms);
    this.inferenceSteps = steps;
    this.history = [];
    this.counter = 0;
    this.warmupSample = undefined;
  }

  scaleModelInput(sample: Tensor<'float32'>, _timestep: number): Tensor<'float32'> {
    return sample;
  }

  step(modelOutput: Tensor<'float32'>, timestep: number, sample: Tensor<'float32'>, _options?: StepOptions): StepResult {
    requireTimesteps(this.schedule, NAME);
    checkSameShape(modelOutput, sample, NAME);
    const ratio = Math.floor(this.config.numTrainTimesteps / this.inferenceSteps);
    let from = timestep;
    let to = timestep - ratio;
    if (this.counter !== 1) {
      this.history = this.history.slice(-3);
      this.history.push(Float32Array.from(modelOutput.data));
    } else {
      // The warm-up step redoes the first transition (t + ratio → t) with the averaged ε.
      to = timestep;
      from = timestep + ratio;
    }
    const output = modelOutput.data;
    const size = output.length;
    const epsilon = new Float32Array(size);
    let x = sample.data;
    const e = this.history;
    const n = e.length;
    if (n === 1 && this.counter === 0) {
      epsilon.set(output);
      this.warmupSample = Float32Array.from(x);
    } else if (n === 1 && this.counter === 1) {
      if (this.warmupSample === undefined) throw new EngineError(`${NAME}: the warm-up step ran without a first step.`);
      for (let i = 0; i < size; i++) epsilon[i] = f32(output[i]! + e[0]![i]!) / 2;
      x = this.warmupSample;
      this.warmupSample = undefined;
    } else if (n === 2) {
      for (let i = 0; i < size; i++) epsilon[i] = f32(f32(3 * e[1]![i]!) - e[0]![i]!) / 2;
    } else if (n === 3) {
      for (let i = 0; i < size; i++) {
        epsilon[i] = f32(f32(f32(23 * e[2]![i]!) - f32(16 * e[1]![i]!)) + f32(5 * e[0]![i]!)) / 12;
      }
    } else {
      const sixth = f32(1 / 24);
      for (let i = 0; i < size; i++) {
        const sum = f32(f32(f32(f32(55 * e[3]![i]!) - f32(59 * e[2]![i]!)) + f32(37 * e[1]![i]!)) - f32(9 * e[0]![i]!));
        epsilon[i] = sixth * sum;
      }
    }
    const prev = this.transfer(x, from, to, epsilon);
    this.counter++;
    return { prevSample: float32Like(sample, prev) };
  }

  /** PNDM eq. (9): x at `from` → x at `to`, given ε (float32 as diffusers' _get_prev_sample). */
  private transfer(x: Float32Array, from: number, to: number, epsilon: Float32Array): Float32Array {
    const alphaProd = this.alphaAt(from);
    const alphaProdPrev = to >= 0 ? this.alphaAt(to) : this.finalAlphaCumprod;
    const betaProd = f32(1 - alphaProd);
    const betaProdPrev = f32(1 - alphaProdPrev);
    if (this.config.predictionType === 'v_prediction') {
      const sqrtAlpha = f32(Math.sqrt(alphaProd));
      const sqrtBeta = f32(Math.sqrt(betaProd));
      for (let i = 0; i < x.length; i++) epsilon[i] = f32(f32(sqrtAlpha * epsilon[i]!) + f32(sqrtBeta * x[i]!));
    }
    const sampleCoefficient = f32(Math.sqrt(f32(alphaProdPrev / alphaProd)));
    const denominator = f32(
      f32(alphaProd * f32(Math.sqrt(betaProdPrev))) + f32(Math.sqrt(f32(f32(alphaProd * betaProd) * alphaProdPrev))),
    );
    const alphaDifference = f32(alphaProdPrev - alphaProd);
    const prev = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      prev[i] = f32(sampleCoefficient * x[i]!) - f32(f32(alphaDifference * epsilon[i]!) / denominator);
    }
    return prev;
  }

  private alphaAt(timestep: number): number {
    const alpha = this.alphasCumprod[timestep];
    if (!Number.isInteger(timestep) || alpha === undefined) {
      throw new EngineError(`${NAME}: timestep ${timestep} is outside 0 … ${this.alphasCumprod.length - 1}.`);
    }
    return alpha;
  }
}
