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
// Memory: with `recompute: 'points'` the forward activations are recomputed per aggregation point in the
// backward pass (app/autodiff/backward.ts), so only the 25 fused features (and the small embeddings)
// are kept from the forward pass.
import { UserError } from '../common/errors.ts';
import type { Graph, Parameter, Value } from '../onnx/graph.ts';
import { mul, reduceMean, sub } from '../onnx/ops.ts';
import { appendBackward } from '../autodiff/backward.ts';
import type { AggregatorSet } from '../ensemble/aggregator-set.ts';
import { buildLockStepGraph, type Expert } from '../ensemble/lock-step-graph.ts';

export const TRAINING_INPUTS = Object.freeze({
  sample: 'sample',
  timestep: 'timestep',
  context: 'encoder_hidden_states',
  target: 'target',
});

export const LOSS_OUTPUT = 'loss';
export const NOISE_PRED_OUTPUT = 'noise_pred';

/** The graph output holding ∂loss/∂parameter. */
export function gradientOutputName(parameter: string): string {
  return `grad/${parameter}`;
}

/** Aggregator i's weight `<name>` in the graph: `aggregatorNN.<name>` (lock-step-graph's namespace). */
export const AGGREGATOR_PARAMETER = /^aggregator(\d\d)\.(.+)$/;

export type Recompute = 'none' | 'points';

export interface TrainingShape {
  readonly batch: number;
  /** Latent height and width (image size / 8). */
  readonly height: number;
  readonly width: number;
  readonly tokens: number;
}

export interface AfaTrainingGraph {
  readonly graph: Graph;
  /** The trainable tensors (graph inputs), with their initial values' sources. */
  readonly parameters: readonly Parameter[];
  readonly recompute: Recompute;
  readonly stats: { readonly visited: number; readonly recomputed: number; readonly segments: number };
}

export function buildAfaTrainingGraph(
  experts: readonly Expert[],
  aggregators: AggregatorSet,
  shape: TrainingShape,
  options: { readonly recompute?: Recompute; readonly name?: string } = {},
): AfaTrainingGraph {
  const recompute = options.recompute ?? 'none';
  const points: Value[] = [];
  const graph = buildLockStepGraph(
    experts,
    { kind: 'aggregators', aggregators },
    {
      name: options.name ?? 'afa_train_step',
      graph: { isParameter: (name) => AGGREGATOR_PARAMETER.test(name) },
      inputShape: shape,
      onPoint: (_, fused) => points.push(fused),
    },
  );
  const g = graph;
  const noisePred = g.value(NOISE_PRED_OUTPUT) ?? g.outputs.find((output) => output.name === NOISE_PRED_OUTPUT);
  if (!noisePred) throw new UserError('invalid-argument', 'The AFA graph has no noise_pred output.');
  const prediction = points[points.length - 1]!;
  const target = g.input(TRAINING_INPUTS.target, 'float32', prediction.shape!);
  const loss = g.scope('loss', () => {
    const difference = sub(g, prediction, target);
    return reduceMean(g, mul(g, difference, difference), [0, 1, 2, 3], false);
  });
  g.output(loss, LOSS_OUTPUT);
  const parameters = g.parameters;
  if (parameters.length === 0) throw new UserError('invalid-argument', 'The aggregator set has no trainable weights.');
  // The last point's output is the loss's input: recomputing its segment would gain nothing.
  const checkpoints = recompute === 'points' ? points.slice(0, -1) : [];
  const { gradients, stats } = appendBackward(g, loss, parameters.map((parameter) => parameter.value), { checkpoints });
  for (const parameter of parameters) g.output(gradients.get(parameter.value.name)!, gradientOutputName(parameter.value.name));
  return { graph: g, parameters, recompute, stats };
}
