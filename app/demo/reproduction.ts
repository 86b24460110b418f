// `npm run reproduce`: the AFA paper's experiment at toy scale, on the studio's own demo family (issue #12),
// or on any studio home with an AFA recipe of K experts. Every method runs through the studio's own
// implementation — each recipe is resolved by app/ensemble/recipe-target.ts exactly as a generation
// resolves it (single models, the weighted merge and MBW as merged graphs, output and feature average and
// AFA as lock-step graphs, MagicFusion as its saliency blend) — and is measured on held-out captions of
// the demo scenes (sceneAt(seed, i, 'test'): combinations no model was trained on):
//
//   ε-MSE        the conditional ε prediction on VAE latents of held-out scenes, noised at fixed
//                timesteps with fixed noise (the paper's Fig. 1 measure)
//   accuracy     shape, colour, size, position and background of generated images, read back by the
//                model-free scene checker (scene-checker.ts), at 5, 10, 25 and 50 DDIM steps (Fig. 4)
//   contributions  AFA's per-point expert weights by timestep range, and each expert's share by caption
//                attribute and image region
//   ablation     AFA's aggregators without spatial awareness (AggregatorConfig.spatial false), trained
//                here with the studio's training job on the same data, seed and steps as the recipe's
//                own aggregators, and cached in the home as an ordinary training run
//
// Everything is seeded (scenes, noise, image seeds, the bootstrap), so a rerun on the same machine writes
// the same tables. The report (reproduction-report.ts) adds 95 % bootstrap intervals over prompts.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { throwIfCancelled, UserError } from '../common/errors.ts';
import { studioPaths } from '../common/paths.ts';
import type { ModelManifest } from '../checkpoints/model-store.ts';
import { storedModelFiles } from '../checkpoints/model-store.ts';
import type { AggregatorConfig, AggregatorSize } from '../ensemble/aggregator-config.ts';
import { loadAggregatorSet } from '../ensemble/aggregator-set.ts';
import { pointName } from '../ensemble/lock-step-graph.ts';
import { aggregatorDir, checkRecipeCanRun, lockStepDenoiser, MagicFusionDenoiser, resolveRecipe } from '../ensemble/recipe-target.ts';
import { MBW_BLOCKS, validateRecipe, type Recipe } from '../ensemble/recipe.ts';
import { Library } from '../library/library.ts';
import { parseUnetConfig } from '../models/unet-config.ts';
import { unetLayout, type UnetPoint } from '../models/unet-layout.ts';
import { parseVaeConfig } from '../models/vae-config.ts';
import type { StepContext } from '../pipeline/denoiser.ts';
import { createModelRuntime, type ModelRuntime } from '../pipeline/model-runtime.ts';
import { imageToRgbInSlices, type RgbImage } from '../pipeline/preview.ts';
import { VaeLatentDecoder } from '../pipeline/model-denoiser.ts';
import { requireStoredModel } from '../pipeline/stored-model-target.ts';
import type { SessionOptions } from '../runtime/onnx-runtime.ts';
import { createScheduler } from '../schedulers/registry.ts';
import { DdpmNoiser } from '../schedulers/ddpm-noiser.ts';
import { gaussianNoise } from '../schedulers/noise.ts';
import { resolveNoiseScheduleConfig } from '../schedulers/scheduler-config.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { createTrainingRun, deleteTrainingRun, listTrainingRuns, runTraining } from '../training/studio-training.ts';
import type { TrainingSettings } from '../training/training-settings.ts';
import { asBatchable, concatTensors, encodeBatch, predictBatch, rows, sampleBatch, type BatchableDenoiser } from './batch-sampling.ts';
import { judgeImage } from './scene-checker.ts';
import { sceneBatch, writeSceneDataset } from './scene-dataset.ts';
import { homeWantsDemo, installDemoPack } from './demo-install.ts';
import { demoPackDirectory } from './demo-pack-location.ts';
import { captionOf, placeObjects, sceneAt, shapeSdf, type Scene } from './scenes.ts';

/** Seeds the held-out scenes, the noise of the ε measure, the images' seeds and the bootstrap. */
export const REPRODUCTION_SEED = 2026;
export const ERROR_TIMESTEPS: readonly number[] = [100, 300, 500, 700, 900];
export const STEP_COUNTS: readonly number[] = [5, 10, 25, 50];
export const IMAGE_SIZE = 64;
/**
 * Prompts (held-out captions) per method and step count, so the whole command (its ablation trained) fits
 * in 12 minutes on 2 cores: 48 took 10.2 min of generation and 1.8 min of ε-MSE on demo-size models on
 * this shared 2-core machine (load 5–8); docs/reproduction.md states the time of its own run.
 */
export const DEFAULT_PROMPTS = 40;
/** Held-out images of the ε measure (each at every timestep). */
export const DEFAULT_ERROR_IMAGES = 128;
/**
 * Images per batch of the sampler (2 rows each with guidance). At 8×8 latents larger batches keep paying
 * off: one AFA step over the 3 golden experts took 200 ms per image alone, 81 ms per image in batches of
 * 16, 64 ms in 32 and 52 ms in 64 (2 shared cores; bench-style measurement while writing this).
 */
export const BATCH_IMAGES = 64;
/** Prompts shown in the image grids. */
export const GRID_PROMPTS = 8;
/** `--quick`: enough of everything to check that each part runs; not a measurement. */
export const QUICK = Object.freeze({ prompts: 3, errorImages: 4, stepCounts: [2, 4], timesteps: [100, 500, 900] });

/**
 * MBW's block setting: α rises linearly over the 25 blocks, from 0 at IN00 (all of member A) to 1 at
 * OUT11 (all of member B), M00 half and half; keys outside the blocks (time embedding, conv_in/out, the
 * text encoder) take 0.5. The encoder comes mostly from A, the decoder mostly from B.
 */
export const MBW_SETTING = Object.freeze({ blocks: Object.freeze(MBW_BLOCKS.map((_, i) => i / (MBW_BLOCKS.length - 1))), base: 0.5 });

/** Timestep ranges of the contribution tables (of the 1000 training timesteps). */
export const TIMESTEP_RANGES: readonly { readonly label: string; readonly from: number; readonly to: number }[] = [
  { label: 'early (t ≥ 667)', from: 667, to: 1000 },
  { label: 'middle (333 ≤ t < 667)', from: 333, to: 667 },
  { label: 'late (t < 333)', from: 0, to: 333 },
];

export const ATTRIBUTES = ['shape', 'colour', 'size', 'position', 'background', 'all'] as const;
export type Attribute = (typeof ATTRIBUTES)[number];

export interface ReproductionOptions {
  readonly home: string;
  readonly quick?: boolean;
  readonly prompts?: number;
  readonly errorImages?: number;
  /** The AFA recipe (id or name); default: the home's only AFA recipe, or its demo one. */
  readonly recipe?: string;
  /** A demo pack whose manifest records how its aggregators were trained (default: the repository's). */
  readonly pack?: string;
  readonly session?: SessionOptions;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

export interface MethodSpec {
  readonly key: string;
  readonly label: string;
  readonly description: string;
  readonly recipe: Recipe;
}

export interface ExpertInfo {
  readonly name: string;
  readonly shortHash: string;
  readonly modelId: string;
}

/** Per held-out image, per timestep: mean((ε̂ − ε)²). */
export type ErrorTable = readonly (readonly number[])[];

/** Per step count, per prompt: 1 when the checker found the attribute right, else 0. */
export type AccuracyTable = readonly Readonly<Record<Attribute, readonly number[]>>[];

export interface PointContribution {
  readonly index: number;
  readonly block: string;
  readonly height: number;
  readonly width: number;
  /** Per timestep range: the mean weight map of each expert, [K, h, w] flattened (NaN-free; zeros when never seen). */
  readonly maps: readonly Float64Array[];
}

export interface Contributions {
  readonly points: readonly PointContribution[];
  /** Per prompt, per expert: the mean weight over the full-resolution points and all steps, whole image. */
  readonly imageShares: readonly (readonly number[])[];
  /** The same over latent cells the caption's objects cover (≥ half) and cells they do not touch. */
  readonly objectShares: readonly (readonly number[] | null)[];
  readonly backgroundShares: readonly (readonly number[] | null)[];
}

export interface AblationRecord {
  /** Where the settings came from, in words for the report. */
  readonly source: string;
  readonly settings: Partial<TrainingSettings>;
  readonly dataset: string;
  readonly runId: string;
  readonly aggregatorId: string;
  /** Whether this invocation trained it (false: found in the home). */
  readonly trained: boolean;
  readonly seconds: number;
  readonly finalLoss: number | null;
}

export interface ReproductionResult {
  readonly quick: boolean;
  readonly recipeName: string;
  readonly aggregatorId: string;
  readonly experts: readonly ExpertInfo[];
  readonly aggregatorSize: AggregatorSize;
  readonly methods: readonly MethodSpec[];
  readonly seed: number;
  readonly guidance: number;
  readonly mainSteps: number;
  readonly stepCounts: readonly number[];
  readonly timesteps: readonly number[];
  readonly errorScenes: readonly Scene[];
  readonly promptScenes: readonly Scene[];
  /** As many scenes of the training split (combinations the models were trained on; new scenes). */
  readonly seenScenes: readonly Scene[];
  /** By method key. */
  readonly errors: Readonly<Record<string, ErrorTable>>;
  readonly accuracy: Readonly<Record<string, AccuracyTable>>;
  /** By method key, at the main step count, on the seen scenes' captions. */
  readonly seenAccuracy: Readonly<Record<string, Readonly<Record<Attribute, readonly number[]>>>>;
  /**
   * The VAE alone: the held-out and the seen scenes encoded (mean) and decoded, judged like a generation.
   * What any denoiser over this VAE can reach at best.
   */
  readonly vaeRoundTrip: { readonly heldOut: Readonly<Record<Attribute, readonly number[]>>; readonly seen: Readonly<Record<Attribute, readonly number[]>> };
  /** By method key ('afa', 'afa-no-spatial'), at the main step count. */
  readonly contributions: Readonly<Record<string, Contributions>>;
  /** By method key, per step count: the first GRID_PROMPTS images. */
  readonly gridImages: Readonly<Record<string, readonly (readonly RgbImage[])[]>>;
  readonly ablation: AblationRecord;
  readonly timings: { readonly ablation: number; readonly errors: number; readonly generation: number; readonly total: number; readonly perMethod: Readonly<Record<string, number>> };
}

// ---------------------------------------------------------------------------------------------------
// The home's AFA recipe.

interface Setup {
  readonly home: string;
  readonly recipe: Recipe;
  readonly manifests: readonly ModelManifest[];
  readonly aggregatorConfig: AggregatorConfig;
}

/** The pack to read: the option, else the one the studio installs (AFA_STUDIO_DEMO_PACK or the shipped pack). */
function packDirectory(options: ReproductionOptions): string | null {
  return options.pack !== undefined ? resolve(options.pack) : demoPackDirectory();
}

/** What the studio's first start does: a home that wants the demo (a new one) gets it installed. */
async function setUpDemoIfWanted(home: string, options: ReproductionOptions): Promise<void> {
  const packDir = packDirectory(options);
  if (!packDir || !existsSync(join(packDir, 'manifest.json'))) return;
  const library = Library.open({ home });
  try {
    if (!homeWantsDemo(library)) return;
    options.log?.(`Setting up the demo models in ${home} (what the studio does at first start)…`);
    await installDemoPack(home, packDir, { signal: options.signal }, { library });
  } finally {
    library.close();
  }
}

function findAfaRecipe(home: string, wanted: string | undefined): Recipe {
  if (!existsSync(studioPaths(home).database)) {
    throw new UserError('not-found', `${home} is not a studio home (it has no library).`, 'Start the studio once (it installs the demo), or pass --home <the studio home>.');
  }
  const library = Library.open({ home });
  try {
    const demoRecipes = library.demoItems.installed('recipe');
    const candidates = library.recipes
      .list()
      .map((row) => {
        try {
          return { id: row.id, recipe: validateRecipe(row.document) };
        } catch {
          return undefined;
        }
      })
      .filter((entry): entry is { id: string; recipe: Recipe } => entry !== undefined && entry.recipe.method === 'afa' && entry.recipe.aggregatorId !== undefined);
    if (wanted !== undefined) {
      const found = candidates.find((entry) => entry.id === wanted || entry.recipe.name === wanted);
      if (!found) throw new UserError('not-found', `There is no AFA recipe '${wanted}' with trained aggregators in ${home}.`, `AFA recipes there: ${candidates.map((c) => c.recipe.name).join(', ') || 'none'}.`);
      return found.recipe;
    }
    if (candidates.length === 1) return candidates[0]!.recipe;
    const demo = candidates.filter((entry) => demoRecipes.has(entry.id));
    if (demo.length === 1) return demo[0]!.recipe;
    throw new UserError(
      'not-found',
      candidates.length === 0 ? `${home} has no AFA recipe with trained aggregators.` : `${home} has ${candidates.length} AFA recipes; say which one to reproduce.`,
      candidates.length === 0 ? 'Start the studio once on this home (it installs the demo), or train aggregators and save an AFA recipe.' : `Pass --recipe <name>: ${candidates.map((c) => c.recipe.name).join(', ')}.`,
    );
  } finally {
    library.close();
  }
}

function setupFor(home: string, wanted: string | undefined): Setup {
  const recipe = findAfaRecipe(home, wanted);
  checkRecipeCanRun(home, recipe);
  const manifests = recipe.members.map((member) => requireStoredModel(home, member.modelId));
  const set = loadAggregatorSet(aggregatorDir(home, recipe.aggregatorId!));
  return { home, recipe, manifests, aggregatorConfig: set.configs[0]! };
}

export function methodsFor(recipe: Recipe, manifests: readonly ModelManifest[], noSpatialAggregatorId: string): MethodSpec[] {
  const members = recipe.members;
  const uniform = members.map(() => 1);
  const names = manifests.map((m) => m.name);
  const pair = `${names[0]} (A) and ${names[1]} (B)`;
  const base = (name: string, method: Recipe['method'], extra: Record<string, unknown> = {}, subset = members) => validateRecipe({ name, method, members: subset, ...extra });
  return [
    ...members.map((member, k) => ({
      key: `expert-${k + 1}`,
      label: `${names[k]} alone`,
      description: `expert ${k + 1} on its own`,
      recipe: base(`${names[k]} alone`, 'single', {}, [member]),
    })),
    { key: 'merge', label: 'Weighted merge', description: `θ = mean of the ${members.length} experts' weights (equal weights)`, recipe: base('Weighted merge', 'merge', { weights: uniform }) },
    { key: 'mbw', label: 'MBW', description: `merge block weighted of ${pair}: α from 0 at IN00 rising linearly to 1 at OUT11, 0.5 elsewhere`, recipe: base('MBW', 'mbw', { mbw: MBW_SETTING }, members.slice(0, 2)) },
    { key: 'output-average', label: 'Output average', description: `the mean of the ${members.length} experts' ε predictions`, recipe: base('Output average', 'output-average', { weights: uniform }) },
    { key: 'feature-average', label: 'Feature average', description: 'lock-step experts, the mean of their features at every point (what untrained aggregators compute)', recipe: base('Feature average', 'feature-average') },
    { key: 'magicfusion', label: 'MagicFusion', description: `saliency-aware noise blending of ${pair}: A alone for the first 15 % of the steps, then per pixel the more salient model`, recipe: base('MagicFusion', 'magicfusion', {}, members.slice(0, 2)) },
    { key: 'afa', label: 'AFA', description: 'the recipe: lock-step experts fused by its trained SABW aggregators', recipe: recipe },
    {
      key: 'afa-no-spatial',
      label: 'AFA (no spatial)',
      description: 'aggregators without spatial awareness (one weight per expert per point), trained like the recipe\'s',
      recipe: validateRecipe({ ...recipe, name: 'AFA (no spatial)', aggregatorId: noSpatialAggregatorId }),
    },
  ];
}

// ---------------------------------------------------------------------------------------------------
// The ablation's aggregators: trained with the studio's training job like the recipe's own.

export interface AblationPlan {
  readonly source: string;
  readonly settings: Partial<TrainingSettings>;
  /** A dataset folder to use as it is, or scenes to write into one. */
  readonly dataset: { readonly folder: string } | { readonly count: number; readonly seed: number; readonly size: number };
}

interface PackTrainingRecord {
  readonly settings: Partial<TrainingSettings>;
  readonly datasetSize: number;
  readonly datasetSeed: number;
  readonly experts?: readonly string[];
}

/**
 * The aggregator part of a demo pack's `training` record (build-demo-pack.ts), when it is there and was
 * made for these experts: the model ids it records (the demo's build installs the experts as this home's
 * install does, so the ids agree), or else the pack's expert names in the aggregators' order, which the
 * install gives the models ("Demo · <name>").
 */
function packRecord(packDir: string, models: readonly ModelManifest[]): PackTrainingRecord | string {
  const path = join(packDir, 'manifest.json');
  if (!existsSync(path)) return `no demo pack at ${packDir}`;
  let manifest: { training?: { aggregators?: Partial<PackTrainingRecord> }; experts?: { id?: string; name?: string }[]; aggregators?: { experts?: string[] } };
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as typeof manifest;
  } catch {
    return `${path} is not valid JSON`;
  }
  const record = manifest.training?.aggregators;
  if (!record || typeof record.settings !== 'object' || typeof record.datasetSize !== 'number' || typeof record.datasetSeed !== 'number') return `${path} records no aggregator training`;
  const sameIds = record.experts?.length === models.length && record.experts.every((id, k) => id === models[k]!.id);
  const order = manifest.aggregators?.experts ?? [];
  const names = order.map((id) => manifest.experts?.find((expert) => expert.id === id)?.name);
  const sameNames = names.length === models.length && names.every((name, k) => typeof name === 'string' && models[k]!.name.endsWith(name));
  if (!sameIds && !sameNames) return `the pack at ${packDir} was trained for other experts`;
  return record as PackTrainingRecord;
}

function ablationPlan(setup: Setup, options: ReproductionOptions): AblationPlan {
  const size: AggregatorSize = { hiddenSize: setup.aggregatorConfig.hiddenSize, numAttentionHeads: setup.aggregatorConfig.numAttentionHeads, numLayers: setup.aggregatorConfig.numLayers, spatial: false };
  const withoutSpatial = (settings: Partial<TrainingSettings>): Partial<TrainingSettings> => ({ ...settings, aggregatorSize: { ...(settings.aggregatorSize ?? size), spatial: false } });
  // 1. The run in this home that trained the recipe's aggregators.
  const library = Library.open({ home: setup.home });
  let run;
  try {
    run = library.trainingRuns.list().find((row) => row.status === 'done' && row.aggregatorId === setup.recipe.aggregatorId);
  } finally {
    library.close();
  }
  const config = run?.config as { settings?: Partial<TrainingSettings>; data?: string } | undefined;
  if (run && config?.settings && typeof config.data === 'string' && existsSync(config.data)) {
    return { source: `the settings and dataset of training run ${run.id} ('${run.name}'), which trained the recipe's aggregators`, settings: withoutSpatial(config.settings), dataset: { folder: config.data } };
  }
  // 2. The demo pack's record of how its aggregators were trained.
  const pack = packDirectory(options);
  const record = pack ? packRecord(pack, setup.manifests) : 'no demo pack';
  const reasons = typeof record === 'string' ? [record] : [];
  if (typeof record !== 'string') {
    const resolution = record.settings.resolution ?? IMAGE_SIZE;
    return {
      source: `the demo pack's record of its aggregators' training (the \`training\` field of its manifest.json): the same settings (${record.settings.steps ?? '?'} steps of batch ${record.settings.batchSize ?? '?'}, seed ${record.settings.seed ?? '?'}) and the same ${record.datasetSize} generated training scenes (seed ${record.datasetSeed})`,
      settings: withoutSpatial(record.settings),
      dataset: { count: record.datasetSize, seed: record.datasetSeed, size: resolution },
    };
  }
  // 3. Nothing recorded: a small documented setting (the report says the comparison is then unmatched).
  const quick = options.quick === true;
  const steps = quick ? 3 : 200;
  return {
    source: `no record of how the recipe's aggregators were trained was found (${reasons.join('; ')}), so a fixed setting was used: ${steps} steps of batch ${quick ? 2 : 4} on ${quick ? 16 : 512} generated training scenes — the comparison with AFA is then not like for like`,
    settings: withoutSpatial({
      resolution: IMAGE_SIZE,
      steps,
      batchSize: quick ? 2 : 4,
      microBatch: quick ? 2 : 4,
      lr: 1e-3,
      schedule: 'constant',
      seed: REPRODUCTION_SEED,
      validationShare: 0,
      validationEvery: 0,
      checkpointEvery: steps,
    }),
    dataset: { count: quick ? 16 : 512, seed: REPRODUCTION_SEED, size: IMAGE_SIZE },
  };
}

/** How the ablation's aggregators would be trained for this home's AFA recipe (nothing is trained). */
export function planAblation(options: ReproductionOptions): AblationPlan {
  return ablationPlan(setupFor(resolve(options.home), options.recipe), options);
}

const RUN_NAME_PREFIX = 'Reproduction: AFA (no spatial)';

async function ensureAblation(setup: Setup, plan: AblationPlan, options: ReproductionOptions): Promise<AblationRecord> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  let dataset: string;
  if ('folder' in plan.dataset) {
    dataset = plan.dataset.folder;
  } else {
    const { count, seed, size } = plan.dataset;
    dataset = join(setup.home, 'reproduction', 'datasets', `scenes-train-${seed}-${count}-${size}`);
    if (!existsSync(join(dataset, 'dataset.json'))) {
      log(`Writing ${count} training scenes (seed ${seed}) for the ablation's aggregators…`);
      await writeSceneDataset(dataset, { split: 'train', count, seed, size, replace: true }, { signal: options.signal });
    }
  }
  const models = setup.manifests.map((m) => m.id);
  const key = createHash('sha256').update(JSON.stringify({ models, settings: plan.settings, dataset })).digest('hex').slice(0, 12);
  const name = `${RUN_NAME_PREFIX} ${key}`;
  let run = listTrainingRuns(setup.home).find((row) => row.name === name);
  if (run?.status === 'done' && (!run.aggregatorId || !existsSync(aggregatorDir(setup.home, run.aggregatorId)))) {
    // Its aggregators were removed: train again rather than fail.
    deleteTrainingRun(setup.home, run.id);
    run = undefined;
  }
  let trained = false;
  if (run?.status !== 'done') {
    run ??= createTrainingRun(setup.home, { models, dataset: { kind: 'folder', path: dataset }, settings: plan.settings, name });
    log(`Training the aggregators without spatial awareness (run ${run.id}; resumable: rerun to continue)…`);
    const steps = plan.settings.steps;
    const every = Math.max(1, Math.round((steps ?? 100) / 10));
    run = (
      await runTraining(setup.home, run.id, {
        signal: options.signal,
        session: options.session,
        onEvent: (event) => {
          if (event.kind === 'step' && (event.step % every === 0 || event.step === event.totalSteps)) {
            log(`  step ${event.step}/${event.totalSteps}  loss ${event.smoothedLoss.toFixed(4)}  ${event.secondsPerStep.toFixed(2)} s/step`);
          }
        },
      })
    ).run;
    trained = true;
  }
  const last = [...run.metrics].reverse().find((metric) => typeof metric.smoothedLoss === 'number');
  return {
    source: plan.source,
    settings: plan.settings,
    dataset,
    runId: run.id,
    aggregatorId: run.aggregatorId!,
    trained,
    seconds: (performance.now() - started) / 1000,
    finalLoss: last?.smoothedLoss ?? null,
  };
}

// ---------------------------------------------------------------------------------------------------
// Measures.

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The noise of held-out image `image` at `timestep` (its own seed, so it never depends on the batching). */
function errorNoise(image: number, timestep: number, shape: readonly number[]): Tensor<'float32'> {
  return gaussianNoise(shape, REPRODUCTION_SEED * 1_000_000 + image * 1000 + timestep);
}

/** VAE latents (the encoder's mean × the scaling factor) of the scenes, [N, 4, h, w]. */
async function encodeScenes(runtime: ModelRuntime, setup: Setup, scenes: readonly Scene[]): Promise<Tensor<'float32'>> {
  const manifest = setup.manifests[0]!;
  const encoder = storedModelFiles(setup.home, manifest).vaeEncoder;
  const scaling = parseVaeConfig(manifest.configs.vae, `VAE config of '${manifest.name}'`).scaling_factor;
  const parts: Tensor<'float32'>[] = [];
  for (const chunk of chunks(scenes, BATCH_IMAGES)) {
    const batch = sceneBatch(chunk, IMAGE_SIZE);
    const { mean } = await runtime.run(encoder, { image: { dtype: 'float32', shape: [...batch.shape], data: batch.pixels } }, ['mean']);
    const data = Float32Array.from(mean!.data as Float32Array, (v) => Math.fround(v * scaling));
    parts.push({ dtype: 'float32', shape: [...mean!.shape], data });
  }
  return concatTensors(parts, 0);
}

/** No verdicts yet: one list of 0/1 per attribute. */
function noVerdicts(): Record<Attribute, number[]> {
  return { shape: [], colour: [], size: [], position: [], background: [], all: [] };
}

/** Appends the checker's verdict on an image of `scene` (1 right, 0 wrong) to each attribute's list. */
function addVerdict(judged: Record<Attribute, number[]>, image: RgbImage, scene: Scene): void {
  const judgement = judgeImage(image.rgb, image.width, scene);
  for (const attribute of ATTRIBUTES) judged[attribute].push(judgement[attribute] ? 1 : 0);
}

/** The checker's verdicts on images of the scenes, in order. */
function judgeAll(images: readonly RgbImage[], scenes: readonly Scene[]): Record<Attribute, number[]> {
  const judged = noVerdicts();
  images.forEach((image, i) => addVerdict(judged, image, scenes[i]!));
  return judged;
}

/** The scenes through the VAE and back (the encoder's mean, then the decoder), as the checker sees them. */
async function vaeRoundTrip(runtime: ModelRuntime, setup: Setup, scenes: readonly Scene[]): Promise<RgbImage[]> {
  const latents = await encodeScenes(runtime, setup, scenes);
  const decoder = new VaeLatentDecoder(storedModelFiles(setup.home, setup.manifests[0]!).vaeDecoder, runtime);
  const images: RgbImage[] = [];
  for (let i = 0; i < scenes.length; i++) images.push(await imageToRgbInSlices(await decoder.decode(rows(latents, i, 1))));
  return images;
}

/**
 * The step a MagicFusion phase is decided by, for a prediction at training timestep t: the step of a
 * 1000-step schedule at t (so t ≥ 850 is model A alone, as the default fusion start of 15 % of the steps).
 */
function magicFusionStepFor(timestep: number, trainSteps: number): StepContext {
  return { index: trainSteps - 1 - timestep, total: trainSteps, guidance: 1 };
}

async function measureErrors(runtime: ModelRuntime, setup: Setup, method: MethodSpec, scenes: readonly Scene[], latents: Tensor<'float32'>, timesteps: readonly number[], signal?: AbortSignal): Promise<number[][]> {
  const target = await resolveRecipe({ recipe: method.recipe }, { home: setup.home, runtime, signal: signal ?? new AbortController().signal });
  const denoiser = asBatchable(target.denoiser, method.recipe.method);
  const noiser = new DdpmNoiser(resolveNoiseScheduleConfig({ predictionType: 'epsilon' }));
  const T = noiser.alphasCumprod.length;
  const table = timesteps.map(() => new Array<number>(scenes.length).fill(NaN));
  const size = latents.data.length / latents.shape[0]!;
  for (const [c, chunk] of chunks(scenes.map((_, i) => i), BATCH_IMAGES).entries()) {
    throwIfCancelled(signal);
    const start = c * BATCH_IMAGES;
    const x0 = rows(latents, start, chunk.length);
    const conditioning = await encodeBatch(denoiser, chunk.map((i) => captionOf(scenes[i]!)), '', false);
    for (const [ti, t] of timesteps.entries()) {
      const noise = concatTensors(chunk.map((i) => errorNoise(i, t, [1, ...latents.shape.slice(1)])), 0);
      const noisy = noiser.addNoise(x0, noise, chunk.map(() => t));
      const step = denoiser instanceof MagicFusionDenoiser ? magicFusionStepFor(t, T) : { index: 0, total: 1, guidance: 1 };
      const prediction = await predictBatch(denoiser, noisy, t, conditioning, step);
      chunk.forEach((image, b) => {
        let sum = 0;
        for (let j = 0; j < size; j++) {
          const d = prediction.data[b * size + j]! - noise.data[b * size + j]!;
          sum += d * d;
        }
        table[ti]![image] = sum / size;
      });
    }
  }
  await target.release?.();
  return table;
}

/** Latent cells (h×w of the full-resolution points) the scene's objects cover at least half of, and cells no object touches. */
function objectCells(scene: Scene, height: number, width: number): { object: Uint8Array; background: Uint8Array } {
  const object = new Uint8Array(height * width);
  const background = new Uint8Array(height * width);
  const placed = placeObjects(scene, IMAGE_SIZE).map((p) => shapeSdf(p.object.shape, p.cx, p.cy, p.r));
  const cellW = IMAGE_SIZE / width;
  const cellH = IMAGE_SIZE / height;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let inside = 0;
      let near = false;
      for (let py = 0; py < cellH; py++) {
        for (let px = 0; px < cellW; px++) {
          const d = Math.min(...placed.map((sdf) => sdf(x * cellW + px + 0.5, y * cellH + py + 0.5)));
          if (d < 0) inside++;
          if (d < 1) near = true;
        }
      }
      object[y * width + x] = inside * 2 >= cellW * cellH ? 1 : 0;
      background[y * width + x] = near ? 0 : 1;
    }
  }
  return { object, background };
}

/** Accumulates an AFA graph's weight maps over the images of one step count. */
class ContributionAccumulator {
  readonly #K: number;
  readonly #points: readonly UnetPoint[];
  readonly #sums: Float64Array[][];
  readonly #counts: number[][];
  readonly #image: Float64Array;
  readonly #object: Float64Array;
  readonly #background: Float64Array;
  readonly #objectCount: Float64Array;
  readonly #backgroundCount: Float64Array;
  readonly #imageCount: Float64Array;
  readonly #timesteps = new Map<number, readonly number[]>();
  /** The prompts of the batch being sampled (their global indices) and their cell masks. */
  current: { readonly prompts: readonly number[]; readonly masks: readonly { object: Uint8Array; background: Uint8Array }[] } | undefined;

  constructor(K: number, points: readonly UnetPoint[], latentSize: number, prompts: number) {
    this.#K = K;
    this.#points = points;
    this.#sums = points.map((point) => TIMESTEP_RANGES.map(() => new Float64Array(K * (latentSize / point.outScale) ** 2)));
    this.#counts = points.map(() => TIMESTEP_RANGES.map(() => 0));
    this.#image = new Float64Array(prompts * K);
    this.#object = new Float64Array(prompts * K);
    this.#background = new Float64Array(prompts * K);
    this.#imageCount = new Float64Array(prompts);
    this.#objectCount = new Float64Array(prompts);
    this.#backgroundCount = new Float64Array(prompts);
  }

  private timestepOf(step: StepContext): number {
    let list = this.#timesteps.get(step.total);
    if (!list) {
      const scheduler = createScheduler('ddim', { eta: 0 });
      scheduler.setTimesteps(step.total);
      list = scheduler.timesteps;
      this.#timesteps.set(step.total, list);
    }
    return list[step.index]!;
  }

  /** maps: `weights_NN` → [2N, K, h, w] with the batch's [uncond, cond] rows; the conditional rows shape the image. */
  record(step: StepContext, maps: Readonly<Record<string, Tensor<'float32'>>>): void {
    const current = this.current;
    if (!current) return;
    const t = this.timestepOf(step);
    const range = TIMESTEP_RANGES.findIndex((r) => t >= r.from && t < r.to);
    const K = this.#K;
    this.#points.forEach((point, p) => {
      const map = maps[`weights_${pointName(point.index)}`];
      if (!map) return;
      const [rowsCount, , h, w] = map.shape as [number, number, number, number];
      const plane = h * w;
      const stride = rowsCount / current.prompts.length;
      const sums = this.#sums[p]![range]!;
      current.prompts.forEach((prompt, b) => {
        const row = map.data.subarray((b * stride + stride - 1) * K * plane, (b * stride + stride) * K * plane);
        for (let i = 0; i < K * plane; i++) sums[i]! += row[i]!;
        this.#counts[p]![range]!++;
        if (point.outScale !== 1) return;
        const masks = current.masks[b]!;
        for (let k = 0; k < K; k++) {
          let all = 0;
          let object = 0;
          let background = 0;
          for (let c = 0; c < plane; c++) {
            const v = row[k * plane + c]!;
            all += v;
            if (masks.object[c]) object += v;
            if (masks.background[c]) background += v;
          }
          this.#image[prompt * K + k]! += all / plane;
          this.#object[prompt * K + k]! += object;
          this.#background[prompt * K + k]! += background;
        }
        this.#imageCount[prompt]!++;
        this.#objectCount[prompt]! += masks.object.reduce((a, b) => a + b, 0);
        this.#backgroundCount[prompt]! += masks.background.reduce((a, b) => a + b, 0);
      });
    });
  }

  result(): Contributions {
    const K = this.#K;
    const perPrompt = (sums: Float64Array, counts: Float64Array) =>
      Array.from(counts, (count, prompt) => (count > 0 ? Array.from({ length: K }, (_, k) => sums[prompt * K + k]! / count) : null));
    return {
      points: this.#points.map((point, p) => {
        const side = Math.round(Math.sqrt(this.#sums[p]![0]!.length / K));
        return {
          index: point.index,
          block: point.block,
          height: side,
          width: side,
          maps: this.#sums[p]!.map((sum, r) => sum.map((v) => (this.#counts[p]![r]! > 0 ? v / this.#counts[p]![r]! : 0))),
        };
      }),
      imageShares: perPrompt(this.#image, this.#imageCount).map((shares) => shares ?? new Array<number>(K).fill(NaN)),
      objectShares: perPrompt(this.#object, this.#objectCount),
      backgroundShares: perPrompt(this.#background, this.#backgroundCount),
    };
  }
}

const AFA_KEYS = new Set(['afa', 'afa-no-spatial']);

// ---------------------------------------------------------------------------------------------------
// The whole run.

export async function runReproduction(options: ReproductionOptions): Promise<ReproductionResult> {
  const log = options.log ?? (() => {});
  const began = performance.now();
  const quick = options.quick === true;
  const home = resolve(options.home);
  await setUpDemoIfWanted(home, options);
  const setup = setupFor(home, options.recipe);
  const unetConfig = parseUnetConfig(setup.manifests[0]!.configs.unet, `U-Net config of '${setup.manifests[0]!.name}'`);
  const layout = unetLayout(unetConfig);
  const promptCount = options.prompts ?? (quick ? QUICK.prompts : DEFAULT_PROMPTS);
  const errorCount = options.errorImages ?? (quick ? QUICK.errorImages : DEFAULT_ERROR_IMAGES);
  const stepCounts = quick ? QUICK.stepCounts : STEP_COUNTS;
  const timesteps = quick ? QUICK.timesteps : ERROR_TIMESTEPS;
  const defaults = setup.recipe.defaults ?? {};
  const mainSteps = stepCounts.includes(defaults.steps ?? 25) ? (defaults.steps ?? 25) : stepCounts[stepCounts.length - 1]!;
  const guidance = defaults.guidance ?? 7.5;
  log(`Reproducing on '${setup.recipe.name}' (${setup.manifests.map((m) => m.name).join(', ')}) in ${home}`);

  const ablationStarted = performance.now();
  const ablation = await ensureAblation(setup, ablationPlan(setup, options), options);
  const ablationSeconds = (performance.now() - ablationStarted) / 1000;
  const methods = methodsFor(setup.recipe, setup.manifests, ablation.aggregatorId);

  // float32 on every provider: the report's numbers are compared across machines and reruns.
  const runtime = createModelRuntime({ sessionOptions: options.session, precision: 'fp32' });
  const signal = options.signal ?? new AbortController().signal;
  try {
    // ε-MSE on held-out images.
    const errorsStarted = performance.now();
    const errorScenes = Array.from({ length: errorCount }, (_, i) => sceneAt(REPRODUCTION_SEED, i, 'test'));
    const latents = await encodeScenes(runtime, setup, errorScenes);
    const errors: Record<string, number[][]> = {};
    for (const method of methods) {
      log(`ε-MSE: ${method.label}`);
      errors[method.key] = await measureErrors(runtime, setup, method, errorScenes, latents, timesteps, signal);
    }
    const errorSeconds = (performance.now() - errorsStarted) / 1000;

    // Generations on held-out captions, judged by the scene checker.
    const generationStarted = performance.now();
    const promptScenes = Array.from({ length: promptCount }, (_, i) => sceneAt(REPRODUCTION_SEED, i, 'test'));
    const captions = promptScenes.map(captionOf);
    const seeds = promptScenes.map((_, i) => REPRODUCTION_SEED + i);
    const seenScenes = Array.from({ length: promptCount }, (_, i) => sceneAt(REPRODUCTION_SEED, i, 'train'));
    const roundTrip = {
      heldOut: judgeAll(await vaeRoundTrip(runtime, setup, promptScenes), promptScenes),
      seen: judgeAll(await vaeRoundTrip(runtime, setup, seenScenes), seenScenes),
    };
    const seenAccuracy: Record<string, Record<Attribute, number[]>> = {};
    const latentSize = IMAGE_SIZE / 8;
    const masks = promptScenes.map((scene) => objectCells(scene, latentSize, latentSize));
    const accuracy: Record<string, Record<Attribute, number[]>[]> = {};
    const contributions: Record<string, Contributions> = {};
    const gridImages: Record<string, RgbImage[][]> = {};
    const perMethod: Record<string, number> = {};
    for (const method of methods) {
      const methodStarted = performance.now();
      const target = await resolveRecipe({ recipe: method.recipe }, { home, runtime, signal });
      let denoiser: BatchableDenoiser;
      let accumulator: ContributionAccumulator | undefined;
      if (AFA_KEYS.has(method.key)) {
        // The same graph as the generation target, fetching every point's weight map.
        accumulator = new ContributionAccumulator(setup.manifests.length, layout, latentSize, promptCount);
        const acc = accumulator;
        denoiser = lockStepDenoiser(method.recipe, setup.manifests, { home, runtime, signal }, { outputs: layout.map((point) => `weights_${pointName(point.index)}`), listener: (step, maps) => acc.record(step, maps) });
      } else {
        denoiser = asBatchable(target.denoiser, method.recipe.method);
      }
      const judged = stepCounts.map(noVerdicts);
      const grids = stepCounts.map((): RgbImage[] => []);
      log(`Generating: ${method.label}, ${promptCount} prompts at ${stepCounts.join(', ')} steps`);
      for (const chunk of chunks(promptScenes.map((_, i) => i), BATCH_IMAGES)) {
        const prompts = chunk.map((i) => captions[i]!);
        // Encoded once for every step count (the text encoders do not depend on it).
        const conditioning = await encodeBatch(denoiser, prompts, '', guidance > 1);
        for (const [si, steps] of stepCounts.entries()) {
          if (accumulator) accumulator.current = steps === mainSteps ? { prompts: chunk, masks: chunk.map((i) => masks[i]!) } : undefined;
          const job = { prompts, seeds: chunk.map((i) => seeds[i]!), negativePrompt: '', width: IMAGE_SIZE, height: IMAGE_SIZE, steps, guidance };
          const { images } = await sampleBatch(denoiser, target.decoder, job, signal, conditioning);
          images.forEach((image, b) => {
            const prompt = chunk[b]!;
            addVerdict(judged[si]!, image, promptScenes[prompt]!);
            if (prompt < GRID_PROMPTS) grids[si]!.push(image);
          });
        }
      }
      // The same at the main step count on captions of the training split (no contribution maps).
      if (accumulator) accumulator.current = undefined;
      const seenImages: RgbImage[] = [];
      for (const chunk of chunks(seenScenes.map((_, i) => i), BATCH_IMAGES)) {
        const prompts = chunk.map((i) => captionOf(seenScenes[i]!));
        const job = { prompts, seeds: chunk.map((i) => seeds[i]!), negativePrompt: '', width: IMAGE_SIZE, height: IMAGE_SIZE, steps: mainSteps, guidance };
        seenImages.push(...(await sampleBatch(denoiser, target.decoder, job, signal)).images);
      }
      seenAccuracy[method.key] = judgeAll(seenImages, seenScenes);
      accuracy[method.key] = judged;
      gridImages[method.key] = grids;
      if (accumulator) contributions[method.key] = accumulator.result();
      await target.release?.();
      perMethod[method.key] = (performance.now() - methodStarted) / 1000;
    }
    const generationSeconds = (performance.now() - generationStarted) / 1000;
    return {
      quick,
      recipeName: setup.recipe.name,
      aggregatorId: setup.recipe.aggregatorId!,
      experts: setup.manifests.map((m) => ({ name: m.name, shortHash: m.shortHash, modelId: m.id })),
      aggregatorSize: { hiddenSize: setup.aggregatorConfig.hiddenSize, numAttentionHeads: setup.aggregatorConfig.numAttentionHeads, numLayers: setup.aggregatorConfig.numLayers },
      methods,
      seed: REPRODUCTION_SEED,
      guidance,
      mainSteps,
      stepCounts,
      timesteps,
      errorScenes,
      promptScenes,
      seenScenes,
      errors,
      accuracy,
      seenAccuracy,
      vaeRoundTrip: roundTrip,
      contributions,
      gridImages,
      ablation,
      timings: { ablation: ablationSeconds, errors: errorSeconds, generation: generationSeconds, total: (performance.now() - began) / 1000, perMethod },
    };
  } finally {
    await runtime.sessions.clear();
  }
}
