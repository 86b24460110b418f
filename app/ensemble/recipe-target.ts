// The 'recipe' generation target (app/pipeline/generation-target.ts): turns an ensemble recipe into the
// loop's Denoiser. The recipe's graph is compiled once into studioPaths(home).compiled/<key>/ — keyed by
// what determines it (method, members' SHA-256, weights, aggregators) — and referenced the experts'
// weights files in place (hard links), so running a recipe writes no merged checkpoint and copies no weights.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.ts';
import { studioPaths } from '../common/paths.ts';
import type { ModelManifest } from '../checkpoints/model-store.ts';
import { storedModelFiles } from '../checkpoints/model-store.ts';
import type { RecipeSnapshot } from '../images/generation-settings.ts';
import { parseUnetConfig } from '../models/unet-config.ts';
import { unetLayout } from '../models/unet-layout.ts';
import type { Graph } from '../onnx/graph.ts';
import { saveModel } from '../onnx/serialize.ts';
import type { ResolveContext, ResolvedTarget } from '../pipeline/generation-target.ts';
import { CachedModel } from '../pipeline/model-runtime.ts';
import { VaeLatentDecoder } from '../pipeline/model-denoiser.ts';
import { requireStoredModel, resolveStoredModel } from '../pipeline/stored-model-target.ts';
import { SafetensorsFile } from '../tensor/safetensors.ts';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { checkAggregatorsMatch, loadAggregatorSet, type AggregatorSet } from './aggregator-set.ts';
import { cachedGraphRunner, EnsembleDenoiser } from './ensemble-denoiser.ts';
import { buildLockStepGraph, buildOutputAverageGraph, type Expert } from './lock-step-graph.ts';
import { memberWeights, validateRecipe, type Recipe } from './recipe.ts';

/** Bump when the graphs a recipe compiles to change, so stale compiled folders are not reused. */
export const COMPILED_GRAPH_VERSION = 1;

export function aggregatorDir(home: string, aggregatorId: string): string {
  if (!/^[\w.-]+$/.test(aggregatorId)) throw new UserError('invalid-argument', `'${aggregatorId}' is not a valid aggregator id.`);
  return join(studioPaths(home).aggregators, aggregatorId);
}

function tokenizerFor(home: string, manifest: ModelManifest): ClipTokenizer {
  const folder = storedModelFiles(home, manifest).tokenizer;
  return folder === undefined ? ClipTokenizer.default() : ClipTokenizer.fromDiffusersFolder(folder);
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
    weights: recipe.method === 'output-average' ? memberWeights(recipe) : undefined,
    aggregatorId: recipe.method === 'afa' ? recipe.aggregatorId : undefined,
  };
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 24);
}

function loadCheckedAggregators(home: string, recipe: Recipe, manifests: readonly ModelManifest[], experts: readonly Expert[]): AggregatorSet {
  if (!recipe.aggregatorId) {
    throw new UserError(
      'invalid-argument',
      `The AFA recipe '${recipe.name}' names no trained aggregators.`,
      'Pick an aggregator set for these models, or use the feature-average method (what untrained aggregators do).',
    );
  }
  const dir = aggregatorDir(home, recipe.aggregatorId);
  if (!existsSync(dir)) throw new UserError('not-found', `Aggregator set '${recipe.aggregatorId}' is not in the studio (${dir}).`, 'Import it again.');
  const set = loadAggregatorSet(dir);
  const config = experts[0]!.config;
  checkAggregatorsMatch(set, {
    pointChannels: unetLayout(config).map((point) => point.outChannels),
    crossAttentionDim: config.cross_attention_dim,
    timeEmbeddingChannels: 4 * config.block_out_channels[0]!,
    experts: manifests.map((m) => ({ sha256: m.sha256, name: m.name })),
  });
  return set;
}

function buildRecipeGraph(home: string, recipe: Recipe, manifests: readonly ModelManifest[]): Graph {
  const experts = manifests.map((manifest) => openExpert(home, manifest));
  switch (recipe.method) {
    case 'afa':
      return buildLockStepGraph(experts, { kind: 'aggregators', aggregators: loadCheckedAggregators(home, recipe, manifests, experts) });
    case 'feature-average':
      return buildLockStepGraph(experts, { kind: 'mean' });
    case 'output-average':
      return buildOutputAverageGraph(experts, memberWeights(recipe));
    default:
      throw new UserError('unsupported', `The ${recipe.method} method cannot run as a lock-step ensemble graph.`);
  }
}

/** The compiled graph of a recipe: reused when present, otherwise built and saved atomically. */
export function compiledRecipeGraph(home: string, recipe: Recipe, manifests: readonly ModelManifest[], signal?: AbortSignal): string {
  const dir = join(studioPaths(home).compiled, compileKey(recipe, manifests));
  const modelFile = 'ensemble.onnx';
  const modelPath = join(dir, modelFile);
  if (existsSync(modelPath)) return modelPath;
  return saveModel(buildRecipeGraph(home, recipe, manifests), { dir, modelFile, weightsFile: 'ensemble.weights', signal }).modelPath;
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

export async function resolveRecipe(target: { readonly recipe: unknown; readonly recipeId?: string }, context: ResolveContext): Promise<ResolvedTarget> {
  const recipe = validateRecipe(target.recipe);
  const manifests = recipe.members.map((member) => requireStoredModel(context.home, member.modelId));
  const snapshot = recipeSnapshot(recipe, manifests, target.recipeId);
  if (recipe.method === 'single') return { ...(await resolveStoredModel(manifests[0]!.id, context)), snapshot };
  const custom = methodResolvers.get(recipe.method);
  if (custom) return { ...(await custom(recipe, manifests, context)), snapshot };
  const graph = compiledRecipeGraph(context.home, recipe, manifests, context.signal);
  const encoders = manifests.map((manifest) => ({
    tokenizer: tokenizerFor(context.home, manifest),
    model: new CachedModel(storedModelFiles(context.home, manifest).textEncoder, context.runtime),
  }));
  return {
    denoiser: new EnsembleDenoiser(encoders, cachedGraphRunner(graph, context.runtime)),
    // The experts share the first member's VAE, as the official AFA pipeline does.
    decoder: new VaeLatentDecoder(storedModelFiles(context.home, manifests[0]!).vaeDecoder, context.runtime),
    snapshot,
  };
}
