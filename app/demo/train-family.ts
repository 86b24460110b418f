// Trains the demo family from nothing with the studio's own engine, stage by stage (each resumable,
// each skipped when already done):
//   vae      the autoencoder on random crops of generated scenes (it is convolutional apart from the 8×8
//            mid-block attention, so crops teach it the same local statistics 4× cheaper)
//   scale    the latent scaling factor, 1 / std of the trained encoder's latents (SD's 0.18215 was found
//            the same way), measured on 512 scenes
//   text     the CLIP text encoder, pretrained contrastively against a small image encoder on scenes and
//            their captions, as CLIP was (app/training/contrastive-training-graph.ts), then frozen
//   base     the base U-Net, ε-prediction on every training scene, prompts through the frozen encoder
//   experts  one U-Net per domain of app/demo/scenes.ts, fine-tuned from the base (the text encoder
//            shared by all, as SD1.5 fine-tunes share their base's)
// The aggregators are trained afterwards by the studio's own training job over the installed experts
// (train-demo-aggregators.ts). Every batch is a pure function of (seed, stage, step).
import { join } from 'node:path';
import type { JobControl } from '../common/progress.ts';
import { parseClipTextConfig } from '../models/clip-text-config.ts';
import { compileComponent, type CompiledComponent } from '../models/compile-component.ts';
import { plausibleWeight, SyntheticWeights } from '../models/synthetic-weights.ts';
import { parseUnetConfig } from '../models/unet-config.ts';
import { parseVaeConfig, type VaeConfig } from '../models/vae-config.ts';
import { DdpmNoiser } from '../schedulers/ddpm-noiser.ts';
import { resolveNoiseScheduleConfig } from '../schedulers/scheduler-config.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { MemoryWeights } from '../tensor/weights.ts';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { TRAINING_INPUTS } from '../training/training-graph.ts';
import { TrainingRandom } from '../training/training-random.ts';
import { buildContrastiveTrainingGraph, CONTRASTIVE_INPUTS, TEXT_PROJECTION } from '../training/contrastive-training-graph.ts';
import { buildUnetTrainingGraph } from '../training/unet-training-graph.ts';
import { buildVaeTrainingGraph, VAE_TRAINING_INPUTS } from '../training/vae-training-graph.ts';
import { DEMO_CONTRASTIVE, DEMO_IMAGE_SIZE, DEMO_SCHEDULER_CONFIG, DEMO_TEXT_ENCODER_CONFIG, DEMO_UNET_CONFIG, DEMO_VAE_CONFIG, type DiffusionStageRecipe, type FamilyRecipe, type StageRecipe } from './family-config.ts';
import { runStage, stageDone, stageWeights, stageWeightsDigest, type StageIdentity, type StageProgress, type StageRecord, type StageSettings } from './train-stage.ts';
import type { JsonValue } from '../images/generation-settings.ts';
import { contrastivePairAccuracy } from './contrastive-pairs.ts';
import { DEMO_DOMAINS, GROUP_CHANGES, captionOf, contrastiveGroupAt, domainSceneAt, sceneAt, type DemoDomainName, type Scene } from './scenes.ts';
import { sceneBatch } from './scene-dataset.ts';

/** Purposes of the random streams within a stage; each stage has its own generator (`stageRandom`). */
const STREAMS = Object.freeze({ crop: 0, vaeNoise: 1, latent: 2, noise: 3, timesteps: 4, dropout: 5, noiseOffset: 6 });

/** Stage k's generator: seed·64 + k, so stages never share a stream. */
function stageRandom(seed: number, stage: number): TrainingRandom {
  return new TrainingRandom(BigInt(seed) * 64n + BigInt(stage));
}

export interface FamilyResult {
  readonly vae: { readonly config: Readonly<Record<string, unknown>>; readonly weights: Map<string, Tensor<'float32'>> };
  readonly textEncoder: { readonly config: Readonly<Record<string, unknown>>; readonly weights: Map<string, Tensor<'float32'>> };
  readonly base: Map<string, Tensor<'float32'>>;
  readonly experts: readonly { readonly domain: DemoDomainName; readonly weights: Map<string, Tensor<'float32'>> }[];
  readonly records: readonly StageRecord[];
}

export interface FamilyOptions extends JobControl {
  /** Working folder: one subfolder per stage (checkpoints, results). */
  readonly workDir: string;
  readonly recipe: FamilyRecipe;
  readonly onStage?: (progress: StageProgress) => void;
  readonly log?: (line: string) => void;
}

/** [-1, 1] NCHW pixels of scenes rendered at `size` (as the dataset loader reads their PNGs). */
export function scenePixels(scenes: readonly Scene[], size = DEMO_IMAGE_SIZE): Tensor<'float32'> {
  const batch = sceneBatch(scenes, size);
  return { dtype: 'float32', shape: [...batch.shape], data: batch.pixels };
}

/** A stage's identity (train-stage.ts): the recipe's values as plain JSON. */
function identityOf(values: Readonly<Record<string, unknown>>): StageIdentity {
  return JSON.parse(JSON.stringify(values)) as Record<string, JsonValue>;
}

function settingsOf(stage: StageRecipe, recipe: FamilyRecipe): StageSettings {
  return {
    steps: stage.steps,
    optimizer: { lr: stage.lr, weightDecay: 0.01 },
    schedule: { kind: 'cosine', baseLr: stage.lr, warmupSteps: stage.warmupSteps },
    maxGradientNorm: 1,
    checkpointEvery: recipe.checkpointEvery,
    logEvery: recipe.logEvery,
  };
}

/**
 * Offset noise (see DiffusionStageRecipe): adds `offset · draws[b·C + c]` to every element of channel c of
 * example b of the NCHW `noise`, in place. `draws` holds one standard normal per (example, channel).
 */
export function addNoiseOffset(noise: Tensor<'float32'>, offset: number, draws: Float32Array): void {
  const [batch, channels] = noise.shape as [number, number];
  const plane = noise.data.length / (batch * channels);
  if (draws.length !== batch * channels) throw new RangeError(`addNoiseOffset: ${draws.length} draws for ${batch}×${channels} channels`);
  for (let i = 0; i < draws.length; i++) {
    const shift = Math.fround(offset * draws[i]!);
    for (let k = i * plane; k < (i + 1) * plane; k++) noise.data[k] = Math.fround(noise.data[k]! + shift);
  }
}

/** Initial weights of a model trained from scratch: PyTorch's default init bounds, from the seed. */
function initialWeights(seed: number): SyntheticWeights {
  return new SyntheticWeights((name, shape) => plausibleWeight(name, shape, seed), `initial weights (seed ${seed})`);
}

function crop(pixels: Tensor<'float32'>, size: number, offsets: readonly number[]): Tensor<'float32'> {
  const [batch, channels, height, width] = pixels.shape as [number, number, number, number];
  const out = new Float32Array(batch * channels * size * size);
  for (let b = 0; b < batch; b++) {
    const top = offsets[2 * b]!;
    const left = offsets[2 * b + 1]!;
    for (let c = 0; c < channels; c++) {
      for (let y = 0; y < size; y++) {
        const from = ((b * channels + c) * height + top + y) * width + left;
        out.set(pixels.data.subarray(from, from + size), ((b * channels + c) * size + y) * size);
      }
    }
  }
  return { dtype: 'float32', shape: [batch, channels, size, size], data: out };
}

export async function trainFamily(options: FamilyOptions): Promise<FamilyResult> {
  const { recipe, workDir } = options;
  const log = options.log ?? (() => {});
  const records: StageRecord[] = [];
  const trainScene = (index: number) => sceneAt(recipe.seed, index, 'train');

  // 1. VAE.
  const vaeConfig: VaeConfig = parseVaeConfig({ ...DEMO_VAE_CONFIG });
  const vaeStage = recipe.vae;
  records.push(
    await runStage({
      stage: 'vae',
      dir: join(workDir, 'vae'),
      settings: settingsOf(vaeStage, recipe),
      identity: identityOf({ seed: recipe.seed, recipe: vaeStage, config: DEMO_VAE_CONFIG, imageSize: DEMO_IMAGE_SIZE }),
      build: () => buildVaeTrainingGraph(initialWeights(recipe.seed + 1), vaeConfig, { batch: vaeStage.batch, height: vaeStage.crop, width: vaeStage.crop }, { klWeight: vaeStage.klWeight, colourWeight: vaeStage.colourWeight }),
      feedsAt: (step) => {
        const scenes = Array.from({ length: vaeStage.batch }, (_, b) => trainScene(step * vaeStage.batch + b));
        const random = stageRandom(recipe.seed, 0);
        const offsets = random.integers(STREAMS.crop, step, 2 * vaeStage.batch, DEMO_IMAGE_SIZE - vaeStage.crop + 1);
        const down = 2 ** (vaeConfig.block_out_channels.length - 1);
        const latent = (vaeStage.crop / down) ** 2 * vaeConfig.latent_channels;
        return {
          [VAE_TRAINING_INPUTS.image]: crop(scenePixels(scenes), vaeStage.crop, offsets),
          [VAE_TRAINING_INPUTS.noise]: { dtype: 'float32', shape: [vaeStage.batch, vaeConfig.latent_channels, vaeStage.crop / down, vaeStage.crop / down], data: random.normal(STREAMS.vaeNoise, step, vaeStage.batch * latent) },
        };
      },
      onStep: options.onStage,
      signal: options.signal,
    }),
  );
  const vaeWeights = stageWeights(join(workDir, 'vae'));
  const vaeDigest = await stageWeightsDigest(join(workDir, 'vae'));

  // 2. The scaling factor: 1 / std of the sampled latents (mean + std·ε) of 512 training scenes.
  const encoderDir = join(workDir, 'scale');
  let encoder = await compileComponent({ kind: 'vae-encoder', config: vaeConfig, weights: new MemoryWeights(vaeWeights) }, join(encoderDir, 'graph'));
  let scalingFactor: number;
  try {
    let sum = 0;
    let sumSquares = 0;
    let count = 0;
    for (let start = 0; start < 512; start += 32) {
      const pixels = scenePixels(Array.from({ length: 32 }, (_, b) => trainScene(10_000_000 + start + b)));
      const out = await encoder.session('vae_encoder').run({ image: pixels });
      const mean = out.mean!.data as Float32Array;
      const std = out.std!.data as Float32Array;
      const noise = stageRandom(recipe.seed, 1).normal(STREAMS.latent, start, mean.length);
      for (let i = 0; i < mean.length; i++) {
        const z = mean[i]! + std[i]! * noise[i]!;
        sum += z;
        sumSquares += z * z;
        count++;
      }
    }
    const variance = sumSquares / count - (sum / count) ** 2;
    scalingFactor = Number((1 / Math.sqrt(variance)).toPrecision(5));
  } finally {
    await encoder.release();
  }
  log(`vae: latent scaling factor ${scalingFactor}`);
  const scaledVae: VaeConfig = parseVaeConfig({ ...DEMO_VAE_CONFIG, scaling_factor: scalingFactor });
  encoder = await compileComponent({ kind: 'vae-encoder', config: scaledVae, weights: new MemoryWeights(vaeWeights) }, join(encoderDir, 'graph-scaled'));

  const textConfig = parseClipTextConfig({ ...DEMO_TEXT_ENCODER_CONFIG });
  const unetConfig = parseUnetConfig({ ...DEMO_UNET_CONFIG });
  const tokenizer = ClipTokenizer.default();
  const noiser = new DdpmNoiser(resolveNoiseScheduleConfig({ ...DEMO_SCHEDULER_CONFIG, predictionType: 'epsilon' } as never));
  const latentSize = DEMO_IMAGE_SIZE / 8;
  const latentLength = unetConfig.in_channels * latentSize * latentSize;

  /** Noisy latents, timesteps and ε of step `step` of a stage, from the stage's own generator. */
  const diffusionBatch = async (scenes: readonly Scene[], step: number, random: TrainingRandom, noiseOffset: number) => {
    const batch = scenes.length;
    const out = await encoder.session('vae_encoder').run({ image: scenePixels(scenes) });
    const mean = out.mean!.data as Float32Array;
    const std = out.std!.data as Float32Array;
    const epsilon = random.normal(STREAMS.latent, step, mean.length);
    const x0 = new Float32Array(mean.length);
    for (let i = 0; i < x0.length; i++) x0[i] = Math.fround(Math.fround(mean[i]! + std[i]! * epsilon[i]!) * scalingFactor);
    const noise: Tensor<'float32'> = { dtype: 'float32', shape: [batch, unetConfig.in_channels, latentSize, latentSize], data: random.normal(STREAMS.noise, step, batch * latentLength) };
    if (noiseOffset > 0) addNoiseOffset(noise, noiseOffset, random.normal(STREAMS.noiseOffset, step, batch * unetConfig.in_channels));
    const timesteps = random.integers(STREAMS.timesteps, step, batch, 1000);
    const sample = noiser.addNoise({ dtype: 'float32', shape: noise.shape, data: x0 }, noise, timesteps);
    return { sample, noise, timesteps: { dtype: 'float32' as const, shape: [batch], data: Float32Array.from(timesteps) } };
  };
  const captionsFor = (scenes: readonly Scene[], step: number, random: TrainingRandom, dropout: number) => {
    const draws = random.uniform(STREAMS.dropout, step, scenes.length);
    return scenes.map((scene, b) => (draws[b]! < dropout ? '' : captionOf(scene)));
  };

  let text: CompiledComponent | undefined;
  try {
    // 3. The text encoder, contrastively against scene images (then frozen for every U-Net).
    const textStage = recipe.text;
    const groupOptions = { changes: textStage.groupChanges ?? GROUP_CHANGES, swapStripes: textStage.swapStripes ?? false };
    const groupSize = 1 + groupOptions.changes.length;
    const randomScenes = textStage.batch - groupSize * textStage.groups;
    if (randomScenes < 0 || !Number.isInteger(textStage.groups)) throw new Error(`The text stage's batch of ${textStage.batch} cannot hold ${textStage.groups} groups of ${groupSize} scenes.`);
    const textRecord = await runStage({
      stage: 'text',
      dir: join(workDir, 'text'),
      settings: { ...settingsOf(textStage, recipe), ...(textStage.freezeTextSteps ? { freeze: { prefixes: ['text_model.', TEXT_PROJECTION], steps: textStage.freezeTextSteps } } : {}) },
      identity: identityOf({ seed: recipe.seed, recipe: textStage, config: DEMO_TEXT_ENCODER_CONFIG, contrastive: DEMO_CONTRASTIVE, imageSize: DEMO_IMAGE_SIZE }),
      build: () =>
        buildContrastiveTrainingGraph({ weights: initialWeights(recipe.seed + 2), config: textConfig }, initialWeights(recipe.seed + 9), { batch: textStage.batch, size: DEMO_IMAGE_SIZE }, DEMO_CONTRASTIVE),
      feedsAt: (step) => {
        const scenes = [
          ...Array.from({ length: randomScenes }, (_, b) => trainScene(30_000_000 + step * randomScenes + b)),
          ...Array.from({ length: textStage.groups }, (_, g) => contrastiveGroupAt(recipe.seed, step * textStage.groups + g, groupOptions)).flat(),
        ];
        return { [CONTRASTIVE_INPUTS.image]: scenePixels(scenes), [CONTRASTIVE_INPUTS.inputIds]: tokenizer.encodeBatch(scenes.map(captionOf)) };
      },
      onStep: options.onStage,
      signal: options.signal,
    });
    const textStageWeights = stageWeights(join(workDir, 'text'));
    // What every U-Net stage reads besides its own recipe: the VAE's latents (and their scale) and the frozen text encoder.
    const upstream = { vae: vaeDigest, scalingFactor, text: await stageWeightsDigest(join(workDir, 'text')), config: DEMO_UNET_CONFIG, scheduler: DEMO_SCHEDULER_CONFIG, imageSize: DEMO_IMAGE_SIZE };
    // What the encoder tells apart, one attribute at a time: as many pairs per attribute as a training batch holds.
    const pairs = await contrastivePairAccuracy({ weights: textStageWeights, textConfig, contrastive: DEMO_CONTRASTIVE, imageSize: DEMO_IMAGE_SIZE, seed: recipe.seed, pairs: Math.floor(textStage.batch / 2), dir: join(workDir, 'text', 'graph-pairs') });
    log(`text: captions told apart from their one-attribute pair: ${pairs.map((p) => `${p.kind} ${Math.round(100 * p.accuracy)} %`).join(', ')} (${pairs[0]!.pairs} pairs each, chance 50 %)`);
    records.push({ ...textRecord, extra: { ...textRecord.extra, pairAccuracy: Object.fromEntries(pairs.map((p) => [p.kind, p.accuracy])) } });
    const textWeights = new Map([...textStageWeights].filter(([name]) => name.startsWith('text_model.')));
    const frozen = await compileComponent({ kind: 'text-encoder', config: textConfig, weights: new MemoryWeights(textWeights) }, join(workDir, 'text', 'graph-frozen'));
    text = frozen;
    const contextOf = async (scenes: readonly Scene[], step: number, random: TrainingRandom, dropout: number): Promise<Tensor> =>
      (await frozen.session('text_encoder').run({ input_ids: tokenizer.encodeBatch(captionsFor(scenes, step, random, dropout)) })).last_hidden_state!;
    /** A U-Net stage's feeds for its scenes of `step`: noised latents, their timesteps and ε, and the captions' context. */
    const unetFeeds = async (scenes: readonly Scene[], step: number, random: TrainingRandom, stage: DiffusionStageRecipe): Promise<Record<string, Tensor>> => {
      const { sample, noise, timesteps } = await diffusionBatch(scenes, step, random, stage.noiseOffset);
      return {
        [TRAINING_INPUTS.context]: await contextOf(scenes, step, random, stage.captionDropout),
        [TRAINING_INPUTS.sample]: sample,
        [TRAINING_INPUTS.timestep]: timesteps,
        [TRAINING_INPUTS.target]: noise,
      };
    };

    // 4. The base U-Net on every training scene.
    const base = recipe.base;
    const baseRandom = stageRandom(recipe.seed, 2);
    records.push(
      await runStage({
        stage: 'base',
        dir: join(workDir, 'base'),
        settings: settingsOf(base, recipe),
        identity: identityOf({ seed: recipe.seed, recipe: base, ...upstream }),
        build: () => buildUnetTrainingGraph(initialWeights(recipe.seed + 2), unetConfig, { batch: base.batch, height: latentSize, width: latentSize, tokens: textConfig.max_position_embeddings }),
        feedsAt: (step) => unetFeeds(Array.from({ length: base.batch }, (_, b) => trainScene(20_000_000 + step * base.batch + b)), step, baseRandom, base),
        onStep: options.onStage,
        signal: options.signal,
      }),
    );
    const baseUnet = stageWeights(join(workDir, 'base'));
    const baseDigest = await stageWeightsDigest(join(workDir, 'base'));

    // 5. Experts: the base U-Net fine-tuned per domain; prompts through the frozen text encoder.
    const experts: { domain: DemoDomainName; weights: Map<string, Tensor<'float32'>> }[] = [];
    const stage = recipe.experts;
    for (const [d, domain] of DEMO_DOMAINS.entries()) {
      const dir = join(workDir, `expert-${domain.name}`);
      const expertRandom = stageRandom(recipe.seed, 3 + d);
      records.push(
        await runStage({
          stage: `expert-${domain.name}`,
          dir,
          settings: settingsOf(stage, recipe),
          identity: identityOf({ seed: recipe.seed, recipe: stage, domain: domain.name, base: baseDigest, ...upstream }),
          build: () => buildUnetTrainingGraph(new MemoryWeights(baseUnet), unetConfig, { batch: stage.batch, height: latentSize, width: latentSize, tokens: textConfig.max_position_embeddings }),
          feedsAt: (step) => unetFeeds(Array.from({ length: stage.batch }, (_, b) => domainSceneAt(domain.name, recipe.seed, step * stage.batch + b)), step, expertRandom, stage),
          onStep: options.onStage,
          signal: options.signal,
        }),
      );
      experts.push({ domain: domain.name, weights: stageWeights(dir) });
    }
    return {
      vae: { config: { ...DEMO_VAE_CONFIG, scaling_factor: scalingFactor }, weights: vaeWeights },
      textEncoder: { config: { ...DEMO_TEXT_ENCODER_CONFIG }, weights: textWeights },
      base: baseUnet,
      experts,
      records,
    };
  } finally {
    await text?.release();
    await encoder.release();
  }
}

export { stageDone };
export type { CompiledComponent };
