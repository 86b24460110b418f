// Aggregators for a new training run, initialised as the official code's `Aggregator.__init__` leaves
// them: torch's defaults for Conv2d and Linear (weights and biases uniform in ±1/√fan_in, what
// kaiming_uniform_(a=√5) amounts to), GroupNorm/LayerNorm scales 1 and shifts 0, and conv_out zero
// (so every new aggregator starts as the uniform feature average: softmax of zeros). The architecture
// is the official SD1.5 one (hidden 128, 8 heads, 2 transformer layers) so the weights stay
// interchangeable with the official code. The values come from the run's seed (one Philox stream per
// tensor), so a new run is reproducible.
import { createHash } from 'node:crypto';
import type { AggregatorConfig } from '../ensemble/aggregator-config.ts';
import { SD15_AGGREGATOR_DEFAULTS, type AggregatorSize } from '../ensemble/aggregator-config.ts';
import type { AggregatorSet, ExpertIdentity } from '../ensemble/aggregator-set.ts';
import type { Expert } from '../ensemble/lock-step-graph.ts';
import { SyntheticWeights } from '../models/synthetic-weights.ts';
import { unetLayout } from '../models/unet-layout.ts';
import { sizeOf, type Tensor } from '../tensor/tensor.ts';
import { TrainingRandom } from './training-random.ts';

const INIT_PURPOSE = 7;

export function newAggregatorConfigs(experts: readonly Expert[], sizes: Partial<AggregatorSize> = {}): AggregatorConfig[] {
  const config = experts[0]!.config;
  const { hiddenSize, numAttentionHeads, numLayers } = { ...SD15_AGGREGATOR_DEFAULTS, ...sizes };
  return unetLayout(config).map((point) => ({
    inChannels: point.outChannels,
    hiddenSize,
    numExperts: experts.length,
    numLayers,
    numAttentionHeads,
    crossAttentionDim: config.cross_attention_dim,
    timeEmbeddingChannels: 4 * config.block_out_channels[0]!,
    // Recorded only for the ablation, so sets of the paper's architecture keep their manifests as before.
    ...(sizes.spatial === false ? { spatial: false } : {}),
  }));
}

/**
 * One tensor's initial value (aggregator `index`, official name `name`); `shapeOf` gives the shapes of
 * the other tensors (a bias's bound comes from its weight's fan-in).
 */
export function initialAggregatorWeight(random: TrainingRandom, index: number, name: string, shape: readonly number[], shapeOf: (name: string) => readonly number[]): Tensor<'float32'> {
  const data = new Float32Array(sizeOf(shape));
  if (name.startsWith('conv_out.')) return { dtype: 'float32', shape, data };
  // Norm layers (GroupNorm norm1/norm2/norm, LayerNorm norm1/norm2/norm3): their weight is 1-D like a bias.
  if (/(^|\.)norm\d*\.(weight|bias)$/.test(name)) {
    if (name.endsWith('.weight')) data.fill(1);
    return { dtype: 'float32', shape, data };
  }
  const weightShape = name.endsWith('.bias') ? shapeOf(`${name.slice(0, -'.bias'.length)}.weight`) : shape;
  const bound = 1 / Math.sqrt(sizeOf(weightShape.slice(1)));
  const stream = Number.parseInt(createHash('sha256').update(`${index}:${name}`).digest('hex').slice(0, 6), 16);
  const u = random.uniform(INIT_PURPOSE, stream, data.length);
  for (let i = 0; i < data.length; i++) data[i] = (2 * u[i]! - 1) * bound;
  return { dtype: 'float32', shape, data };
}

/**
 * A new aggregator set for these experts: the weights are made when the training graph reads them
 * (the builder declares each name and shape before any is read). `sizes` other than the official ones
 * are for tests on tiny experts.
 */
export function newAggregatorSet(experts: readonly Expert[], identities: readonly ExpertIdentity[], seed: number, sizes: Partial<AggregatorSize> = {}): AggregatorSet {
  const random = new TrainingRandom(seed);
  const configs = newAggregatorConfigs(experts, sizes);
  return {
    source: 'new aggregators',
    configs,
    weights: configs.map((_, index) => {
      const weights: SyntheticWeights = new SyntheticWeights((name, shape) => initialAggregatorWeight(random, index, name, shape, (other) => weights.get(other).shape), `new aggregator ${index}`);
      return weights;
    }),
    experts: identities,
  };
}
