// Brings a trained aggregator set into the studio: from the official AFA layout (what the official
// training code saves) or the studio's own format, checked against the experts it will run with, and
// written in the studio's format under studioPaths(home).aggregators/<id>/ — one safetensors file with
// `aggregators.{i}.<official name>` tensors + a manifest that records the experts by checkpoint SHA-256,
// so a later recipe with other checkpoints is refused with a clear message instead of running garbage.
// Written into a temporary folder and renamed into place: a cancelled or failed import leaves nothing.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { throwIfCancelled } from '../common/errors.ts';
import { studioPaths } from '../common/paths.ts';
import type { JobControl } from '../common/progress.ts';
import { processAlive, type ModelManifest } from '../checkpoints/model-store.ts';
import { parseUnetConfig } from '../models/unet-config.ts';
import { unetLayout } from '../models/unet-layout.ts';
import { SafetensorsWriter } from '../tensor/safetensors.ts';
import { BYTES_PER_ELEMENT, sizeOf } from '../tensor/tensor.ts';
import {
  checkAggregatorsMatch,
  loadAggregatorSet,
  STUDIO_AGGREGATOR_MANIFEST,
  type AggregatorSet,
  STUDIO_AGGREGATOR_WEIGHTS,
  type StudioAggregatorManifest,
} from './aggregator-set.ts';

export interface ImportedAggregators {
  readonly id: string;
  readonly dir: string;
  readonly manifest: StudioAggregatorManifest;
  /** False when the same set for the same experts was already imported. */
  readonly created: boolean;
}

/**
 * Imports the aggregator set at `source` for `experts` (the recipe's members, in the order the
 * aggregators' channels expect them). The id is derived from the experts and the weights' names and
 * sizes plus the source path, so importing the same folder twice is idempotent.
 */
export function importAggregators(
  source: string,
  experts: readonly ModelManifest[],
  options: { readonly home: string; readonly notes?: string },
  control: JobControl = {},
): ImportedAggregators {
  return importAggregatorSet(loadAggregatorSet(source), experts, options, control);
}

/**
 * importAggregators for a set already opened (e.g. the demo pack's, whose files are neither layout); its
 * `source` takes part in the id as the folder's path does.
 */
export function importAggregatorSet(
  set: AggregatorSet,
  experts: readonly ModelManifest[],
  options: { readonly home: string; readonly notes?: string },
  control: JobControl = {},
): ImportedAggregators {
  const source = set.source;
  const config = parseUnetConfig(experts[0]!.configs.unet, `U-Net config of '${experts[0]!.name}'`);
  const identities = experts.map((expert) => ({ sha256: expert.sha256, name: expert.name }));
  checkAggregatorsMatch(set, {
    pointChannels: unetLayout(config).map((point) => point.outChannels),
    crossAttentionDim: config.cross_attention_dim,
    timeEmbeddingChannels: 4 * config.block_out_channels[0]!,
    experts: identities,
  });
  const entries = set.weights.flatMap((weights, index) =>
    weights.names().map((name) => {
      const tensor = weights.get(name);
      return { name: `aggregators.${index}.${name}`, source: tensor, dtype: tensor.dtype, shape: [...tensor.shape] };
    }),
  );
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ experts: identities.map((e) => e.sha256), source, tensors: entries.map((e) => [e.name, e.dtype, e.shape]) }))
    .digest('hex');
  const id = `agg-${fingerprint.slice(0, 16)}`;
  const root = studioPaths(options.home).aggregators;
  const dir = join(root, id);
  const manifest: StudioAggregatorManifest = {
    format: 'afa-studio-aggregators',
    version: 1,
    configs: set.configs,
    experts: identities,
    createdAt: Date.now(),
    ...(options.notes ? { notes: options.notes } : {}),
  };
  if (existsSync(join(dir, STUDIO_AGGREGATOR_MANIFEST))) return { id, dir, manifest: loadAggregatorManifest(dir), created: false };

  mkdirSync(root, { recursive: true });
  removeStaleAggregatorImports(root);
  const temp = join(root, `.tmp-${id}-${process.pid}`);
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp);
  try {
    const total = entries.reduce((sum, entry) => sum + sizeOf(entry.shape) * BYTES_PER_ELEMENT[entry.dtype], 0);
    const writer = new SafetensorsWriter(
      join(temp, STUDIO_AGGREGATOR_WEIGHTS),
      entries.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
      { control, phase: 'aggregators' },
    );
    try {
      for (const entry of entries) {
        throwIfCancelled(control.signal);
        writer.write(entry.name, entry.source.read());
      }
      writer.commit();
    } catch (error) {
      writer.abort();
      throw error;
    }
    writeFileSync(join(temp, STUDIO_AGGREGATOR_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    control.onProgress?.({ phase: 'aggregators', done: total, total, unit: 'bytes', message: 'Aggregators imported' });
    try {
      renameSync(temp, dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Another process imported the same set meanwhile (two starts setting up the demo): use its copy.
      if ((code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM') && existsSync(join(dir, STUDIO_AGGREGATOR_MANIFEST))) {
        rmSync(temp, { recursive: true, force: true });
        return { id, dir, manifest: loadAggregatorManifest(dir), created: false };
      }
      throw error;
    }
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
  return { id, dir, manifest, created: true };
}

/** The library's aggregators table, as far as recording an import needs it. */
export interface AggregatorCatalog {
  get(id: string): unknown;
  insert(row: { id: string; name: string; path: string; expertHashes: readonly string[]; config: { readonly [key: string]: number } }): unknown;
}

/**
 * importAggregators + its library row: the one way the CLI and the Models screen bring a set in. The
 * row names the experts by SHA-256 (= model id), in the order the set fuses them.
 */
export function importAggregatorsToCatalog(
  catalog: AggregatorCatalog,
  source: string | AggregatorSet,
  experts: readonly ModelManifest[],
  options: { readonly home: string; readonly name?: string; readonly notes?: string },
  control: JobControl = {},
): ImportedAggregators {
  const set = typeof source === 'string' ? loadAggregatorSet(source) : source;
  const imported = importAggregatorSet(set, experts, { home: options.home, ...(options.notes ? { notes: options.notes } : {}) }, control);
  if (!catalog.get(imported.id)) {
    catalog.insert({
      id: imported.id,
      name: options.name ?? set.source.split(/[\\/]/).filter(Boolean).at(-1) ?? imported.id,
      path: imported.dir,
      expertHashes: experts.map((expert) => expert.sha256),
      config: { points: imported.manifest.configs.length, hiddenSize: imported.manifest.configs[0]!.hiddenSize, numExperts: experts.length },
    });
  }
  return imported;
}

function loadAggregatorManifest(dir: string): StudioAggregatorManifest {
  const set = loadAggregatorSet(dir);
  return { format: 'afa-studio-aggregators', version: 1, configs: set.configs, experts: set.experts ?? [] };
}

/** Removes `.tmp-<id>-<pid>` folders that an import killed mid-way left behind (its process is gone). */
function removeStaleAggregatorImports(root: string): void {
  for (const name of readdirSync(root)) {
    const match = /^\.tmp-agg-[0-9a-f]+-(\d+)$/.exec(name);
    if (match && Number(match[1]) !== process.pid && !processAlive(Number(match[1]))) rmSync(join(root, name), { recursive: true, force: true });
  }
}

/** Removes an imported set's folder (the library row is the caller's). */
export function removeAggregators(home: string, id: string): boolean {
  const dir = join(studioPaths(home).aggregators, id);
  if (!existsSync(dir)) return false;
  rmSync(dir, { recursive: true, force: true });
  return true;
}

