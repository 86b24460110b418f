// The forward process for training (Ho et al. 2020, eq. 4), as diffusers 0.20.2's DDPMScheduler.add_noise
// and get_velocity compute it, float32 like torch:
//
//   x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε          v_t = √ᾱ_t·ε − √(1−ᾱ_t)·x0   (Salimans & Ho 2022)
//
// Tensors are [batch, ...] with one timestep per batch row.
import { UserError } from '../common/errors.ts';
import { describeShape, type Tensor } from '../tensor/tensor.ts';
import { alphasCumprodOf } from './beta-schedule.ts';
import type { NoiseScheduleConfig } from './scheduler-config.ts';

const f32 = Math.fround;

export class DdpmNoiser {
  readonly config: Readonly<NoiseScheduleConfig>;
  /** ᾱ_t, float32, t = 0 … T−1. */
  readonly alphasCumprod: Float32Array;

  /** Takes a validated config (resolveNoiseScheduleConfig in scheduler-config.ts). */
  constructor(config: NoiseScheduleConfig) {
    this.config = Object.freeze({ ...config });
    this.alphasCumprod = alphasCumprodOf(config);
  }

  /** x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε, timestep `timesteps[b]` for batch row b. */
  addNoise(original: Tensor<'float32'>, noise: Tensor<'float32'>, timesteps: readonly number[]): Tensor<'float32'> {
    return this.combine(original, noise, timesteps, 'addNoise', (sqrtAlpha, sqrtBeta, x0, epsilon) =>
      f32(f32(sqrtAlpha * x0) + f32(sqrtBeta * epsilon)),
    );
  }

  /** v_t = √ᾱ_t·ε − √(1−ᾱ_t)·x0, the v-prediction target. */
  velocity(sample: Tensor<'float32'>, noise: Tensor<'float32'>, timesteps: readonly number[]): Tensor<'float32'> {
    return this.combine(sample, noise, timesteps, 'velocity', (sqrtAlpha, sqrtBeta, x0, epsilon) =>
      f32(f32(sqrtAlpha * epsilon) - f32(sqrtBeta * x0)),
    );
  }

  /** What the U-Net should predict: ε for 'epsilon' models, v for 'v_prediction', x0 for 'sample'. */
  trainingTarget(sample: Tensor<'float32'>, noise: Tensor<'float32'>, timesteps: readonly number[]): Tensor<'float32'> {
    if (this.config.predictionType === 'v_prediction') return this.velocity(sample, noise, timesteps);
    return this.config.predictionType === 'epsilon' ? noise : sample;
  }

  private combine(
    x0: Tensor<'float32'>,
    noise: Tensor<'float32'>,
    timesteps: readonly number[],
    what: string,
    formula: (sqrtAlpha: number, sqrtBeta: number, x0: number, epsilon: number) => number,
  ): Tensor<'float32'> {
    const batch = x0.shape[0] ?? 1;
    if (noise.data.length !== x0.data.length || timesteps.length !== batch) {
      throw new UserError(
        'mismatch',
        `${what}: samples ${describeShape(x0.shape)}, noise ${describeShape(noise.shape)} and ${timesteps.length} timesteps do not match.`,
        'Give noise of the samples’ shape and one timestep per batch row.',
      );
    }
    const rowSize = x0.data.length / batch;
    const out = new Float32Array(x0.data.length);
    for (let b = 0; b < batch; b++) {
      const t = timesteps[b]!;
      const alphaBar = this.alphasCumprod[t];
      if (!Number.isInteger(t) || alphaBar === undefined) {
        throw new UserError('invalid-argument', `${what}: timestep ${t} is outside 0 … ${this.alphasCumprod.length - 1}.`);
      }
      const sqrtAlpha = f32(Math.sqrt(alphaBar));
      const sqrtBeta = f32(Math.sqrt(f32(1 - alphaBar)));
      for (let i = b * rowSize; i < (b + 1) * rowSize; i++) out[i] = formula(sqrtAlpha, sqrtBeta, x0.data[i]!, noise.data[i]!);
    }
    return { dtype: 'float32', shape: [...x0.shape], data: out };
  }
}
