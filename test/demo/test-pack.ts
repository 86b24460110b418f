// A small demo pack for tests, written by the real writer from made-up weights: the architecture of the
// shipped pack at test sizes (text encoder 64 wide with the full 49,408-token CLIP vocabulary, VAE
// [32, 64, 64, 64], U-Net [32, 32, 64, 64]) and three experts that differ only by their weights' seed.
// The weights' names and shapes come from the studio's own graph builders run on SyntheticWeights
// (app/models/synthetic-weights.ts), the aggregators' from the AFA lock-step graph.
import { buildClipTextGraph } from '../../app/models/clip-text.ts';
import { parseClipTextConfig } from '../../app/models/clip-text-config.ts';
import { plausibleWeight, SyntheticWeights } from '../../app/models/synthetic-weights.ts';
import { buildUnetGraph } from '../../app/models/unet.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { buildVaeDecoderGraph, buildVaeEncoderGraph } from '../../app/models/vae.ts';
import { parseVaeConfig } from '../../app/models/vae-config.ts';
import { buildLockStepGraph } from '../../app/ensemble/lock-step-graph.ts';
import type { AggregatorSet } from '../../app/ensemble/aggregator-set.ts';
import { demoAggregatorConfigs, writeDemoPack, type DemoPack, type DemoPackContents } from '../../app/demo/demo-pack.ts';
import { DEMO_AGGREGATOR_SIZES, DEMO_SCHEDULER_CONFIG, DEMO_UNET_CONFIG } from '../../app/demo/family-config.ts';
import type { JobControl } from '../../app/common/progress.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';

export const TEXT_ENCODER_CONFIG = {
  architectures: ['CLIPTextModel'],
  model_type: 'clip_text_model',
  hidden_act: 'quick_gelu',
  hidden_size: 64,
  intermediate_size: 128,
  num_attention_heads: 4,
  num_hidden_layers: 2,
  max_position_embeddings: 77,
  vocab_size: 49408,
  layer_norm_eps: 1e-5,
  bos_token_id: 0,
  eos_token_id: 2,
  pad_token_id: 1,
  projection_dim: 64,
  torch_dtype: 'float32',
};

export const VAE_CONFIG = {
  _class_name: 'AutoencoderKL',
  act_fn: 'silu',
  block_out_channels: [32, 64, 64, 64],
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  in_channels: 3,
  out_channels: 3,
  latent_channels: 4,
  layers_per_block: 2,
  norm_num_groups: 8,
  sample_size: 64,
  scaling_factor: 0.18215,
};

// The U-Net, the noise schedule and the aggregator sizes are the shipped family's own.
export const UNET_CONFIG = DEMO_UNET_CONFIG;
export const SCHEDULER_CONFIG = DEMO_SCHEDULER_CONFIG;
export const AGGREGATOR_SIZES = DEMO_AGGREGATOR_SIZES;

export const EXPERTS = [
  { id: 'warm-plain', name: 'Warm plain scenes', description: 'Plain backgrounds and warm colours.' },
  { id: 'textures', name: 'Textured backgrounds', description: 'Stripes, checks and gradients.' },
  { id: 'small-objects', name: 'Small objects', description: 'Small shapes anywhere.' },
] as const;

export const RECIPE = {
  name: 'Shapes ensemble',
  method: 'afa',
  prompt: 'a small red star on the left, blue striped background',
  negativePrompt: '',
  sampler: 'ddim',
  steps: 4,
  guidance: 5,
  width: 64,
  height: 64,
  seed: 7,
} as const satisfies DemoPackContents['recipe'];

/** Reads every weight a builder declared on `synthetic` into memory, generated from `seed`. */
function collect(declare: (weights: SyntheticWeights) => void, seed: number): Map<string, Tensor> {
  const synthetic = new SyntheticWeights((name, shape) => plausibleWeight(name, shape, seed));
  declare(synthetic);
  return new Map(synthetic.names().map((name) => [name, synthetic.get(name).read()]));
}

/** The contents of the test pack; `aggregators: false` leaves them out (a pack before they are trained). */
export function testPackContents(options: { readonly aggregators?: boolean } = {}): DemoPackContents {
  const unet = parseUnetConfig(UNET_CONFIG);
  const experts = EXPERTS.map((expert, index) => ({
    ...expert,
    unetConfig: UNET_CONFIG,
    weights: collect((weights) => buildUnetGraph(weights, unet), 11 + index),
  }));
  let aggregators: DemoPackContents['aggregators'];
  if (options.aggregators !== false) {
    // The lock-step AFA graph declares every aggregator tensor under its official name.
    const configs = demoAggregatorConfigs(UNET_CONFIG, AGGREGATOR_SIZES, experts.length);
    const perPoint = configs.map((_, index) => new SyntheticWeights((name, shape) => plausibleWeight(`${index}.${name}`, shape, 5)));
    const set: AggregatorSet = { source: 'test aggregators', configs, weights: perPoint };
    buildLockStepGraph(experts.map(() => ({ weights: new SyntheticWeights(), config: unet })), { kind: 'aggregators', aggregators: set });
    const weights = new Map<string, Tensor>();
    perPoint.forEach((point, index) => {
      for (const name of point.names()) weights.set(`aggregators.${index}.${name}`, point.get(name).read());
    });
    aggregators = { config: AGGREGATOR_SIZES, weights, experts: EXPERTS.map((expert) => expert.id) };
  }
  return {
    name: 'Test shapes',
    description: 'A test pack: random weights at the demo architecture.',
    textEncoder: { config: TEXT_ENCODER_CONFIG, weights: collect((weights) => buildClipTextGraph(weights, parseClipTextConfig(TEXT_ENCODER_CONFIG)), 3) },
    vae: {
      config: VAE_CONFIG,
      weights: collect((weights) => {
        const vae = parseVaeConfig(VAE_CONFIG);
        buildVaeDecoderGraph(weights, vae);
        buildVaeEncoderGraph(weights, vae);
      }, 4),
    },
    scheduler: SCHEDULER_CONFIG,
    experts,
    ...(aggregators ? { aggregators } : {}),
    recipe: RECIPE,
    training: { command: 'test/demo/test-pack.ts', seeds: [11, 12, 13], note: 'random weights, not trained' },
  };
}

export function writeTestPack(dir: string, options: { readonly aggregators?: boolean } = {}, control?: JobControl): Promise<DemoPack> {
  return writeDemoPack(dir, testPackContents(options), control);
}
