// DPM-Solver++(2M) (Lu et al., "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic
// Models", 2022, Algorithm 2) and its relatives, as diffusers 0.20.2's DPMSolverMultistepScheduler.
// With α_t = √ᾱ_t, σ_t = √(1−ᾱ_t), λ_t = log α_t − log σ_t (float32 tables indexed by integer timestep),
// h = λ_t − λ_s and the model output converted to a data prediction D (x0) for 'dpmsolver++':
//
//   1st order:  x_t = (σ_t/σ_s)·x − α_t·(e^{−h} − 1)·D_0
//   2nd order (midpoint), r = h_0/h, D_1 = (D_0 − D_{−1})/r:
//               x_t = (σ_t/σ_s)·x − α_t·(e^{−h} − 1)·D_0 − ½·α_t·(e^{−h} − 1)·D_1
//
// 0.20.2 quirks kept on purpose (the golden chains follow them): the last step lands on timestep 0 (not
// σ = 0), first-order final steps only when fewer than 15 steps run, and Karras sigmas only move the
// (rounded, de-duplicated) integer timesteps — step() still reads the α/σ/λ tables.
import { EngineError } from '../common/errors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { alphasCumprodOf } from './beta-schedule.ts';
import type { Scheduler, StepOptions, StepResult } from './scheduler.ts';
import type { DpmSolverMultistepConfig } from './scheduler-config.ts';
import { karrasSigmas, logOfFloat32, sigmaToWholeTimestep, trainingSigmas } from './sigma-schedule.ts';
import { checkSameShape, float32Like, findStepIndex } from './step-inputs.ts';
import { checkStepCount, numpyArange, numpyLinspace, roundHalfEven } from './timestep-spacing.ts';

const f32 = Math.fround;
const NAME = 'DPM-Solver++';

export class DpmSolverMultistepScheduler implements Scheduler {
  readonly config: Readonly<DpmSolverMultistepConfig>;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  /** α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t), λ_t = log α_t − log σ_t; float32, t = 0 … T−1. */
  readonly alphaTable: Float32Array;
  readonly sigmaTable: Float32Array;
  readonly lambdaTable: Float32Array;
  private readonly trainingSigmaTable: Float32Array;
  private schedule: readonly number[] = [];
  private sigmaList: readonly number[];
  /** Converted model outputs of the last `solverOrder` steps, oldest first. */
  private outputs: Float32Array[] = [];
  private lowerOrderCount = 0;

  /** Takes a validated config (resolveSchedulerConfig / createScheduler in registry.ts). */
  constructor(config: DpmSolverMultistepConfig) {
    this.config = Object.freeze({ ...config });
    const alphasCumprod = alphasCumprodOf(config);
    this.alphaTable = alphasCumprod.map((alphaBar) => f32(Math.sqrt(alphaBar)));
    this.sigmaTable = alphasCumprod.map((alphaBar) => f32(Math.sqrt(f32(1 - alphaBar))));
    this.lambdaTable = this.alphaTable.map((alpha, t) => f32(f32(Math.log(alpha)) - f32(Math.log(this.sigmaTable[t]!))));
    this.trainingSigmaTable = trainingSigmas(alphasCumprod);
    this.sigmaList = [...this.trainingSigmaTable];
  }

  get useKarrasSigmas(): boolean {
    return this.config.sampler === 'dpmpp-2m-karras';
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  /**
   * What diffusers 0.20.2 leaves in `scheduler.sigmas`: the Karras sigmas (ascending, float64, one per
   * requested step) with Karras, else the training σ table. step() reads neither.
   */
  get sigmas(): readonly number[] {
    return this.sigmaList;
  }

  setTimesteps(steps: number): void {
    const { numTrainTimesteps: trainSteps, timestepSpacing, stepsOffset, lambdaMinClipped } = this.config;
    checkStepCount(steps, trainSteps);
    // torch.searchsorted(flip(λ), λ_min): how many λ lie below the clip; those timesteps are dropped.
    const clipped = lambdaMinClipped === null ? 0 : this.lambdaTable.filter((lambda) => lambda < lambdaMinClipped).length;
    const lastTimestep = trainSteps - clipped;
    let timesteps: number[];
    if (timestepSpacing === 'linspace') {
      timesteps = numpyLinspace(0, lastTimestep - 1, steps + 1).map(roundHalfEven).reverse().slice(0, -1);
    } else if (timestepSpacing === 'leading') {
      const ratio = Math.floor(lastTimestep / (steps + 1));
      timesteps = Array.from({ length: steps }, (_, i) => (steps - i) * ratio + stepsOffset);
    } else {
      timesteps = numpyArange(lastTimestep, 0, -trainSteps / steps).map((t) => roundHalfEven(t) - 1);
    }
    this.sigmaList = [...this.trainingSigmaTable];
    if (this.useKarrasSigmas) {
      const table = this.trainingSigmaTable;
      const logSigmas = logOfFloat32(table);
      const sigmas = karrasSigmas(table[0]!, table[table.length - 1]!, steps);
      timesteps = sigmas.map((sigma) => sigmaToWholeTimestep(sigma, logSigmas)).reverse();
      this.sigmaList = sigmas;
    }
    // With as many steps as training timesteps, rounding can repeat one: keep first occurrences.
    this.schedule = Object.freeze([...new Set(timesteps)]);
    this.outputs = [];
    this.lowerOrderCount = 0;
  }

  scaleModelInput(sample: Tensor<'float32'>, _timestep: number): Tensor<'float32'> {
    return sample;
  }

  step(modelOutput: Tensor<'float32'>, timestep: number, sample: Tensor<'float32'>, options?: StepOptions): StepResult {
    checkSameShape(modelOutput, sample, NAME);
    const { solverOrder, lowerOrderFinal } = this.config;
    const timesteps = this.schedule;
    const index = findStepIndex(timesteps, timestep, NAME, options);
    const last = index === timesteps.length - 1;
    const prevTimestep = last ? 0 : timesteps[index + 1]!;
    const fewSteps = lowerOrderFinal && timesteps.length < 15;
    const lowerOrderFinalStep = last && fewSteps;
    const lowerOrderSecondStep = index === timesteps.length - 2 && fewSteps;

    const converted = this.convertModelOutput(modelOutput.data, timestep, sample.data);
    this.outputs.push(converted);
    if (this.outputs.length > solverOrder) this.outputs.shift();

    let prev: Float32Array;
    if (solverOrder === 1 || this.lowerOrderCount < 1 || lowerOrderFinalStep) {
      prev = this.firstOrderUpdate(converted, timestep, prevTimestep, sample.data);
    } else if (solverOrder === 2 || this.lowerOrderCount < 2 || lowerOrderSecondStep) {
      const previous = this.outputs[this.outputs.length - 2]!;
      prev = this.secondOrderUpdate(converted, previous, [timesteps[index - 1]!, timestep], prevTimestep, sample.data);
    } else {
      throw new EngineError(`${NAME}: solver order ${solverOrder} is not implemented.`);
    }
    if (this.lowerOrderCount < solverOrder) this.lowerOrderCount++;
    return { prevSample: float32Like(sample, prev) };
  }

  /** diffusers' convert_model_output: x0 for 'dpmsolver++', ε for 'dpmsolver'. */
  private convertModelOutput(output: Float32Array, timestep: number, x: Float32Array): Float32Array {
    const alpha = this.tableAt(this.alphaTable, timestep);
    const sigma = this.tableAt(this.sigmaTable, timestep);
    const { predictionType, algorithmType } = this.config;
    const converted = new Float32Array(output.length);
    for (let i = 0; i < output.length; i++) {
      const oi = output[i]!;
      const xi = x[i]!;
      if (algorithmType === 'dpmsolver++') {
        if (predictionType === 'epsilon') converted[i] = f32(xi - f32(sigma * oi)) / alpha;
        else if (predictionType === 'sample') converted[i] = oi;
        else converted[i] = f32(alpha * xi) - f32(sigma * oi);
      } else if (predictionType === 'epsilon') converted[i] = oi;
      else if (predictionType === 'sample') converted[i] = f32(xi - f32(alpha * oi)) / sigma;
      else converted[i] = f32(alpha * oi) + f32(sigma * xi);
    }
    return converted;
  }

  private firstOrderUpdate(output: Float32Array, timestep: number, prevTimestep: number, x: Float32Array): Float32Array {
    const lambdaT = this.tableAt(this.lambdaTable, prevTimestep);
    const lambdaS = this.tableAt(this.lambdaTable, timestep);
    const alphaT = this.tableAt(this.alphaTable, prevTimestep);
    const alphaS = this.tableAt(this.alphaTable, timestep);
    const sigmaT = this.tableAt(this.sigmaTable, prevTimestep);
    const sigmaS = this.tableAt(this.sigmaTable, timestep);
    const h = f32(lambdaT - lambdaS);
    let sampleCoefficient: number;
    let outputCoefficient: number;
    if (this.config.algorithmType === 'dpmsolver++') {
      sampleCoefficient = f32(sigmaT / sigmaS);
      outputCoefficient = f32(alphaT * f32(f32(Math.exp(-h)) - 1));
    } else {
      sampleCoefficient = f32(alphaT / alphaS);
      outputCoefficient = f32(sigmaT * f32(f32(Math.exp(h)) - 1));
    }
    const prev = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) prev[i] = f32(sampleCoefficient * x[i]!) - f32(outputCoefficient * output[i]!);
    return prev;
  }

  private secondOrderUpdate(
    latest: Float32Array,
    previous: Float32Array,
    [s1, s0]: readonly [number, number],
    t: number,
    x: Float32Array,
  ): Float32Array {
    const lambdaT = this.tableAt(this.lambdaTable, t);
    const lambdaS0 = this.tableAt(this.lambdaTable, s0);
    const lambdaS1 = this.tableAt(this.lambdaTable, s1);
    const alphaT = this.tableAt(this.alphaTable, t);
    const alphaS0 = this.tableAt(this.alphaTable, s0);
    const sigmaT = this.tableAt(this.sigmaTable, t);
    const sigmaS0 = this.tableAt(this.sigmaTable, s0);
    const h = f32(lambdaT - lambdaS0);
    const h0 = f32(lambdaS0 - lambdaS1);
    const r0 = f32(h0 / h);
    const inverseR0 = f32(1 / r0);
    const plusPlus = this.config.algorithmType === 'dpmsolver++';
    const midpoint = this.config.solverType === 'midpoint';
    const sampleCoefficient = plusPlus ? f32(sigmaT / sigmaS0) : f32(alphaT / alphaS0);
    // ++: α_t·(e^{−h} − 1); plain DPM-Solver: σ_t·(e^{h} − 1).
    const expm1 = plusPlus ? f32(f32(Math.exp(-h)) - 1) : f32(f32(Math.exp(h)) - 1);
    const firstCoefficient = f32((plusPlus ? alphaT : sigmaT) * expm1);
    let secondCoefficient: number;
    if (midpoint) secondCoefficient = f32(0.5 * firstCoefficient);
    else if (plusPlus) secondCoefficient = f32(alphaT * f32(f32(expm1 / h) + 1));
    else secondCoefficient = f32(sigmaT * f32(f32(expm1 / h) - 1));
    // midpoint: x − c1·D0 − c2·D1 (both algorithms); heun: ++ adds c2·D1, plain subtracts it.
    const secondSign = !midpoint && plusPlus ? 1 : -1;
    const prev = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const d0 = latest[i]!;
      const d1 = f32(inverseR0 * f32(d0 - previous[i]!));
      const partial = f32(f32(sampleCoefficient * x[i]!) - f32(firstCoefficient * d0));
      prev[i] = partial + secondSign * f32(secondCoefficient * d1);
    }
    return prev;
  }

  private tableAt(table: Float32Array, timestep: number): number {
    const value = table[timestep];
    if (!Number.isInteger(timestep) || value === undefined) {
      throw new EngineError(`${NAME}: timestep ${timestep} is outside 0 … ${table.length - 1}.`);
    }
    return value;
  }
}
