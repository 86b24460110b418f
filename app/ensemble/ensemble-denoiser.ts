// An ensemble as the pipeline loop's Denoiser (app/pipeline/denoiser.ts). Each expert encodes the prompts
// with its own tokenizer and text encoder (a fine-tuned checkpoint keeps its own); the embeddings are
// stacked [K, B, 77, D] and fed to the recipe's one compiled graph, which returns the fused ε.
import { EngineError } from '../common/errors.ts';
import type { Conditioning, Denoiser, DeviceConditioning, DeviceDenoising, StepContext } from '../pipeline/denoiser.ts';
import { buildStackGraph, stepGraphFile } from '../pipeline/device-steps.ts';
import type { DeviceTensor } from '../runtime/device-tensor.ts';
import type { CachedModel, ModelRuntime } from '../pipeline/model-runtime.ts';
import { unetTimestep } from '../models/unet-timestep.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';

export interface ExpertTextEncoder {
  readonly tokenizer: ClipTokenizer;
  /** text_encoder.onnx: input_ids int64 [B, 77] → last_hidden_state float32 [B, 77, D]. */
  readonly model: CachedModel;
}

export interface EnsembleConditioning extends Conditioning {
  /** [K, B, 77, D]: expert k's embedding of [negative, positive] (or [positive]) at index k. */
  readonly embeddings: Tensor<'float32'>;
}

/** Stacks K tensors of one shape along a new leading axis. */
export function stackTensors(tensors: readonly Tensor<'float32'>[]): Tensor<'float32'> {
  const first = tensors[0]!;
  const size = first.data.length;
  const data = new Float32Array(size * tensors.length);
  tensors.forEach((tensor, k) => {
    if (tensor.data.length !== size) throw new EngineError('The experts produced prompt embeddings of different sizes.');
    data.set(tensor.data, k * size);
  });
  return { dtype: 'float32', shape: [tensors.length, ...first.shape], data };
}

/** Runs a graph through the runtime's session cache, returning the named outputs. */
export interface GraphRunner {
  run(feeds: Readonly<Record<string, Tensor>>, outputs: readonly string[]): Promise<Record<string, Tensor>>;
  /** The graph's file and runtime, when it runs through a ModelRuntime (its device-resident side needs them). */
  readonly cached?: { readonly modelPath: string; readonly runtime: ModelRuntime };
}

export function cachedGraphRunner(modelPath: string, runtime: ModelRuntime): GraphRunner {
  return { run: (feeds, outputs) => runtime.run(modelPath, feeds, outputs), cached: { modelPath, runtime } };
}

/** Per-step expert weight maps of an AFA graph compiled with `exposeWeights`: `weights_NN` [B, K, h, w]. */
export type WeightMapListener = (step: StepContext, maps: Readonly<Record<string, Tensor<'float32'>>>) => void;

/** Which weight maps to fetch, at which steps (default every step), and who hears them. */
export interface WeightMaps {
  readonly outputs: readonly string[];
  readonly listener: WeightMapListener;
  /**
   * The steps whose maps the listener needs (the studio records at most 10 per image). Only those steps
   * copy the maps out — on a GPU the other steps stay on the device.
   */
  readonly wants?: (step: StepContext) => boolean;
}

export class EnsembleDenoiser implements Denoiser<EnsembleConditioning> {
  /**
   * `weightMaps` names the graph's weight-map outputs to fetch at the steps it wants (opt-in: fetching
   * nothing costs nothing, as onnxruntime still computes the maps but never copies them out).
   */
  constructor(
    private readonly encoders: readonly ExpertTextEncoder[],
    private readonly graph: GraphRunner,
    private readonly weightMaps: WeightMaps | undefined = undefined,
  ) {}

  async encodePrompts(positive: string, negative: string, guided: boolean): Promise<EnsembleConditioning> {
    const prompts = guided ? [negative, positive] : [positive];
    const embeddings: Tensor<'float32'>[] = [];
    for (const encoder of this.encoders) {
      const hidden = await encoder.model.run({ input_ids: encoder.tokenizer.encodeBatch(prompts) }, 'last_hidden_state');
      if (hidden.dtype !== 'float32') throw new EngineError(`A text encoder returned ${hidden.dtype}; expected float32.`);
      embeddings.push(hidden as Tensor<'float32'>);
    }
    return { guided, embeddings: stackTensors(embeddings) };
  }

  async predictNoise(latents: Tensor<'float32'>, timestep: number, conditioning: EnsembleConditioning, step: StepContext): Promise<Tensor<'float32'>> {
    const batch = latents.shape[0]!;
    const maps = this.#mapsAt(step);
    const outputs = await this.graph.run(
      { sample: latents, timestep: unetTimestep(timestep, batch), encoder_hidden_states: conditioning.embeddings },
      ['noise_pred', ...maps],
    );
    this.#hear(step, maps, outputs);
    const prediction = outputs.noise_pred!;
    if (prediction.dtype !== 'float32') throw new EngineError(`The ensemble returned ${prediction.dtype}; expected float32.`);
    return prediction as Tensor<'float32'>;
  }

  /** The weight-map outputs to fetch at `step`: none when no listener wants that step's. */
  #mapsAt(step: StepContext): readonly string[] {
    if (!this.weightMaps) return [];
    return (this.weightMaps.wants?.(step) ?? true) ? this.weightMaps.outputs : [];
  }

  #hear(step: StepContext, maps: readonly string[], outputs: Readonly<Record<string, Tensor | DeviceTensor>>): void {
    if (maps.length === 0) return;
    this.weightMaps!.listener(step, Object.fromEntries(maps.map((name) => [name, outputs[name] as Tensor<'float32'>])));
  }

  /**
   * On a device-resident provider: each expert's embeddings stay on the device and are stacked there
   * (device-steps.ts), and the compiled graph (every lock-step point inside one session) reads the model
   * input and the embeddings there and leaves ε there. Weight maps come back to the host only at the
   * steps their listener wants (as previews do).
   */
  onDevice(): DeviceDenoising<DeviceConditioning & { readonly embeddings: DeviceTensor }> | undefined {
    const cached = this.graph.cached;
    if (!cached?.runtime.deviceResident) return undefined;
    const { runtime, modelPath } = cached;
    return {
      runtime,
      encodePrompts: async (positive, negative, guided) => {
        const prompts = guided ? [negative, positive] : [positive];
        const parts: DeviceTensor[] = [];
        try {
          for (const encoder of this.encoders) {
            const hidden = await runtime.runDevice(encoder.model.modelPath, { input_ids: encoder.tokenizer.encodeBatch(prompts) }, ['last_hidden_state'], ['last_hidden_state']);
            parts.push(hidden.last_hidden_state as DeviceTensor);
          }
          const feeds = Object.fromEntries(parts.map((part, k) => [`e${k}`, part]));
          const stacked = await runtime.runDevice(stepGraphFile(buildStackGraph(parts.length)), feeds, ['stacked'], ['stacked']);
          const embeddings = stacked.stacked as DeviceTensor;
          return { guided, embeddings, tensors: [embeddings] };
        } finally {
          await runtime.dispose(parts);
        }
      },
      predictNoise: async (latents, timestep, conditioning, step) => {
        const batch = latents.shape[0]!;
        const feeds = { sample: latents, timestep: unetTimestep(timestep, batch), encoder_hidden_states: conditioning.embeddings };
        const maps = this.#mapsAt(step);
        const outputs = await runtime.runDevice(modelPath, feeds, ['noise_pred', ...maps], ['noise_pred']);
        this.#hear(step, maps, outputs);
        return outputs.noise_pred as DeviceTensor;
      },
    };
  }
}
