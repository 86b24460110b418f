// The pieces the text-to-image loop needs from a model — or from an ensemble of models. The loop
// (text-to-image.ts) never knows which: a single checkpoint and an AFA recipe both plug in here.
import type { DeviceTensor } from '../runtime/device-tensor.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { ModelRuntime } from './model-runtime.ts';

/** Prompt conditioning for one generation, opaque to the loop (per-expert embeddings for ensembles). */
export interface Conditioning {
  /** True when the conditioning holds [uncond, cond] (classifier-free guidance, batch 2). */
  readonly guided: boolean;
}

export interface StepContext {
  /** 0-based step index and number of steps. */
  readonly index: number;
  readonly total: number;
  /** The guidance scale g of the job (for denoisers that combine guided predictions themselves). */
  readonly guidance: number;
}

export interface Denoiser<C extends Conditioning = Conditioning> {
  /**
   * Encodes the prompts. With guidance the batch order is [negative, positive] (diffusers' [uncond, cond]);
   * without guidance only the positive prompt is encoded.
   */
  encodePrompts(positive: string, negative: string, guided: boolean): Promise<C>;
  /**
   * ε prediction for `latents` [2, 4, h, w] with guidance ([uncond, cond], already scaled by the sampler's
   * scaleModelInput) or [1, 4, h, w] without; `timestep` is the sampler's (integer or fractional).
   */
  predictNoise(latents: Tensor<'float32'>, timestep: number, conditioning: C, step: StepContext): Promise<Tensor<'float32'>>;
  /**
   * True when predictNoise already returns the guided ε [1, 4, h, w] (MagicFusion blends guided predictions
   * of two models); the loop then skips its own guidance.
   */
  readonly appliesGuidance?: boolean;
  /**
   * The denoiser's device-resident side, when its runtime's provider keeps tensors on the device
   * (ModelRuntime.deviceResident); undefined otherwise, and the loop works on host tensors.
   */
  onDevice?(): DeviceDenoising | undefined;
}

/** Prompt conditioning held on the device for one image; the loop disposes `tensors` when it ends. */
export interface DeviceConditioning {
  readonly guided: boolean;
  readonly tensors: readonly DeviceTensor[];
}

/**
 * Denoising with device tensors: the same contract as Denoiser (batch order, scaled input), but the
 * prompts' embeddings, the model input and the prediction stay on `runtime`'s device.
 */
export interface DeviceDenoising<D extends DeviceConditioning = DeviceConditioning> {
  readonly runtime: ModelRuntime;
  encodePrompts(positive: string, negative: string, guided: boolean): Promise<D>;
  /** ε for the model input on the device; the prediction stays there (the caller disposes it). */
  predictNoise(latents: DeviceTensor, timestep: number, conditioning: D, step: StepContext): Promise<DeviceTensor>;
}

export interface LatentDecoder {
  /** Pipeline-space latents [1, 4, h, w] (VAE mean × scaling factor) → image [1, 3, 8h, 8w] in [-1, 1]. */
  decode(latents: Tensor<'float32'>): Promise<Tensor<'float32'>>;
}
