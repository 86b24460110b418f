// One Stable Diffusion 1.x checkpoint as the loop's Denoiser and LatentDecoder, as diffusers'
// StableDiffusionPipeline (0.20) uses its components:
//   prompts → CLIPTokenizer (pad to 77, truncate) → CLIPTextModel last_hidden_state [B, 77, H]
//   ε = UNet2DConditionModel(sample [B, 4, h, w], t, encoder_hidden_states)
//   image = AutoencoderKL.decode(latents / scaling_factor)  (the graph divides by the factor itself)
// The graphs are the model store's (app/checkpoints); sessions come from the shared cache (model-runtime.ts).
import { EngineError } from '../common/errors.ts';
import type { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { unetTimestep } from '../models/unet-timestep.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { DeviceTensor } from '../runtime/device-tensor.ts';
import type { Conditioning, Denoiser, DeviceConditioning, DeviceDenoising, LatentDecoder } from './denoiser.ts';
import { CachedModel, type ModelRuntime } from './model-runtime.ts';

export interface ModelConditioning extends Conditioning {
  /** float32 [2, 77, H] ordered [negative, positive] with guidance; [1, 77, H] (positive) without. */
  readonly embeddings: Tensor<'float32'>;
}

export interface ModelGraphs {
  /** text_encoder.onnx: input_ids int64 [B, 77] → last_hidden_state float32 [B, 77, H]. */
  readonly textEncoder: string;
  /** unet.onnx: sample [B, 4, h, w], timestep float32 [B], encoder_hidden_states [B, 77, H] → noise_pred. */
  readonly unet: string;
}

function asFloat32(tensor: Tensor, what: string): Tensor<'float32'> {
  if (tensor.dtype !== 'float32') throw new EngineError(`${what} returned ${tensor.dtype}; the pipeline expects float32.`);
  return tensor as Tensor<'float32'>;
}

export class ModelDenoiser implements Denoiser<ModelConditioning> {
  readonly #tokenizer: ClipTokenizer;
  readonly #textEncoder: CachedModel;
  readonly #unet: CachedModel;
  readonly #runtime: ModelRuntime;

  constructor(tokenizer: ClipTokenizer, graphs: ModelGraphs, runtime: ModelRuntime) {
    this.#tokenizer = tokenizer;
    this.#runtime = runtime;
    this.#textEncoder = new CachedModel(graphs.textEncoder, runtime);
    this.#unet = new CachedModel(graphs.unet, runtime);
  }

  /**
   * diffusers encodes the prompt and the negative prompt in two calls of batch 1 and concatenates
   * [uncond, cond]; one call of batch 2 computes the same rows (attention never mixes batch rows).
   * diffusers passes attention_mask=None for SD1.x text encoders, so padding tokens are attended to.
   */
  async encodePrompts(positive: string, negative: string, guided: boolean): Promise<ModelConditioning> {
    const inputIds = this.#tokenizer.encodeBatch(guided ? [negative, positive] : [positive]);
    const hidden = await this.#textEncoder.run({ input_ids: inputIds }, 'last_hidden_state');
    return { guided, embeddings: asFloat32(hidden, 'The text encoder') };
  }

  async predictNoise(latents: Tensor<'float32'>, timestep: number, conditioning: ModelConditioning): Promise<Tensor<'float32'>> {
    const batch = latents.shape[0]!;
    if (conditioning.embeddings.shape[0] !== batch) {
      throw new EngineError(`The U-Net got ${batch} latent rows but ${conditioning.embeddings.shape[0]} prompt embeddings.`);
    }
    const prediction = await this.#unet.run(
      { sample: latents, timestep: unetTimestep(timestep, batch), encoder_hidden_states: conditioning.embeddings },
      'noise_pred',
    );
    return asFloat32(prediction, 'The U-Net');
  }

  /**
   * On a device-resident provider: the text encoder's embeddings stay on the device for the whole image
   * (their only copy is none: the token ids go up, 154 integers), and each U-Net step reads the model
   * input and the embeddings there and leaves its prediction there.
   */
  onDevice(): DeviceDenoising<DeviceConditioning & { readonly embeddings: DeviceTensor }> | undefined {
    const runtime = this.#runtime;
    if (!runtime.deviceResident) return undefined;
    return {
      runtime,
      encodePrompts: async (positive, negative, guided) => {
        const inputIds = this.#tokenizer.encodeBatch(guided ? [negative, positive] : [positive]);
        const hidden = await runtime.runDevice(this.#textEncoder.modelPath, { input_ids: inputIds }, ['last_hidden_state'], ['last_hidden_state']);
        const embeddings = hidden.last_hidden_state as DeviceTensor;
        return { guided, embeddings, tensors: [embeddings] };
      },
      predictNoise: async (latents, timestep, conditioning) => {
        const batch = latents.shape[0]!;
        if (conditioning.embeddings.shape[0] !== batch) {
          throw new EngineError(`The U-Net got ${batch} latent rows but ${conditioning.embeddings.shape[0]} prompt embeddings.`);
        }
        const feeds = { sample: latents, timestep: unetTimestep(timestep, batch), encoder_hidden_states: conditioning.embeddings };
        const outputs = await runtime.runDevice(this.#unet.modelPath, feeds, ['noise_pred'], ['noise_pred']);
        return outputs.noise_pred as DeviceTensor;
      },
    };
  }
}

/** The VAE decoder graph: pipeline-space latents [1, 4, h, w] → image [1, 3, 8h, 8w] in ~[-1, 1]. */
export class VaeLatentDecoder implements LatentDecoder {
  readonly #decoder: CachedModel;

  constructor(vaeDecoderGraph: string, runtime: ModelRuntime) {
    this.#decoder = new CachedModel(vaeDecoderGraph, runtime);
  }

  async decode(latents: Tensor<'float32'>): Promise<Tensor<'float32'>> {
    return asFloat32(await this.#decoder.run({ latents }, 'image'), 'The VAE decoder');
  }
}
