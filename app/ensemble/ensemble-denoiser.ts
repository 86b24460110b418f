// An ensemble as the pipeline loop's Denoiser (app/pipeline/denoiser.ts). Each expert encodes the prompts
// with its own tokenizer and text encoder (a fine-tuned checkpoint keeps its own); the embeddings are
// stacked [K, B, 77, D] and fed to the recipe's one compiled graph, which returns the fused ε.
import { EngineError } from '../common/errors.ts';
import type { Conditioning, Denoiser, StepContext } from '../pipeline/denoiser.ts';
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
}

export function cachedGraphRunner(modelPath: string, runtime: ModelRuntime): GraphRunner {
  return { run: (feeds, outputs) => runtime.run(modelPath, feeds, outputs) };
}

/** Per-step expert weight maps of an AFA graph compiled with `exposeWeights`: `weights_NN` [B, K, h, w]. */
export type WeightMapListener = (step: StepContext, maps: Readonly<Record<string, Tensor<'float32'>>>) => void;

export class EnsembleDenoiser implements Denoiser<EnsembleConditioning> {
  /**
   * `weightMaps` names the graph's weight-map outputs to fetch each step (opt-in: fetching nothing costs
   * nothing, as onnxruntime still computes the maps but never copies them out).
   */
  constructor(
    private readonly encoders: readonly ExpertTextEncoder[],
    private readonly graph: GraphRunner,
    private readonly weightMaps: { readonly outputs: readonly string[]; readonly listener: WeightMapListener } | undefined = undefined,
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
    const maps = this.weightMaps?.outputs ?? [];
    const outputs = await this.graph.run(
      { sample: latents, timestep: unetTimestep(timestep, batch), encoder_hidden_states: conditioning.embeddings },
      ['noise_pred', ...maps],
    );
    if (this.weightMaps) {
      this.weightMaps.listener(step, Object.fromEntries(maps.map((name) => [name, outputs[name] as Tensor<'float32'>])));
    }
    const prediction = outputs.noise_pred!;
    if (prediction.dtype !== 'float32') throw new EngineError(`The ensemble returned ${prediction.dtype}; expected float32.`);
    return prediction as Tensor<'float32'>;
  }
}
