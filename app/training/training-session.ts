// A compiled training step: a training graph (training-graph.ts) saved next to the frozen weights
// (referenced in place) and opened as one onnxruntime session, plus the float32 values of the trainable
// parameters, fed to it at every step and updated in place by the optimizer.
import { UserError } from '../common/errors.ts';
import type { JobControl } from '../common/progress.ts';
import { sharedFloat32, type Tensor } from '../tensor/tensor.ts';
import { saveModel } from '../onnx/serialize.ts';
import { ModelSession, type SessionOptions } from '../runtime/onnx-runtime.ts';
import { gradientOutputName, LOSS_OUTPUT, PREDICTION_OUTPUT, TRAINING_INPUTS, type Recompute, type TrainingGraph } from './training-graph.ts';

/** One batch of a training step's inputs (float32). */
export interface TrainingBatch {
  /** Noisy latents x_t [B, 4, h, w]. */
  readonly sample: Tensor<'float32'>;
  /** Timesteps [B] (float32, as the U-Net takes them). */
  readonly timestep: Tensor<'float32'>;
  /** Prompt embeddings: [B, tokens, D] for one U-Net, [K, B, tokens, D] (each expert's own) for AFA. */
  readonly context: Tensor<'float32'>;
  /** The regression target [B, 4, h, w] (ε for ε-prediction). */
  readonly target: Tensor<'float32'>;
}

export interface StepResult {
  readonly loss: number;
  readonly prediction: Tensor<'float32'>;
  /** ∂loss/∂p by parameter (graph) name. */
  readonly gradients: Map<string, Float32Array>;
}

/**
 * Session options of training steps. The backward pass reads the frozen weights the forward reads (Conv
 * and ConvTranspose the same filter, MatMul and FusedMatMul the same folded linear weight). onnxruntime's
 * weight prepacking and its NCHWc layout pass ('all') each make a private copy per kernel, so forward and
 * backward would hold two or three copies of every frozen weight: 3 SD1.5 experts (10.3 GB) did not fit
 * in 24 GB. Without them, one copy serves both directions. No memory pattern: a step's kept activations
 * would be fresh memory at every step (SessionOptions.memoryPattern).
 */
export const TRAINING_SESSION_DEFAULTS: SessionOptions = Object.freeze({ optimization: 'extended', prepackWeights: false, memoryPattern: false });

export class TrainingSession {
  private constructor(
    readonly session: ModelSession,
    /** Current parameter values by graph name; the optimizer updates them in place. */
    readonly parameters: Map<string, Float32Array>,
    readonly shapes: ReadonlyMap<string, readonly number[]>,
    readonly recompute: Recompute,
    /** Samples per call: the batch dimension of the graph's `sample` input (undefined for graphs without one). */
    readonly batch: number | undefined,
  ) {}

  /** Saves the graph into `dir` (weights referenced in place where they already are in files) and opens it. */
  static async create(built: TrainingGraph, options: { readonly dir: string; readonly session?: SessionOptions } & JobControl): Promise<TrainingSession> {
    const parameters = new Map<string, Float32Array>();
    const shapes = new Map<string, readonly number[]>();
    for (const parameter of built.parameters) {
      const tensor = parameter.source.read();
      if (tensor.dtype !== 'float32') {
        throw new UserError('unsupported', `Trainable weight '${parameter.value.name}' is stored as ${tensor.dtype}; training keeps float32 weights.`, 'Convert the weights to float32 before training.');
      }
      // In shared memory: every step feeds all the trainable parameters to the inference thread (45 M
      // floats for 25 SD1.5 aggregators), and a SharedArrayBuffer goes there without the structured
      // clone's two copies into fresh memory (~0.5 s per step for 2 SD1.5 experts, bench train); the
      // session copies it once into a buffer it keeps (LocalSession). The optimizer updates it in place
      // between steps, never during one, half of it from the inference thread (AdamW.updateInParallel).
      parameters.set(parameter.value.name, sharedFloat32(tensor.data as Float32Array));
      shapes.set(parameter.value.name, parameter.source.shape);
    }
    const name = built.graph.name;
    const saved = saveModel(built.graph, { dir: options.dir, modelFile: `${name}.onnx`, weightsFile: `${name}.weights`, signal: options.signal, onProgress: options.onProgress });
    const session = await ModelSession.create(saved.modelPath, { ...TRAINING_SESSION_DEFAULTS, ...options.session });
    const sample = built.graph.inputs.find((input) => input.name === TRAINING_INPUTS.sample);
    const batch = typeof sample?.shape?.[0] === 'number' ? sample.shape[0] : undefined;
    return new TrainingSession(session, parameters, shapes, built.recompute, batch);
  }

  /** Forward and backward of one batch at the current parameters. */
  computeGradients(batch: TrainingBatch): Promise<StepResult> {
    return this.computeFeeds({
      [TRAINING_INPUTS.sample]: batch.sample,
      [TRAINING_INPUTS.timestep]: batch.timestep,
      [TRAINING_INPUTS.context]: batch.context,
      [TRAINING_INPUTS.target]: batch.target,
    });
  }

  /** The same for a graph with other data inputs (named feeds; the parameters are added). */
  async computeFeeds(data: Readonly<Record<string, Tensor>>): Promise<StepResult> {
    const feeds: Record<string, Tensor> = { ...data };
    for (const [name, values] of this.parameters) feeds[name] = { dtype: 'float32', shape: this.shapes.get(name)!, data: values };
    const outputs = await this.session.run(feeds);
    const gradients = new Map<string, Float32Array>();
    for (const name of this.parameters.keys()) gradients.set(name, outputs[gradientOutputName(name)]!.data as Float32Array);
    return {
      loss: (outputs[LOSS_OUTPUT]!.data as Float32Array)[0]!,
      prediction: outputs[PREDICTION_OUTPUT] as Tensor<'float32'>,
      gradients,
    };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
