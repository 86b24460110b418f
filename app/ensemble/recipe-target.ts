// The 'recipe' generation target (app/pipeline/generation-target.ts): turns an ensemble recipe into the
// loop's Denoiser. The recipe's graph is compiled once into studioPaths(home).compiled/<key>/ — keyed by
// what determines it (method, members' SHA-256, weights, aggregators) — and referenced the experts'
// weights files in place (hard links), so running a recipe writes no merged checkpoint and copies no weights.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../common/errors.ts';
import { studioPaths } from '../common/paths.ts';
import type { ModelManifest } from '../checkpoints/model-store.ts';
import { storedModelFiles } from '../checkpoints/model-store.ts';
import type { RecipeSnapshot } from '../images/generation-settings.ts';
import { buildClipTextGraph } from '../models/clip-text.ts';
import { buildUnetGraph } from '../models/unet.ts';
import { IndexedWeights } from '../onnx/indexed-weights.ts';
import { parseClipTextConfig } from '../models/clip-text-config.ts';
import { parseUnetConfig, type UnetConfig } from '../models/unet-config.ts';
import { unetLayout } from '../models/unet-layout.ts';
import type { Graph, StoredFloat } from '../onnx/graph.ts';
import { saveModel } from '../onnx/serialize.ts';
import type { ResolveContext, ResolvedTarget } from '../pipeline/generation-target.ts';
import { CachedModel } from '../pipeline/model-runtime.ts';
import { ModelDenoiser, VaeLatentDecoder, type ModelConditioning } from '../pipeline/model-denoiser.ts';
import type { Denoiser, StepContext, Conditioning } from '../pipeline/denoiser.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { offerStoredFloat16, requireStoredModel, resolveStoredModel, tokenizerForModel } from '../pipeline/stored-model-target.ts';
import { SafetensorsFile } from '../tensor/safetensors.ts';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { checkAggregatorsMatch, loadAggregatorSet, STUDIO_AGGREGATOR_MANIFEST, type AggregatorSet } from './aggregator-set.ts';
import { ContributionRecorder, recordedSteps } from './contribution-recorder.ts';
import { cachedGraphRunner, EnsembleDenoiser, type WeightMaps } from './ensemble-denoiser.ts';
import { pointName } from './lock-step-graph.ts';
import { buildLockStepGraph, buildOutputAverageGraph, type Expert } from './lock-step-graph.ts';
import { magicFusionPhase, magicFusionStep, type MagicFusionSettings } from './magic-fusion.ts';
import { mergeComponentWeights, mergeMethodOf } from './merge-method.ts';
import { buildMergedUnetGraph } from './merged-unet.ts';
import { memberWeights, validateRecipe, type Recipe } from './recipe.ts';

/** Bump when the graphs a recipe compiles to change, so stale compiled folders are not reused. */
export const COMPILED_GRAPH_VERSION = 4;

export function aggregatorDir(home: string, aggregatorId: string): string {
  if (!/^[\w.-]+$/.test(aggregatorId)) throw new UserError('invalid-argument', `'${aggregatorId}' is not a valid aggregator id.`);
  return join(studioPaths(home).aggregators, aggregatorId);
}

function tokenizerFor(home: string, manifest: ModelManifest): ClipTokenizer {
  return tokenizerForModel(manifest, storedModelFiles(home, manifest).tokenizer);
}

function openExpert(home: string, manifest: ModelManifest): Expert {
  const files = storedModelFiles(home, manifest);
  return {
    weights: SafetensorsFile.open(files.unetWeights),
    config: parseUnetConfig(manifest.configs.unet, `U-Net config of '${manifest.name}'`),
  };
}

/** What determines a recipe's compiled graph. */
function compileKey(recipe: Recipe, manifests: readonly ModelManifest[]): string {
  const identity = {
    version: COMPILED_GRAPH_VERSION,
    method: recipe.method,
    members: manifests.map((m) => m.sha256),
    weights: recipe.method === 'output-average' || recipe.method === 'merge' || (recipe.method === 'feature-average' && recipe.weights) ? memberWeights(recipe) : undefined,
    mbw: recipe.method === 'mbw' ? recipe.mbw : undefined,
    aggregatorId: recipe.method === 'afa' ? recipe.aggregatorId : undefined,
  };
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 24);
}

/** Imported aggregator sets trained for exactly these models, in this order (their manifests record them): ids. */
export function aggregatorSetsFor(home: string, modelIds: readonly string[]): string[] {
  const root = studioPaths(home).aggregators;
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((id) => /^agg-[0-9a-f]+$/.test(id))
    .filter((id) => {
      try {
        const manifest = JSON.parse(readFileSync(join(root, id, STUDIO_AGGREGATOR_MANIFEST), 'utf8')) as { experts?: { sha256?: string }[] };
        return manifest.experts?.length === modelIds.length && manifest.experts.every((expert, index) => expert.sha256 === modelIds[index]);
      } catch {
        return false;
      }
    });
}

function loadCheckedAggregators(home: string, recipe: Recipe, manifests: readonly ModelManifest[], config: UnetConfig): AggregatorSet {
  if (!recipe.aggregatorId) {
    const fits = aggregatorSetsFor(home, manifests.map((m) => m.sha256));
    throw new UserError(
      'invalid-argument',
      `The AFA recipe '${recipe.name}' names no trained aggregators.`,
      fits.length > 0
        ? `The aggregator set ${fits[0]} was trained for exactly these models: pick it (--aggregator ${fits[0]}).`
        : 'Pick an aggregator set trained for these models (import one first), or use the feature-average method (what untrained aggregators do).',
    );
  }
  const dir = aggregatorDir(home, recipe.aggregatorId);
  if (!existsSync(dir)) throw new UserError('not-found', `Aggregator set '${recipe.aggregatorId}' is not in the studio (${dir}).`, 'Import it again.');
  const set = loadAggregatorSet(dir);
  checkAggregatorsMatch(set, {
    pointChannels: unetLayout(config).map((point) => point.outChannels),
    crossAttentionDim: config.cross_attention_dim,
    timeEmbeddingChannels: 4 * config.block_out_channels[0]!,
    experts: manifests.map((m) => ({ sha256: m.sha256, name: m.name })),
  });
  return set;
}

/**
 * Refuses, when it is saved, a recipe that could never run: an AFA recipe needs an imported aggregator
 * set trained for exactly its members, in order (the message names a set that fits, when there is one).
 */
export function checkRecipeCanRun(home: string, recipe: Recipe): void {
  if (recipe.method !== 'afa') return;
  const manifests = recipe.members.map((member) => requireStoredModel(home, member.modelId));
  loadCheckedAggregators(home, recipe, manifests, parseUnetConfig(manifests[0]!.configs.unet, `U-Net config of '${manifests[0]!.name}'`));
}

function buildRecipeGraph(home: string, recipe: Recipe, manifests: readonly ModelManifest[], computeDtype: StoredFloat): Graph {
  const experts = manifests.map((manifest) => openExpert(home, manifest));
  const graph = { computeDtype };
  switch (recipe.method) {
    case 'afa':
      // Weight maps are graph outputs (fetching them is opt-in per run): the studio's contribution maps.
      return buildLockStepGraph(experts, { kind: 'aggregators', aggregators: loadCheckedAggregators(home, recipe, manifests, experts[0]!.config) }, { exposeWeights: true, graph });
    case 'feature-average':
      return buildLockStepGraph(experts, recipe.weights ? { kind: 'mean', weights: memberWeights(recipe) } : { kind: 'mean' }, { graph });
    case 'output-average':
      return buildOutputAverageGraph(experts, memberWeights(recipe), 'output_average', graph);
    default:
      throw new UserError('unsupported', `The ${recipe.method} method cannot run as a lock-step ensemble graph.`);
  }
}

/** Aggregation points that work at the latent's full resolution (their maps are the contribution maps). */
function fullResolutionPoints(config: ReturnType<typeof parseUnetConfig>): number[] {
  return unetLayout(config).filter((point) => point.outScale === 1).map((point) => point.index);
}

/**
 * The compiled graph of a recipe: reused when present, otherwise built and saved atomically. Its
 * float16-compute form (GPU providers) is `ensemble.float16.onnx` beside it, referencing the same
 * weights, written the first time a job wants it (ModelRuntime.offerFloat16).
 */
export function compiledRecipeGraph(home: string, recipe: Recipe, manifests: readonly ModelManifest[], signal?: AbortSignal, computeDtype: StoredFloat = 'float32'): string {
  const dir = join(studioPaths(home).compiled, compileKey(recipe, manifests));
  const modelFile = computeDtype === 'float32' ? 'ensemble.onnx' : 'ensemble.float16.onnx';
  const modelPath = join(dir, modelFile);
  if (existsSync(modelPath)) return modelPath;
  // Each form its own weights file name: one never rewrites a file the other references.
  const weightsFile = computeDtype === 'float32' ? 'ensemble.weights' : 'ensemble.float16.weights';
  return saveModel(buildRecipeGraph(home, recipe, manifests, computeDtype), { dir, modelFile, weightsFile, signal }).modelPath;
}


/**
 * A merge / MBW recipe compiles to an ordinary model: the merged U-Net and the merged text encoder (MBW
 * merges it with the base α, as sd-webui's MBW does), written once into the compiled cache. The VAE is
 * the first member's (merging VAEs rarely helps and the export offers it for those who want it).
 */
export function compiledMergedModel(home: string, recipe: Recipe, manifests: readonly ModelManifest[], signal?: AbortSignal): { unet: string; textEncoder: string } {
  const dir = join(studioPaths(home).compiled, compileKey(recipe, manifests));
  const unetPath = join(dir, 'unet.onnx');
  const textEncoderPath = join(dir, 'text_encoder.onnx');
  if (existsSync(unetPath) && existsSync(textEncoderPath)) return { unet: unetPath, textEncoder: textEncoderPath };
  const method = mergeMethodOf(recipe);
  const labels = manifests.map((m) => m.name);
  const experts = manifests.map((manifest) => openExpert(home, manifest));
  saveModel(buildMergedUnetGraph(experts, method, { labels }), { dir, modelFile: 'unet.onnx', weightsFile: 'unet.weights', signal });
  const textWeights = manifests.map((manifest) => SafetensorsFile.open(storedModelFiles(home, manifest).textEncoderWeights));
  const textConfig = parseClipTextConfig(manifests[0]!.configs.textEncoder, `text encoder config of '${manifests[0]!.name}'`);
  const merged = mergeComponentWeights('textEncoder', textWeights, method, { labels });
  saveModel(buildClipTextGraph(merged, textConfig), { dir, modelFile: 'text_encoder.onnx', weightsFile: 'text_encoder.weights', signal });
  return { unet: unetPath, textEncoder: textEncoderPath };
}

/**
 * The float16 form of a merged model's U-Net or text encoder, `<name>.float16.onnx` beside it: the same
 * builder over the merged weights the float32 graph references (IndexedWeights), read in place.
 */
export function mergedFloat16Form(graphPath: string, component: 'unet' | 'text-encoder', manifests: readonly ModelManifest[]): string {
  const target = graphPath.replace(/\.onnx$/, '.float16.onnx');
  if (existsSync(target)) return target;
  const weights = new IndexedWeights(graphPath);
  const label = `of '${manifests[0]!.name}'`;
  const graph =
    component === 'unet'
      ? buildUnetGraph(weights, parseUnetConfig(manifests[0]!.configs.unet, `U-Net config ${label}`), 'merged_unet', { computeDtype: 'float16' })
      : buildClipTextGraph(weights, parseClipTextConfig(manifests[0]!.configs.textEncoder, `text encoder config ${label}`), 'text_encoder', { computeDtype: 'float16' });
  return saveModel(graph, { dir: dirname(graphPath), modelFile: basename(target) }).modelPath;
}

/**
 * MagicFusion (saliency-aware noise blending of two models): each model denoises with its own text
 * encoder; magic-fusion.ts decides per step which predictions are needed and blends the guided ε.
 */
export interface MagicFusionConditioning extends Conditioning {
  readonly a: ModelConditioning;
  readonly b: ModelConditioning;
}

export class MagicFusionDenoiser implements Denoiser<MagicFusionConditioning> {
  readonly appliesGuidance = true;
  /** The two models and the settings are readable: the reproduction batches many prompts through them. */
  constructor(
    readonly a: ModelDenoiser,
    readonly b: ModelDenoiser,
    readonly settings: MagicFusionSettings,
  ) {}

  async encodePrompts(positive: string, negative: string, guided: boolean): Promise<MagicFusionConditioning> {
    if (!guided) {
      throw new UserError('invalid-argument', 'MagicFusion blends guided predictions: use a guidance scale above 1.');
    }
    return { guided, a: await this.a.encodePrompts(positive, negative, guided), b: await this.b.encodePrompts(positive, negative, guided) };
  }

  async predictNoise(latents: Tensor<'float32'>, timestep: number, conditioning: MagicFusionConditioning, step: StepContext): Promise<Tensor<'float32'>> {
    const phase = magicFusionPhase(step.index, step.total, this.settings);
    const predictionA = phase === 'b' ? undefined : await this.a.predictNoise(latents, timestep, conditioning.a);
    const predictionB = phase === 'a' ? undefined : await this.b.predictNoise(latents, timestep, conditioning.b);
    return magicFusionStep(predictionA, predictionB, step.guidance, step, this.settings).noise;
  }
}

export function recipeSnapshot(recipe: Recipe, manifests: readonly ModelManifest[], recipeId?: string): RecipeSnapshot {
  return {
    recipeId: recipeId ?? null,
    name: recipe.name,
    method: recipe.method,
    members: manifests.map((m) => ({ modelId: m.id, shortHash: m.shortHash, name: m.name })),
    aggregatorId: recipe.aggregatorId ?? null,
    document: JSON.parse(JSON.stringify(recipe)),
  };
}

/** A custom resolver per method that is not a lock-step graph (merge, MBW, MagicFusion) plugs in here. */
export type MethodResolver = (recipe: Recipe, manifests: readonly ModelManifest[], context: ResolveContext) => Promise<Omit<ResolvedTarget, 'snapshot'>>;

const methodResolvers = new Map<string, MethodResolver>();

export function registerMethodResolver(method: Recipe['method'], resolver: MethodResolver): void {
  methodResolvers.set(method, resolver);
}

/** The stored models a recipe target runs (GenerationEngine's memory check); throws UserError for an invalid recipe. */
export function recipeModelIds(target: { readonly recipe: unknown }): string[] {
  return validateRecipe(target.recipe).members.map((member) => member.modelId);
}

/**
 * The denoiser of a lock-step recipe (AFA, feature average, output average): its compiled graph, with
 * each member's own tokenizer and text encoder. `weightMaps` names the AFA graph's weight outputs
 * (`weights_NN`, any of the points) to fetch each step.
 */
export function lockStepDenoiser(
  recipe: Recipe,
  manifests: readonly ModelManifest[],
  context: Pick<ResolveContext, 'home' | 'runtime' | 'signal'>,
  weightMaps?: ConstructorParameters<typeof EnsembleDenoiser>[2],
): EnsembleDenoiser {
  const graph = compiledRecipeGraph(context.home, recipe, manifests, context.signal);
  // Its float16 form; the members' text encoders have theirs from offerStoredFloat16 (resolveRecipe).
  context.runtime.offerFloat16(graph, () => compiledRecipeGraph(context.home, recipe, manifests, undefined, 'float16'));
  const encoders = manifests.map((manifest) => ({
    tokenizer: tokenizerFor(context.home, manifest),
    model: new CachedModel(storedModelFiles(context.home, manifest).textEncoder, context.runtime),
  }));
  return new EnsembleDenoiser(encoders, cachedGraphRunner(graph, context.runtime), weightMaps);
}

export async function resolveRecipe(target: { readonly recipe: unknown; readonly recipeId?: string }, context: ResolveContext): Promise<ResolvedTarget> {
  const recipe = validateRecipe(target.recipe);
  const manifests = recipe.members.map((member) => requireStoredModel(context.home, member.modelId));
  const snapshot = recipeSnapshot(recipe, manifests, target.recipeId);
  if (recipe.method === 'single') return { ...(await resolveStoredModel(manifests[0]!.id, context)), snapshot };
  const vaeDecoder = storedModelFiles(context.home, manifests[0]!).vaeDecoder;
  const decoder = new VaeLatentDecoder(vaeDecoder, context.runtime);
  // Every member's stored graphs have float16 forms (a merge's merged graphs have their own, below).
  for (const manifest of manifests) offerStoredFloat16(context, manifest);
  if (recipe.method === 'merge' || recipe.method === 'mbw') {
    const graphs = compiledMergedModel(context.home, recipe, manifests, context.signal);
    context.runtime.offerFloat16(graphs.unet, () => mergedFloat16Form(graphs.unet, 'unet', manifests));
    context.runtime.offerFloat16(graphs.textEncoder, () => mergedFloat16Form(graphs.textEncoder, 'text-encoder', manifests));
    return { denoiser: new ModelDenoiser(tokenizerFor(context.home, manifests[0]!), graphs, context.runtime), decoder, models: [graphs.textEncoder, graphs.unet, vaeDecoder], snapshot };
  }
  if (recipe.method === 'magicfusion') {
    const members = manifests.map((manifest) => storedModelFiles(context.home, manifest));
    const [a, b] = manifests.map((manifest, index) => new ModelDenoiser(tokenizerFor(context.home, manifest), { textEncoder: members[index]!.textEncoder, unet: members[index]!.unet }, context.runtime));
    return {
      denoiser: new MagicFusionDenoiser(a!, b!, recipe.magicFusion ?? {}),
      decoder,
      models: [...members.flatMap((files) => [files.textEncoder, files.unet]), vaeDecoder],
      snapshot,
    };
  }
  const custom = methodResolvers.get(recipe.method);
  if (custom) return { ...(await custom(recipe, manifests, context)), snapshot };
  // What the job loads (its 'load' phase): the members' text encoders, the lock-step graph, the VAE.
  const graph = compiledRecipeGraph(context.home, recipe, manifests, context.signal);
  const textEncoders = manifests.map((manifest) => storedModelFiles(context.home, manifest).textEncoder);
  const recorder = recipe.method === 'afa' ? new ContributionRecorder(manifests.map((m) => ({ modelId: m.id, name: m.name }))) : undefined;
  // The maps of the recorded steps only (at most MAX_RECORDED_STEPS per image): on a GPU the others stay there.
  let lastRecorded = Infinity;
  const weightMaps: WeightMaps | undefined = recorder && {
    outputs: fullResolutionPoints(parseUnetConfig(manifests[0]!.configs.unet)).map((index) => `weights_${pointName(index)}`),
    wants: (step: StepContext) => recordedSteps(step.total).has(step.index),
    listener: (step: StepContext, maps: Readonly<Record<string, Tensor<'float32'>>>) => {
      // A step at or before the last one recorded: the next image of the batch.
      if (step.index <= lastRecorded) recorder.reset();
      lastRecorded = step.index;
      recorder.record(step.index, step.total, Object.values(maps));
    },
  };
  return {
    denoiser: lockStepDenoiser(recipe, manifests, context, weightMaps),
    ...(recorder ? { imageExtras: () => recorder.extras() } : {}),
    // The experts share the first member's VAE, as the official AFA pipeline does.
    decoder,
    models: [...textEncoders, graph, vaeDecoder],
    snapshot,
  };
}
