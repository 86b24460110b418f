// The pieces the text-to-image loop needs from a model — or from an ensemble of models. The loop
// (text-to-image.ts) never knows which: a single checkpoint and an AFA recipe both plug in here.
import type { Tensor } from '../tensor/tensor.ts';

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
}

export interface LatentDecoder {
  /** Pipeline-space latents [1, 4, h, w] (VAE mean × scaling factor) → image [1, 3, 8h, 8w] in [-1, 1]. */
  decode(latents: Tensor<'float32'>): Promise<Tensor<'float32'>>;
}
