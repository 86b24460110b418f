// Synthetic SD1.x experts and AFA aggregators for the benchmarks (no checkpoint of that size can ship):
// deterministic weights with a trained network's scale (app/models/synthetic-weights.ts), a different
// seed per expert and per aggregator, under the official state-dict names.
import type { AggregatorConfig } from '../app/ensemble/aggregator-config.ts';
import type { AggregatorSet } from '../app/ensemble/aggregator-set.ts';
import type { Expert } from '../app/ensemble/lock-step-graph.ts';
import { plausibleWeight, SyntheticWeights } from '../app/models/synthetic-weights.ts';
import type { UnetConfig } from '../app/models/unet-config.ts';
import { unetLayout } from '../app/models/unet-layout.ts';

export function syntheticExpert(config: UnetConfig, index: number): Expert {
  return { config, weights: new SyntheticWeights((name, shape) => plausibleWeight(name, shape, index + 1), `synthetic expert ${index + 1}`) };
}

/** One aggregator per aggregation point of `config`'s layout, for `experts` experts. */
export function syntheticAggregators(
  config: UnetConfig,
  aggregator: { readonly hiddenSize: number; readonly numAttentionHeads: number; readonly numLayers: number },
  experts: number,
): AggregatorSet {
  const configs: AggregatorConfig[] = unetLayout(config).map((point) => ({
    inChannels: point.outChannels,
    ...aggregator,
    numExperts: experts,
    crossAttentionDim: config.cross_attention_dim,
    timeEmbeddingChannels: 4 * config.block_out_channels[0]!,
  }));
  return {
    source: 'synthetic aggregators',
    configs,
    weights: configs.map((_, index) => new SyntheticWeights((name, shape) => plausibleWeight(name, shape, 100 + index), `synthetic aggregator ${index}`)),
  };
}
