// AFA's lock-step ensemble as ONE graph (AFA paper §3.1; the official UNet2DConditionAggregatorModel):
// K frozen experts with the same architecture; at each of the U-Net's aggregation points (25 for SD1.x)
// every expert applies ITS OWN layer to the current fused feature, with its own timestep embedding and its
// own prompt embedding, and the K outputs are fused — by that point's SABW aggregator (AFA) or by a plain
// mean (feature-average, what an untrained aggregator does). Skips hold fused features. At the last point
// each expert runs its own last up layer and output head, and the last fusion merges the K noise predictions.
//
// One graph per recipe instead of a layer executor: onnxruntime then plans memory and threads for the
// whole step, and the experts' weights are referenced in place from their weights files (no copy).
// Measured with bench/ensemble.ts (3 SD1.5-size experts, 256², batch 2, 2 CPU cores, each ensemble step
// alternated with the experts' own): AFA 1.056–1.062 × the sum of the three single steps, feature
// average 0.97–1.01 ×, output average 0.99 ×; AFA's peak RSS 1.08–1.09 × the experts' weights. The
// aggregators are nearly all of AFA's extra time (≈ 0.4 s of kernel time per step, a quarter of it the
// self-attention over 1,024 positions, 16-wide heads, at the 7 full-resolution points).
import { UserError } from '../common/errors.ts';
import { Graph, type GraphOptions, type Value } from '../onnx/graph.ts';
import { add, div, gather, mul, reduceMean } from '../onnx/ops.ts';
import type { WeightSource } from '../tensor/weights.ts';
import type { UnetConfig } from '../models/unet-config.ts';
import { unetLayout, upsampleSizeFrom } from '../models/unet-layout.ts';
import { unetPoint, unetTimeEmbedding } from '../models/unet.ts';
import type { AggregatorSet } from './aggregator-set.ts';
import { sabwAggregator, stackExperts } from './sabw-aggregator.ts';

export interface Expert {
  readonly weights: WeightSource;
  readonly config: UnetConfig;
}

export type Fusion =
  | { readonly kind: 'aggregators'; readonly aggregators: AggregatorSet }
  /** Fixed weights per expert (normalised; uniform when absent): what an untrained aggregator does. */
  | { readonly kind: 'mean'; readonly weights?: readonly number[] };

export interface LockStepGraphOptions {
  /** Adds outputs `weights_NN` [B, K, h, w]: each aggregator's per-pixel expert weights (contribution maps). */
  readonly exposeWeights?: boolean;
  /** Adds every intermediate the golden cases check (per-point inputs, fused outputs, embeddings). */
  readonly exposeInternals?: boolean;
  readonly name?: string;
  /** Builder options of the graph (training graphs make the aggregator weights parameters). */
  readonly graph?: GraphOptions;
  /** Fixed input sizes instead of symbolic ones (training graphs need static shapes for their gradients). */
  readonly inputShape?: { readonly batch: number; readonly height: number; readonly width: number; readonly tokens: number };
  /** Called with each point's fused output, in order (the training graph checkpoints them). */
  readonly onPoint?: (index: number, fused: Value) => void;
}

export const ENSEMBLE_INPUTS = Object.freeze({
  sample: 'sample',
  timestep: 'timestep',
  /** [K, B, tokens, D]: expert k's own prompt embedding at index k. */
  context: 'encoder_hidden_states',
});

export function pointName(index: number): string {
  return String(index).padStart(2, '0');
}

export function expertNamespace(index: number): string {
  return `expert${index}.`;
}

/** The experts of one ensemble must share an architecture: AFA fuses same-shaped features. */
export function checkSameArchitecture(experts: readonly Expert[]): void {
  if (experts.length < 2) throw new UserError('invalid-argument', `An ensemble needs at least 2 models; got ${experts.length}.`);
  const reference = unetLayout(experts[0]!.config);
  experts.forEach((expert, index) => {
    const layout = unetLayout(expert.config);
    const same =
      layout.length === reference.length &&
      layout.every((point, i) => point.outChannels === reference[i]!.outChannels && point.outScale === reference[i]!.outScale) &&
      expert.config.cross_attention_dim === experts[0]!.config.cross_attention_dim;
    if (!same) {
      throw new UserError(
        'mismatch',
        `Model ${index + 1} of the ensemble has a different U-Net architecture than model 1.`,
        'Lock-step ensembles need checkpoints of the same family (e.g. all SD1.x).',
      );
    }
  });
}

/** Mean over K values of the same shape, summed left to right then divided (torch's mean of a stack). */
function meanOf(g: Graph, values: readonly Value[]): Value {
  let sum = values[0]!;
  for (const value of values.slice(1)) sum = add(g, sum, value);
  return div(g, sum, values.length);
}

/** Σ_k w_k·x_k (left to right, float32) with weights normalised to sum 1. */
function weightedSumOf(g: Graph, values: readonly Value[], weights: readonly number[]): Value {
  if (weights.length !== values.length) throw new UserError('invalid-argument', `Feature averaging needs ${values.length} weights; got ${weights.length}.`);
  const total = weights.reduce((sum, w) => sum + w, 0);
  let sum = mul(g, values[0]!, weights[0]! / total);
  for (let k = 1; k < values.length; k++) sum = add(g, sum, mul(g, values[k]!, weights[k]! / total));
  return sum;
}

export function buildLockStepGraph(experts: readonly Expert[], fusion: Fusion, options: LockStepGraphOptions = {}): Graph {
  checkSameArchitecture(experts);
  const K = experts.length;
  const config = experts[0]!.config;
  const layout = unetLayout(config);
  if (fusion.kind === 'aggregators' && fusion.aggregators.configs.length !== layout.length) {
    throw new UserError('mismatch', `The aggregator set has ${fusion.aggregators.configs.length} aggregators; the U-Net has ${layout.length} aggregation points.`);
  }
  const g = new Graph(options.name ?? (fusion.kind === 'mean' ? 'feature_average' : 'afa'), options.graph);
  const dims = options.inputShape ?? { batch: 'batch', height: 'height', width: 'width', tokens: 'tokens' };
  const sample = g.computeInput(ENSEMBLE_INPUTS.sample, [dims.batch, config.in_channels, dims.height, dims.width]);
  const timestep = g.input(ENSEMBLE_INPUTS.timestep, 'float32', [dims.batch]);
  const contexts = g.computeInput(ENSEMBLE_INPUTS.context, [K, dims.batch, dims.tokens, config.cross_attention_dim]);

  const perExpert = experts.map((expert, k) =>
    g.scope(`expert${k}`, () =>
      g.weightNamespace(expertNamespace(k), () => ({
        temb: unetTimeEmbedding(g, expert.weights, expert.config, timestep),
        context: gather(g, contexts, g.scalar(k, 'int64'), 0),
      })),
    ),
  );
  // The aggregators' conditioning: the mean of the experts' own embeddings (official code: temb.mean(0)).
  const aggregatorTemb = fusion.kind === 'aggregators' ? meanOf(g, perExpert.map((e) => e.temb)) : undefined;
  const aggregatorContext = fusion.kind === 'aggregators' ? reduceMean(g, contexts, [0], false) : undefined;
  if (options.exposeInternals) {
    g.output(stackExperts(g, perExpert.map((e) => e.temb)), 'expert_temb_stacked');
    if (aggregatorTemb && aggregatorContext) {
      g.output(aggregatorTemb, 'aggregator_temb');
      g.output(aggregatorContext, 'aggregator_ehs');
    }
  }

  const fused: Value[] = [];
  let hidden = sample;
  for (const point of layout) {
    const skip = point.skipFrom >= 0 ? fused[point.skipFrom] : undefined;
    const upsampleTo = fused[upsampleSizeFrom(layout, point)];
    const outputs = experts.map((expert, k) =>
      g.scope(`expert${k}`, () =>
        g.weightNamespace(expertNamespace(k), () =>
          unetPoint(g, expert.weights, expert.config, point.index, { hidden, skip, upsampleTo, temb: perExpert[k]!.temb, context: perExpert[k]!.context }),
        ),
      ),
    );
    const id = pointName(point.index);
    hidden = g.scope(`aggregator${id}`, () => {
      if (fusion.kind === 'mean') return fusion.weights ? weightedSumOf(g, outputs, fusion.weights) : meanOf(g, outputs);
      const result = g.weightNamespace(`aggregator${id}.`, () =>
        sabwAggregator(g, fusion.aggregators.weights[point.index]!, fusion.aggregators.configs[point.index]!, outputs, aggregatorTemb!, aggregatorContext!),
      );
      if (options.exposeWeights || options.exposeInternals) g.output(result.weights, `weights_${id}`);
      return result.fused;
    });
    if (options.exposeInternals) {
      g.output(stackExperts(g, outputs), `agg${id}_in`);
      g.output(hidden, `agg${id}_out`);
    }
    fused.push(hidden);
    options.onPoint?.(point.index, hidden);
  }
  g.output(hidden, 'noise_pred');
  return g;
}

/**
 * Output averaging: each expert runs its whole U-Net on its own; the noise predictions are combined as
 * ε = Σ_k w_k·ε_k (summed left to right in float32, as the golden baseline does).
 */
export function buildOutputAverageGraph(experts: readonly Expert[], weights: readonly number[], name = 'output_average', options: GraphOptions = {}): Graph {
  checkSameArchitecture(experts);
  if (weights.length !== experts.length) throw new UserError('invalid-argument', `Output averaging needs ${experts.length} weights; got ${weights.length}.`);
  const config = experts[0]!.config;
  const K = experts.length;
  const g = new Graph(name, options);
  const sample = g.computeInput(ENSEMBLE_INPUTS.sample, ['batch', config.in_channels, 'height', 'width']);
  const timestep = g.input(ENSEMBLE_INPUTS.timestep, 'float32', ['batch']);
  const contexts = g.computeInput(ENSEMBLE_INPUTS.context, [K, 'batch', 'tokens', config.cross_attention_dim]);
  const predictions = experts.map((expert, k) =>
    g.scope(`expert${k}`, () =>
      g.weightNamespace(expertNamespace(k), () => {
        const temb = unetTimeEmbedding(g, expert.weights, expert.config, timestep);
        const context = gather(g, contexts, g.scalar(k, 'int64'), 0);
        const outputs: Value[] = [];
        let hidden = sample;
        const layout = unetLayout(expert.config);
        for (const point of layout) {
          const skip = point.skipFrom >= 0 ? outputs[point.skipFrom] : undefined;
          hidden = unetPoint(g, expert.weights, expert.config, point.index, { hidden, skip, upsampleTo: outputs[upsampleSizeFrom(layout, point)], temb, context });
          outputs.push(hidden);
        }
        return hidden;
      }),
    ),
  );
  let sum = mul(g, predictions[0]!, weights[0]!);
  for (let k = 1; k < K; k++) sum = add(g, sum, mul(g, predictions[k]!, weights[k]!));
  g.output(sum, 'noise_pred');
  return g;
}

