// What every training graph ends with: the regression target as an input, the MSE loss, the backward
// pass to the trainable parameters (the graph's parameter inputs) and one gradient output per parameter.
import { UserError } from '../common/errors.ts';
import { freemem } from 'node:os';
import { byteLengthOf, type Graph, type Parameter, type Value } from '../onnx/graph.ts';
import { mul, reduceMean, sub } from '../onnx/ops.ts';
import { appendBackward, type BackwardStats } from '../autodiff/backward.ts';

export const TRAINING_INPUTS = Object.freeze({
  sample: 'sample',
  timestep: 'timestep',
  context: 'encoder_hidden_states',
  target: 'target',
});

export const LOSS_OUTPUT = 'loss';
export const PREDICTION_OUTPUT = 'noise_pred';

/** The graph output holding ∂loss/∂parameter. */
export function gradientOutputName(parameter: string): string {
  return `grad/${parameter}`;
}

/** Activation checkpointing: none, or recompute each segment between the model's natural boundaries. */
export type Recompute = 'none' | 'points';

/**
 * 'auto' keeps every activation when they fit in memory and recomputes per point otherwise: the kept
 * activations (measured on the graph without recomputation) must fit in `budgetBytes`, by default the
 * free memory now less the frozen weights the session will load and a 1 GiB margin.
 */
export type RecomputeChoice = Recompute | 'auto';

export function defaultActivationBudget(frozenWeightBytes: number): number {
  return freemem() - 1.15 * frozenWeightBytes - 2 ** 30;
}

/**
 * The share of the frozen weights' bytes the backward may spend on filter copies (backward.ts:
 * dX of a stride-1 convolution as a Conv instead of a ConvTranspose). Measured on 3 SD1.5 experts at
 * 256² (bench train): a tenth buys the 32² and 16² convolutions, most of the gain per byte.
 */
export const FILTER_COPY_SHARE = 0.1;

/**
 * Under recompute 'points', the share of the segments' activation bytes kept rather than recomputed, spent
 * on the segments with the most arithmetic per byte (backward.ts). On 3 SD1.5 experts at 256² (bench
 * train) it keeps the low-resolution points, about 40 % of the recomputation, for a few hundred MB.
 */
export const RECOMPUTE_KEEP_SHARE = 0.12;

/** Builds with `build('none')` and, under 'auto', again with 'points' when the kept activations do not fit. */
export function chooseRecompute(
  choice: RecomputeChoice,
  build: (recompute: Recompute) => TrainingGraph,
  budgetBytes?: number,
): TrainingGraph {
  if (choice !== 'auto') return build(choice);
  const keeping = build('none');
  const budget = budgetBytes ?? defaultActivationBudget(frozenWeightBytes(keeping.graph)) - keeping.stats.filterCopyBytes;
  return keeping.stats.keptBytes <= budget ? keeping : build('points');
}

/**
 * What one training step at this graph's batch is estimated to hold in activations, bytes: the kept
 * forward values plus the largest recomputed segment's, doubled for what the estimate does not see
 * (the backward's own intermediates and gradients of activation size, onnxruntime's arena rounding).
 * The factor comes from the SD1.5 training bench (3 experts, 256², batch 1): peak RSS less the weights
 * and the parameter state was about twice the kept activations.
 */
export function stepActivationBytes(stats: BackwardStats): number {
  return ACTIVATION_SAFETY * (stats.keptBytes + stats.workingBytes);
}

const ACTIVATION_SAFETY = 2;

/** Host memory per trainable parameter outside the session: value, gradient, AdamW's two moments, the accumulated sum. */
export const PARAMETER_STATE_BYTES = 5 * 4;

/** The largest divisor of `batchSize` whose activations fit `budgetBytes` (`perSampleBytes` each); at least 1. */
export function chooseMicroBatch(batchSize: number, perSampleBytes: number, budgetBytes: number): number {
  for (let micro = batchSize; micro > 1; micro--) if (batchSize % micro === 0 && micro * perSampleBytes <= budgetBytes) return micro;
  return 1;
}

export interface TrainingStepPlan {
  readonly graph: TrainingGraph;
  /** Samples per graph call (the batch is split into batch / microBatch calls whose gradients are averaged). */
  readonly microBatch: number;
  /** Only when the micro-batch was chosen here: the estimate per sample and the budget it had to fit. */
  readonly estimate?: { readonly perSampleBytes: number; readonly budgetBytes: number };
}

/**
 * The training graph of a step of `batchSize` samples and the micro-batch it runs at. A given
 * `microBatch` is kept (recomputation chosen by chooseRecompute). Otherwise the graph is built at batch
 * 1 to estimate the activations per sample (stepActivationBytes): the whole batch in one call when it
 * fits the budget (keeping activations, or under 'auto' recomputing per point when only that fits), else
 * the largest micro-batch that fits (recomputing per point under 'auto': the smallest activations).
 * The budget defaults to defaultActivationBudget less the parameters' host state.
 */
export function planTrainingStep(
  choice: RecomputeChoice,
  batchSize: number,
  microBatch: number | undefined,
  build: (recompute: Recompute, batch: number) => TrainingGraph,
  budgetBytes?: number,
): TrainingStepPlan {
  if (microBatch !== undefined) return { graph: chooseRecompute(choice, (recompute) => build(recompute, microBatch), budgetBytes), microBatch };
  const candidates: readonly Recompute[] = choice === 'auto' ? ['none', 'points'] : [choice];
  let estimate: { perSampleBytes: number; budgetBytes: number } | undefined;
  let recompute: Recompute = candidates[0]!;
  for (recompute of candidates) {
    const probe = build(recompute, 1);
    const parameterBytes = probe.parameters.reduce((sum, parameter) => sum + byteLengthOf('float32', parameter.source.shape), 0);
    const budget = budgetBytes ?? defaultActivationBudget(frozenWeightBytes(probe.graph)) - (PARAMETER_STATE_BYTES / 4) * parameterBytes - probe.stats.filterCopyBytes;
    estimate = { perSampleBytes: stepActivationBytes(probe.stats), budgetBytes: budget };
    if (batchSize * estimate.perSampleBytes <= budget) return { graph: batchSize === 1 ? probe : build(recompute, batchSize), microBatch: batchSize, estimate };
  }
  const micro = chooseMicroBatch(batchSize, estimate!.perSampleBytes, estimate!.budgetBytes);
  return { graph: build(recompute, micro), microBatch: micro, estimate };
}

/** Bytes of the initializers read from weights files (the frozen model weights). */
export function frozenWeightBytes(g: Graph): number {
  return g.initializers.reduce((sum, initializer) => (initializer.kind === 'weight' ? sum + byteLengthOf(initializer.value.dtype, initializer.source.shape) : sum), 0);
}

export interface TrainingGraph {
  readonly graph: Graph;
  /** The trainable tensors (graph inputs), with their initial values' sources. */
  readonly parameters: readonly Parameter[];
  readonly recompute: Recompute;
  readonly stats: BackwardStats;
}

/**
 * loss = mean((prediction − target)²) over every element (torch's F.mse_loss, reduction 'mean'), then the
 * gradients of every parameter of `g`. `checkpoints` (forward order) are the recomputation boundaries.
 */
export function finishTrainingGraph(g: Graph, prediction: Value, checkpoints: readonly Value[], recompute: Recompute, options: FinishOptions = {}): TrainingGraph {
  assertStatic(prediction, 'prediction');
  const target = g.input(TRAINING_INPUTS.target, prediction.dtype, prediction.shape!);
  const loss = g.scope('loss', () => meanSquaredError(g, prediction, target));
  return finishWithLoss(g, loss, checkpoints, recompute, options);
}

export interface FinishOptions {
  /** Share of the frozen weights' bytes for filter copies; default FILTER_COPY_SHARE, 0 for none. */
  readonly filterCopyShare?: number;
  /** Under recompute 'points': share of the segments' activations kept, not recomputed; default RECOMPUTE_KEEP_SHARE. */
  readonly recomputeKeepShare?: number;
}

/** mean((a − b)²) over every element of two tensors of one static shape. */
export function meanSquaredError(g: Graph, a: Value, b: Value): Value {
  assertStatic(a, 'prediction');
  const difference = sub(g, a, b);
  return reduceMean(g, mul(g, difference, difference), a.shape!.map((_, axis) => axis), false);
}

/**
 * Any scalar loss already in `g`: outputs it as `loss`, appends the backward pass to every parameter of
 * `g` and outputs one gradient per parameter (models trained with other objectives than ε-MSE: the VAE).
 */
export function finishWithLoss(g: Graph, loss: Value, checkpoints: readonly Value[], recompute: Recompute, options: FinishOptions = {}): TrainingGraph {
  g.output(loss, LOSS_OUTPUT);
  const parameters = g.parameters;
  if (parameters.length === 0) throw new UserError('invalid-argument', `Graph '${g.name}' has nothing to train: no weight was made a parameter.`);
  const { gradients, stats } = appendBackward(g, loss, parameters.map((parameter) => parameter.value), {
    checkpoints: recompute === 'points' ? checkpoints : [],
    keepShare: options.recomputeKeepShare ?? RECOMPUTE_KEEP_SHARE,
    filterCopyBytes: (options.filterCopyShare ?? FILTER_COPY_SHARE) * frozenWeightBytes(g),
  });
  for (const parameter of parameters) g.output(gradients.get(parameter.value.name)!, gradientOutputName(parameter.value.name));
  return { graph: g, parameters, recompute, stats };
}

function assertStatic(value: Value, what: string): void {
  if (!value.shape || value.shape.some((dim) => typeof dim !== 'number')) {
    throw new UserError('invalid-argument', `A training graph needs static shapes; the ${what} is ${JSON.stringify(value.shape)}.`);
  }
}
