// A compiled AFA training step: the graph of afa-training-graph.ts saved next to the experts' weights
// (referenced in place) and opened as one onnxruntime session, plus the float32 values of the trainable
// aggregator parameters that are fed to it at every step.
import type { JobControl } from '../common/progress.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { saveModel } from '../onnx/serialize.ts';
import { ModelSession, type SessionOptions } from '../runtime/onnx-runtime.ts';
import type { AggregatorSet } from '../ensemble/aggregator-set.ts';
import type { Expert } from '../ensemble/lock-step-graph.ts';
import {
  AGGREGATOR_PARAMETER,
  buildAfaTrainingGraph,
  gradientOutputName,
  LOSS_OUTPUT,
  NOISE_PRED_OUTPUT,
  TRAINING_INPUTS,
  type Recompute,
  type TrainingShape,
} from './afa-training-graph.ts';

/** One batch of the training step's inputs (float32). */
export interface TrainingBatch {
  /** Noisy latents x_t [B, 4, h, w]. */
  readonly sample: Tensor<'float32'>;
  /** Timesteps [B] (float32, as the U-Net takes them). */
  readonly timestep: Tensor<'float32'>;
  /** Each expert's prompt embedding, [K, B, tokens, D]. */
  readonly context: Tensor<'float32'>;
  /** The regression target [B, 4, h, w] (ε for ε-prediction). */
  readonly target: Tensor<'float32'>;
}

export interface StepResult {
  readonly loss: number;
  readonly noisePred: Tensor<'float32'>;
  /** ∂loss/∂p by parameter name (graph names, `aggregatorNN.<official name>`). */
  readonly gradients: Map<string, Float32Array>;
}

/** `aggregator07.res_block.conv1.weight` → `aggregators.7.res_block.conv1.weight` (the official Model.named_parameters()). */
export function officialParameterName(graphName: string): string {
  const match = AGGREGATOR_PARAMETER.exec(graphName);
  return match ? `aggregators.${Number(match[1])}.${match[2]}` : graphName;
}

export class AfaTrainingSession {
  private constructor(
    readonly session: ModelSession,
    /** Current parameter values by graph name; the optimizer updates them in place. */
    readonly parameters: Map<string, Float32Array>,
    readonly shapes: ReadonlyMap<string, readonly number[]>,
    readonly recompute: Recompute,
  ) {}

  static async create(
    experts: readonly Expert[],
    aggregators: AggregatorSet,
    shape: TrainingShape,
    options: { readonly dir: string; readonly recompute?: Recompute; readonly session?: SessionOptions } & JobControl,
  ): Promise<AfaTrainingSession> {
    const built = buildAfaTrainingGraph(experts, aggregators, shape, { recompute: options.recompute });
    const parameters = new Map<string, Float32Array>();
    const shapes = new Map<string, readonly number[]>();
    for (const parameter of built.parameters) {
      const tensor = parameter.source.read();
      const values = new Float32Array(tensor.data.length);
      if (tensor.dtype === 'float32') values.set(tensor.data as Float32Array);
      else throw new Error(`aggregator weight ${parameter.value.name} is ${tensor.dtype}; training needs float32 aggregator weights`);
      parameters.set(parameter.value.name, values);
      shapes.set(parameter.value.name, parameter.source.shape);
    }
    const name = built.graph.name;
    const saved = saveModel(built.graph, { dir: options.dir, modelFile: `${name}.onnx`, weightsFile: `${name}.weights`, signal: options.signal, onProgress: options.onProgress });
    const session = await ModelSession.create(saved.modelPath, options.session);
    return new AfaTrainingSession(session, parameters, shapes, built.recompute);
  }

  /** Forward and backward of one batch at the current parameters. */
  async computeGradients(batch: TrainingBatch): Promise<StepResult> {
    const feeds: Record<string, Tensor> = {
      [TRAINING_INPUTS.sample]: batch.sample,
      [TRAINING_INPUTS.timestep]: batch.timestep,
      [TRAINING_INPUTS.context]: batch.context,
      [TRAINING_INPUTS.target]: batch.target,
    };
    for (const [name, values] of this.parameters) feeds[name] = { dtype: 'float32', shape: this.shapes.get(name)!, data: values };
    const outputs = await this.session.run(feeds);
    const gradients = new Map<string, Float32Array>();
    for (const name of this.parameters.keys()) gradients.set(name, outputs[gradientOutputName(name)]!.data as Float32Array);
    return {
      loss: (outputs[LOSS_OUTPUT]!.data as Float32Array)[0]!,
      noisePred: outputs[NOISE_PRED_OUTPUT] as Tensor<'float32'>,
      gradients,
    };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
