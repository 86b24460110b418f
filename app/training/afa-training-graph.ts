// AFA's training step as one ONNX graph (the official Model.train_forward + loss.backward()):
//
//   noise_pred = AFA(noisy_latents, t, [text_k]_k)      K frozen experts in lock-step, 25 SABW aggregators
//   loss       = mean((noise_pred − target)²)           ε-prediction MSE (target = the added noise)
//   grad/<p>   = ∂loss/∂p for every aggregator parameter p
//
// The VAE latents, the noising and the text embeddings are computed before (they do not depend on the
// aggregators, and the training job caches them). The aggregator weights are graph inputs (fed at every
// step by the optimizer); the experts' weights stay initializers referenced in place from their files.
// Gradients flow through the frozen experts: aggregator i's output feeds every expert's next layer.
//
// Memory: with recompute 'points' the forward activations are recomputed per aggregation point in the
// backward pass (app/autodiff/backward.ts), so only the 25 fused features (and the small embeddings)
// are kept from the forward pass.
import type { Value } from '../onnx/graph.ts';
import type { AggregatorSet } from '../ensemble/aggregator-set.ts';
import { buildLockStepGraph, type Expert } from '../ensemble/lock-step-graph.ts';
import { chooseRecompute, finishTrainingGraph, planTrainingStep, type FinishOptions, type Recompute, type RecomputeChoice, type TrainingGraph, type TrainingStepPlan } from './training-graph.ts';

/** Aggregator i's weight `<name>` in the graph: `aggregatorNN.<name>` (lock-step-graph's namespace). */
export const AGGREGATOR_PARAMETER = /^aggregator(\d\d)\.(.+)$/;

export interface TrainingShape {
  readonly batch: number;
  /** Latent height and width (image size / 8). */
  readonly height: number;
  readonly width: number;
  readonly tokens: number;
}

export function buildAfaTrainingGraph(
  experts: readonly Expert[],
  aggregators: AggregatorSet,
  shape: TrainingShape,
  options: AfaTrainingGraphOptions = {},
): TrainingGraph {
  return chooseRecompute(options.recompute ?? 'none', (recompute) => buildWith(experts, aggregators, shape, recompute, options), options.memoryBudgetBytes);
}

/**
 * The training graph for a step of `batchSize` samples at a given or automatically chosen micro-batch
 * (planTrainingStep: activations per sample estimated on the batch-1 graph against free memory).
 */
export function planAfaTrainingStep(
  experts: readonly Expert[],
  aggregators: AggregatorSet,
  shape: Omit<TrainingShape, 'batch'> & { readonly batchSize: number; readonly microBatch?: number },
  options: AfaTrainingGraphOptions = {},
): TrainingStepPlan {
  const { batchSize, microBatch, ...size } = shape;
  return planTrainingStep(options.recompute ?? 'none', batchSize, microBatch, (recompute, batch) => buildWith(experts, aggregators, { ...size, batch }, recompute, options), options.memoryBudgetBytes);
}

export interface AfaTrainingGraphOptions extends FinishOptions {
  readonly recompute?: RecomputeChoice;
  readonly memoryBudgetBytes?: number;
  readonly name?: string;
}

function buildWith(experts: readonly Expert[], aggregators: AggregatorSet, shape: TrainingShape, recompute: Recompute, options: AfaTrainingGraphOptions): TrainingGraph {
  const name = options.name;
  const points: Value[] = [];
  const g = buildLockStepGraph(
    experts,
    { kind: 'aggregators', aggregators },
    {
      name: name ?? 'afa_train_step',
      graph: { isParameter: (name) => AGGREGATOR_PARAMETER.test(name) },
      inputShape: shape,
      onPoint: (_, fused) => points.push(fused),
    },
  );
  // The last point's output is the loss's input: recomputing its segment would gain nothing.
  return finishTrainingGraph(g, points[points.length - 1]!, points.slice(0, -1), recompute, options);
}

/** `aggregator07.res_block.conv1.weight` → `aggregators.7.res_block.conv1.weight` (the official Model.named_parameters()). */
export function officialParameterName(graphName: string): string {
  const match = AGGREGATOR_PARAMETER.exec(graphName);
  return match ? `aggregators.${Number(match[1])}.${match[2]}` : graphName;
}
