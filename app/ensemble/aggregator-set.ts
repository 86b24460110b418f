// The 25 trained aggregators of an AFA ensemble, loaded from either
// - the official layout written by the AFA training code (`Model.save_pretrained`): `model_config.json`
//   ({num_models, num_aggregators}) and `aggregator_{i}/{aggregator.safetensors, config.json}`, with the
//   official state-dict names (`conv_in.weight`, `res_block.norm1.weight`, `transformer.…`, `conv_out.weight`),
//   so an aggregator trained with the official code runs here unchanged; or
// - the studio's own format: one `aggregators.safetensors` with `aggregators.{i}.<official name>` tensors
//   (the names the official training step uses) + `aggregators.json`, a manifest recording the point
//   configs and which experts (by checkpoint SHA-256) the set was trained for.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.ts';
import { SafetensorsFile } from '../tensor/safetensors.ts';
import type { LazyTensor, WeightSource } from '../tensor/weights.ts';
import { parseOfficialAggregatorConfig, validateAggregatorConfig, type AggregatorConfig } from './aggregator-config.ts';

export const STUDIO_AGGREGATOR_MANIFEST = 'aggregators.json';
export const STUDIO_AGGREGATOR_WEIGHTS = 'aggregators.safetensors';

export interface ExpertIdentity {
  readonly sha256: string;
  readonly name?: string;
}

export interface StudioAggregatorManifest {
  readonly format: 'afa-studio-aggregators';
  readonly version: 1;
  readonly configs: readonly AggregatorConfig[];
  /** The experts in the order the aggregators' channels expect them. */
  readonly experts: readonly ExpertIdentity[];
  readonly createdAt?: number;
  readonly notes?: string;
}

export interface AggregatorSet {
  readonly source: string;
  readonly configs: readonly AggregatorConfig[];
  /** Weights of aggregator i under its official state-dict names. */
  readonly weights: readonly WeightSource[];
  /** Known for the studio format; the official layout does not record its experts. */
  readonly experts?: readonly ExpertIdentity[];
}

/** A view of `aggregators.{i}.<name>` tensors of one file as aggregator i's `<name>` tensors. */
export class PrefixedWeights implements WeightSource {
  readonly description: string;
  constructor(
    private readonly inner: WeightSource,
    private readonly prefix: string,
  ) {
    this.description = `${inner.description} (${prefix}*)`;
  }
  names(): readonly string[] {
    return this.inner.names().filter((name) => name.startsWith(this.prefix)).map((name) => name.slice(this.prefix.length));
  }
  has(name: string): boolean {
    return this.inner.has(this.prefix + name);
  }
  get(name: string): LazyTensor {
    return this.inner.get(this.prefix + name);
  }
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UserError('corrupt-file', `${path} is not valid JSON (${(error as Error).message}).`);
  }
}

export function isOfficialAggregatorLayout(dir: string): boolean {
  return existsSync(join(dir, 'model_config.json')) && existsSync(join(dir, 'aggregator_0', 'aggregator.safetensors'));
}

export function isStudioAggregatorLayout(dir: string): boolean {
  return existsSync(join(dir, STUDIO_AGGREGATOR_MANIFEST)) && existsSync(join(dir, STUDIO_AGGREGATOR_WEIGHTS));
}

export function loadOfficialAggregators(dir: string): AggregatorSet {
  const modelConfig = readJson(join(dir, 'model_config.json')) as { num_models?: unknown; num_aggregators?: unknown };
  const count = modelConfig.num_aggregators;
  if (typeof count !== 'number' || !Number.isInteger(count) || count <= 0) {
    throw new UserError('corrupt-file', `${join(dir, 'model_config.json')} has no valid 'num_aggregators'.`);
  }
  const configs: AggregatorConfig[] = [];
  const weights: WeightSource[] = [];
  for (let index = 0; index < count; index++) {
    const folder = join(dir, `aggregator_${index}`);
    const configPath = join(folder, 'config.json');
    const weightsPath = join(folder, 'aggregator.safetensors');
    if (!existsSync(configPath) || !existsSync(weightsPath)) {
      throw new UserError('corrupt-file', `The aggregator folder ${dir} is incomplete: ${folder} needs config.json and aggregator.safetensors.`);
    }
    configs.push(parseOfficialAggregatorConfig(readJson(configPath), configPath));
    weights.push(SafetensorsFile.open(weightsPath));
  }
  if (typeof modelConfig.num_models === 'number' && configs.some((config) => config.numExperts !== modelConfig.num_models)) {
    throw new UserError('corrupt-file', `${dir}: model_config.json says ${modelConfig.num_models} models but an aggregator config disagrees.`);
  }
  return { source: dir, configs, weights };
}

export function loadStudioAggregators(dir: string): AggregatorSet {
  const manifestPath = join(dir, STUDIO_AGGREGATOR_MANIFEST);
  const manifest = readJson(manifestPath) as Partial<StudioAggregatorManifest>;
  if (manifest.format !== 'afa-studio-aggregators') {
    throw new UserError('corrupt-file', `${manifestPath} is not an AFA Studio aggregator manifest.`);
  }
  if (manifest.version !== 1) {
    throw new UserError('unsupported', `${manifestPath} has format version ${String(manifest.version)}; this studio reads version 1.`, 'Update AFA Studio.');
  }
  if (!Array.isArray(manifest.configs) || !Array.isArray(manifest.experts)) {
    throw new UserError('corrupt-file', `${manifestPath} lacks 'configs' or 'experts'.`);
  }
  const file = SafetensorsFile.open(join(dir, STUDIO_AGGREGATOR_WEIGHTS));
  const configs = manifest.configs.map((config, index) => validateAggregatorConfig(config, `${manifestPath} (aggregator ${index})`));
  return {
    source: dir,
    configs,
    weights: configs.map((_, index) => new PrefixedWeights(file, `aggregators.${index}.`)),
    experts: manifest.experts,
  };
}

/** Loads either layout, telling the person what a folder must contain when it is neither. */
export function loadAggregatorSet(dir: string): AggregatorSet {
  if (isStudioAggregatorLayout(dir)) return loadStudioAggregators(dir);
  if (isOfficialAggregatorLayout(dir)) return loadOfficialAggregators(dir);
  throw new UserError(
    'not-found',
    `${dir} holds no aggregators.`,
    `Expected AFA Studio's ${STUDIO_AGGREGATOR_MANIFEST} + ${STUDIO_AGGREGATOR_WEIGHTS}, or the official layout (model_config.json and aggregator_0 … aggregator_24 folders).`,
  );
}

export interface ExpectedAggregators {
  /** Channels of each aggregation point of the experts' U-Net (25 for SD1.x). */
  readonly pointChannels: readonly number[];
  readonly crossAttentionDim: number;
  readonly timeEmbeddingChannels: number;
  /** The recipe's experts, in order. */
  readonly experts: readonly ExpertIdentity[];
}

/** Refuses an aggregator set that was not made for these experts, saying exactly what differs. */
export function checkAggregatorsMatch(set: AggregatorSet, expected: ExpectedAggregators): void {
  const mismatch = (message: string, hint?: string) => new UserError('mismatch', `The aggregators in ${set.source} do not fit this recipe: ${message}`, hint);
  if (set.configs.length !== expected.pointChannels.length) {
    throw mismatch(`there are ${set.configs.length} aggregators, but the experts' U-Net has ${expected.pointChannels.length} aggregation points.`);
  }
  set.configs.forEach((config, index) => {
    if (config.numExperts !== expected.experts.length) {
      throw mismatch(
        `they were trained for ${config.numExperts} experts and the recipe has ${expected.experts.length}.`,
        'Pick a recipe with the same number of models, or train aggregators for this one.',
      );
    }
    if (config.inChannels !== expected.pointChannels[index]) {
      throw mismatch(`aggregator ${index} fuses ${config.inChannels}-channel features, but the experts have ${expected.pointChannels[index]} channels there (a different architecture).`);
    }
    if (config.crossAttentionDim !== expected.crossAttentionDim) {
      throw mismatch(`aggregator ${index} attends to ${config.crossAttentionDim}-wide prompt embeddings, the experts produce ${expected.crossAttentionDim}.`);
    }
    if (config.timeEmbeddingChannels !== expected.timeEmbeddingChannels) {
      throw mismatch(`aggregator ${index} takes a ${config.timeEmbeddingChannels}-wide timestep embedding, the experts produce ${expected.timeEmbeddingChannels}.`);
    }
  });
  if (set.experts) {
    const differs = set.experts.length !== expected.experts.length || set.experts.some((expert, index) => expert.sha256 !== expected.experts[index]!.sha256);
    if (differs) {
      const names = (list: readonly ExpertIdentity[]) => list.map((e) => e.name ?? e.sha256.slice(0, 10)).join(', ');
      throw mismatch(
        `they were trained for the experts ${names(set.experts)} (in that order), not ${names(expected.experts)}.`,
        'Use the same checkpoints in the same order, or train aggregators for this recipe.',
      );
    }
  }
}
