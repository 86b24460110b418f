// Training a U-Net itself (every weight trainable, or those `isParameter` selects): the SD1.x U-Net of
// app/models/unet.ts with static shapes, ε-prediction MSE, and checkpoints at its aggregation points.
import { Graph, type Value } from '../onnx/graph.ts';
import type { WeightSource } from '../tensor/weights.ts';
import type { UnetConfig } from '../models/unet-config.ts';
import { unetLayout } from '../models/unet-layout.ts';
import { unetPoint, unetTimeEmbedding } from '../models/unet.ts';
import { chooseRecompute, finishTrainingGraph, TRAINING_INPUTS, type RecomputeChoice, type TrainingGraph } from './training-graph.ts';
import type { TrainingShape } from './afa-training-graph.ts';

export interface UnetTrainingOptions {
  readonly recompute?: RecomputeChoice;
  readonly memoryBudgetBytes?: number;
  readonly isParameter?: (name: string) => boolean;
  readonly name?: string;
}

export function buildUnetTrainingGraph(weights: WeightSource, config: UnetConfig, shape: TrainingShape, options: UnetTrainingOptions = {}): TrainingGraph {
  return chooseRecompute(
    options.recompute ?? 'none',
    (recompute) => {
      const g = new Graph(options.name ?? 'unet_train_step', { isParameter: options.isParameter ?? (() => true) });
      const context = g.input(TRAINING_INPUTS.context, 'float32', [shape.batch, shape.tokens, config.cross_attention_dim]);
      const sample = g.input(TRAINING_INPUTS.sample, 'float32', [shape.batch, config.in_channels, shape.height, shape.width]);
      const timestep = g.input(TRAINING_INPUTS.timestep, 'float32', [shape.batch]);
      const temb = unetTimeEmbedding(g, weights, config, timestep);
      const outputs: Value[] = [];
      let hidden = sample;
      for (const point of unetLayout(config)) {
        const skip = point.skipFrom >= 0 ? outputs[point.skipFrom] : undefined;
        hidden = unetPoint(g, weights, config, point.index, { hidden, skip, temb, context });
        outputs.push(hidden);
      }
      g.output(hidden, 'noise_pred');
      return finishTrainingGraph(g, hidden, outputs.slice(0, -1), recompute);
    },
    options.memoryBudgetBytes,
  );
}
