// What every sampler checks before a step: that setTimesteps ran, that the timestep is one of its own,
// that the model output matches the sample, and — for stochastic samplers — where the step's noise
// comes from. Misuse by engine code is an EngineError; it is never the user's input.
import { EngineError } from '../common/errors.ts';
import { describeShape, type Tensor } from '../tensor/tensor.ts';
import { stepNoise } from './noise.ts';
import type { StepOptions } from './scheduler.ts';

export function requireTimesteps(timesteps: readonly number[], sampler: string): void {
  if (timesteps.length === 0) throw new EngineError(`${sampler}: call setTimesteps(steps) before sampling.`);
}

/**
 * Index of `timestep` in `timesteps` (diffusers: `(self.timesteps == timestep).nonzero()`), or
 * `options.stepIndex` after checking that it points at that timestep.
 */
export function findStepIndex(timesteps: readonly number[], timestep: number, sampler: string, options?: StepOptions): number {
  requireTimesteps(timesteps, sampler);
  const given = options?.stepIndex;
  if (given !== undefined) {
    if (timesteps[given] !== timestep) {
      throw new EngineError(`${sampler}: step index ${given} is timestep ${timesteps[given]}, not ${timestep}.`);
    }
    return given;
  }
  const index = timesteps.indexOf(timestep);
  if (index < 0) throw new EngineError(`${sampler}: timestep ${timestep} is not in this schedule (${timesteps.length} steps).`);
  return index;
}

export function checkSameShape(modelOutput: Tensor<'float32'>, sample: Tensor<'float32'>, sampler: string): void {
  const a = modelOutput.shape;
  const b = sample.shape;
  if (a.length !== b.length || a.some((dim, i) => dim !== b[i]) || modelOutput.data.length !== sample.data.length) {
    throw new EngineError(`${sampler}: model output ${describeShape(a)} does not match the sample ${describeShape(b)}.`);
  }
}

/** The step's standard normal noise: options.noise, else stream stepIndex + 1 of options.seed. */
export function noiseForStep(sample: Tensor<'float32'>, stepIndex: number, sampler: string, options?: StepOptions): Float32Array {
  if (options?.noise !== undefined) {
    if (options.noise.data.length !== sample.data.length) {
      throw new EngineError(`${sampler}: step noise ${describeShape(options.noise.shape)} does not match the sample ${describeShape(sample.shape)}.`);
    }
    return options.noise.data;
  }
  if (options?.seed === undefined) {
    throw new EngineError(`${sampler} adds noise at every step: pass step options { seed } (or { noise }).`);
  }
  return stepNoise(sample.shape, options.seed, stepIndex).data;
}

export function float32Like(sample: Tensor<'float32'>, data: Float32Array): Tensor<'float32'> {
  return { dtype: 'float32', shape: [...sample.shape], data };
}
