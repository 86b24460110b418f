// Installs the demo pack (demo-pack.ts) into a studio home as ordinary studio things: each expert is
// imported by the normal importer (a model like any other, named "Demo · <expert>"), the aggregators go
// in as a set in the studio's format for those models' real ids, and the recipe is saved with the pack's
// prompt and settings as its defaults. Each item is recorded in the library's demo_items table, which
// gives the UI its "Demo" badges and remembers what the person removed: a removed item is never added
// again, by this install or any later one.
//
// A pack without aggregators (while they are not trained yet) installs the models and a feature-average
// recipe over them — what untrained AFA aggregators compute — so the studio still opens on an ensemble
// that works; a later pack's aggregators are not added to a home that already has the demo.
//
// Idempotent and resumable: an item already installed is kept, the importer returns a model already in
// the store as it is, and each item is written whole (the importer and the aggregator import build in a
// temporary folder and rename; the recipe row and its demo record commit in one transaction). A cancelled
// or killed install leaves only whole items, and the next start finishes the rest. Last, the recipe's
// ensemble graph is compiled into the studio's cache, so the first image only has to create sessions.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CancelledError, throwIfCancelled } from '../common/errors.ts';
import type { JobControl, Progress } from '../common/progress.ts';
import { importCheckpoint } from '../checkpoints/import-checkpoint.ts';
import { readModelManifest, type ModelManifest } from '../checkpoints/model-store.ts';
import { PrefixedWeights, type AggregatorSet } from '../ensemble/aggregator-set.ts';
import { aggregatorDir, checkRecipeCanRun, compiledRecipeGraph } from '../ensemble/recipe-target.ts';
import { importAggregatorsToCatalog } from '../ensemble/import-aggregators.ts';
import { validateRecipe, type Recipe } from '../ensemble/recipe.ts';
import type { JsonValue } from '../images/generation-settings.ts';
import { Library } from '../library/library.ts';
import { castFloat, isFloatDType } from '../tensor/cast.ts';
import { SafetensorsFile } from '../tensor/safetensors.ts';
import type { LazyTensor, WeightSource } from '../tensor/weights.ts';
import { DEMO_AGGREGATORS_WEIGHTS, readDemoPack, type DemoPack } from './demo-pack.ts';

/** Names of the things the demo adds, as the person sees them. */
export const DEMO_NAME_PREFIX = 'Demo · ';

export interface DemoInstallOptions {
  /** The library to record into (the services' own connection); default: one opened on `home` for the call. */
  readonly library?: Library;
}

export interface DemoInstalledModel {
  readonly expertId: string;
  readonly modelId: string;
  readonly name: string;
  /** False when it was already there (an earlier install, or the same weights imported by hand). */
  readonly created: boolean;
}

export interface DemoInstallResult {
  readonly packName: string;
  /** SHA-256 of the pack's manifest.json. */
  readonly packSha256: string;
  readonly models: readonly DemoInstalledModel[];
  readonly aggregatorId: string | null;
  readonly recipeId: string | null;
  /** Items left out, with the reason (the person removed them, or what they need is not there). */
  readonly skipped: readonly { readonly item: string; readonly reason: string }[];
}

/** The demo_items key of an expert's model. */
export function demoModelItem(expertId: string): string {
  return `model:${expertId}`;
}

/**
 * One progress bar over the whole install: checking the pack, then each expert's import (most of the
 * time: hashing, converting, building the graphs), the aggregators and the recipe. `done`/`total` are
 * thousandths.
 */
class InstallProgress {
  readonly #control: JobControl;
  readonly #total: number;
  #before = 0;

  constructor(control: JobControl, experts: number, aggregators: boolean) {
    this.#control = control;
    // Weights of the stages, roughly their share of the time measured on the test pack.
    this.#total = 1 + 4 * experts + (aggregators ? 1 : 0) + 0.2 + 0.6;
  }

  /** A JobControl for a stage of `weight` units whose own progress maps onto its share. */
  stage(weight: number, message: string, fraction: (progress: Progress) => number = (p) => (p.total > 0 ? p.done / p.total : 0)): JobControl {
    const start = this.#before;
    this.#before += weight;
    this.report(start, message);
    return {
      ...(this.#control.signal ? { signal: this.#control.signal } : {}),
      onProgress: (progress) => this.report(start + weight * Math.min(1, Math.max(0, fraction(progress))), message),
    };
  }

  finish(message: string): void {
    this.report(this.#total, message);
  }

  private report(units: number, message: string): void {
    this.#control.onProgress?.({ phase: 'demo', done: Math.round((1000 * units) / this.#total), total: 1000, message });
  }
}

/** Where an import is within one model: hashing, converting, hashing the VAE, building the graphs. */
function importFraction(progress: Progress): number {
  const part = progress.total > 0 ? progress.done / progress.total : 0;
  switch (progress.phase) {
    case 'hash':
      return 0.1 * part;
    case 'convert':
      return 0.1 + 0.4 * part;
    case 'hash-vae':
      return 0.5;
    case 'graphs':
      return 0.5 + 0.5 * part;
    default:
      return 0;
  }
}

/** The pack's fp16 aggregator weights as float32: sessions then need no Cast of them at creation. */
class Float32Weights implements WeightSource {
  readonly description: string;
  constructor(private readonly inner: WeightSource) {
    this.description = inner.description;
  }
  names(): readonly string[] {
    return this.inner.names();
  }
  has(name: string): boolean {
    return this.inner.has(name);
  }
  get(name: string): LazyTensor {
    const tensor = this.inner.get(name);
    if (!isFloatDType(tensor.dtype) || tensor.dtype === 'float32') return tensor;
    return { dtype: 'float32', shape: tensor.shape, read: () => castFloat(tensor.read(), 'float32') };
  }
}

/**
 * Whether the demo should be set up on this home now: it wanted it when the library first met the demo
 * (migration 5: a home with nothing in it), and still holds nothing of the person's own — models or
 * recipes that are not demo items. A home that wanted it while no pack was at hand (a build without
 * one) and has since filled up with the person's work declines it now, for good.
 */
export function homeWantsDemo(library: Library): boolean {
  if (library.demoItems.pack().state !== 'wanted') return false;
  const demoModels = library.demoItems.installed('model');
  const demoRecipes = library.demoItems.installed('recipe');
  const own = library.models.list().some((model) => !demoModels.has(model.id)) || library.recipes.list().some((recipe) => !demoRecipes.has(recipe.id));
  if (own) library.demoItems.setPack('declined', { reason: 'the home held the person\'s own models or recipes before the demo was set up' });
  return !own;
}

/**
 * Installs the pack at `packDir` into `home` (see the top of this file), checking every file's hash
 * first. Marks the home's demo as installed when done. Throws UserError for a damaged pack (naming the
 * file), CancelledError when `control.signal` aborts.
 */
export async function installDemoPack(home: string, packDir: string, control: JobControl = {}, options: DemoInstallOptions = {}): Promise<DemoInstallResult> {
  const library = options.library ?? Library.open({ home });
  try {
    return await install(home, packDir, control, library);
  } finally {
    if (!options.library) library.close();
  }
}

async function install(home: string, packDir: string, control: JobControl, library: Library): Promise<DemoInstallResult> {
  // The manifest first (cheap), to size the progress bar; then every file's hash.
  const unverified = await readDemoPack(packDir);
  const manifest = unverified.manifest;
  const progress = new InstallProgress(control, manifest.experts.length, Boolean(manifest.aggregators));
  const pack = await readDemoPack(packDir, { verify: true, control: progress.stage(1, 'Checking the demo models') });
  const skipped: { item: string; reason: string }[] = [];

  const models: DemoInstalledModel[] = [];
  for (const [index, expert] of manifest.experts.entries()) {
    throwIfCancelled(control.signal);
    const item = demoModelItem(expert.id);
    const stage = progress.stage(4, `Setting up the demo models (${index + 1} of ${manifest.experts.length}: ${expert.name})`, importFraction);
    const recorded = library.demoItems.get(item);
    if (recorded?.state === 'removed') {
      skipped.push({ item, reason: 'removed by the person' });
      continue;
    }
    if (recorded?.targetId && library.models.get(recorded.targetId) && readModelManifest(home, recorded.targetId)) {
      models.push({ expertId: expert.id, modelId: recorded.targetId, name: library.models.get(recorded.targetId)!.name, created: false });
      continue;
    }
    const imported = await importCheckpoint(pack.dir, { home, name: `${DEMO_NAME_PREFIX}${expert.name}`, subfolders: { unet: expert.subfolder }, catalog: library.models }, stage);
    if (!library.demoItems.markInstalled(item, 'model', imported.manifest.id)) {
      // Removed by another process while this one imported it: the person's choice stands.
      skipped.push({ item, reason: 'removed by the person' });
      continue;
    }
    models.push({ expertId: expert.id, modelId: imported.manifest.id, name: imported.manifest.name, created: !imported.alreadyImported });
  }
  const modelOf = new Map(models.map((model) => [model.expertId, model.modelId]));

  let aggregatorId: string | null = null;
  if (pack.manifest.aggregators && pack.aggregators) {
    throwIfCancelled(control.signal);
    const stage = progress.stage(1, 'Setting up the demo aggregators');
    aggregatorId = installAggregators(home, pack, modelOf, library, stage, skipped);
  }

  throwIfCancelled(control.signal);
  progress.stage(0.2, 'Saving the demo recipe');
  const recipeId = installRecipe(home, pack, modelOf, aggregatorId, library, skipped);
  if (recipeId) {
    progress.stage(0.6, 'Preparing the demo recipe');
    precompile(home, library, recipeId, control.signal);
  }
  library.demoItems.setPack('installed', { name: manifest.name, manifestSha256: pack.manifestSha256, installedAt: new Date().toISOString() });
  progress.finish('The demo models are ready');
  return { packName: manifest.name, packSha256: pack.manifestSha256, models, aggregatorId, recipeId, skipped };
}

/**
 * Compiles the recipe's ensemble graph into the studio's compiled cache now, in the background, so the
 * first image only creates its sessions (measured on the test pack: 0.6 s of CPU of the first image's
 * 5.5 s). Best effort: the first generation compiles it anyway and is where a problem is reported.
 */
function precompile(home: string, library: Library, recipeId: string, signal: AbortSignal | undefined): void {
  const row = library.recipes.get(recipeId);
  if (!row) return;
  try {
    const recipe = validateRecipe(row.document);
    compiledRecipeGraph(home, recipe, recipe.members.map((member) => readModelManifest(home, member.modelId)!), signal);
  } catch (error) {
    if (error instanceof CancelledError) throw error;
  }
}

function installAggregators(home: string, pack: DemoPack, modelOf: ReadonlyMap<string, string>, library: Library, control: JobControl, skipped: { item: string; reason: string }[]): string | null {
  const item = 'aggregators';
  const recorded = library.demoItems.get(item);
  if (recorded?.state === 'removed') {
    skipped.push({ item, reason: 'removed by the person' });
    return null;
  }
  if (recorded?.targetId && library.aggregators.get(recorded.targetId) && existsSync(aggregatorDir(home, recorded.targetId))) return recorded.targetId;
  const order = pack.aggregators!.experts;
  const missing = order.filter((id) => !modelOf.has(id));
  if (missing.length > 0) {
    skipped.push({ item, reason: `trained for the expert${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed` });
    return null;
  }
  const experts: ModelManifest[] = order.map((id) => readModelManifest(home, modelOf.get(id)!)!);
  const file = SafetensorsFile.open(join(pack.dir, pack.manifest.aggregators!.folder, DEMO_AGGREGATORS_WEIGHTS));
  try {
    const set: AggregatorSet = {
      source: join(pack.dir, pack.manifest.aggregators!.folder),
      configs: pack.aggregators!.configs,
      weights: pack.aggregators!.configs.map((_, index) => new Float32Weights(new PrefixedWeights(file, `aggregators.${index}.`))),
      experts: experts.map((expert) => ({ sha256: expert.sha256, name: expert.name })),
    };
    const imported = importAggregatorsToCatalog(library.aggregators, set, experts, {
      home,
      name: `${DEMO_NAME_PREFIX}${pack.manifest.name} aggregators`,
      notes: `The aggregators of the demo pack "${pack.manifest.name}".`,
    }, control);
    if (!library.demoItems.markInstalled(item, 'aggregators', imported.id)) {
      skipped.push({ item, reason: 'removed by the person' });
      return null;
    }
    return imported.id;
  } finally {
    file.close();
  }
}

function installRecipe(home: string, pack: DemoPack, modelOf: ReadonlyMap<string, string>, aggregatorId: string | null, library: Library, skipped: { item: string; reason: string }[]): string | null {
  const item = 'recipe';
  const recorded = library.demoItems.get(item);
  if (recorded?.state === 'removed') {
    skipped.push({ item, reason: 'removed by the person' });
    return null;
  }
  if (recorded?.targetId && library.recipes.get(recorded.targetId)) return recorded.targetId;
  // AFA over the experts in the aggregators' channel order; without aggregators, feature-average.
  const order = aggregatorId ? pack.aggregators!.experts : pack.manifest.experts.map((expert) => expert.id);
  const available = order.filter((id) => modelOf.has(id));
  if (aggregatorId ? available.length !== order.length : available.length < 2) {
    skipped.push({ item, reason: 'its models are not all installed' });
    return null;
  }
  const recipe = pack.manifest.recipe;
  const document: Recipe = validateRecipe({
    version: 1,
    name: `${DEMO_NAME_PREFIX}${recipe.name}`,
    method: aggregatorId ? 'afa' : 'feature-average',
    members: available.map((id) => {
      const model = library.models.get(modelOf.get(id)!)!;
      return { modelId: model.id, name: model.name, shortHash: model.shortHash };
    }),
    ...(aggregatorId ? { aggregatorId } : {}),
    defaults: {
      sampler: recipe.sampler,
      steps: recipe.steps,
      guidance: recipe.guidance,
      prompt: recipe.prompt,
      negativePrompt: recipe.negativePrompt,
      width: recipe.width,
      height: recipe.height,
      seed: recipe.seed,
    },
  });
  checkRecipeCanRun(home, document);
  // One transaction: a second process installing at the same moment finds the row and keeps it.
  return library.db
    .transaction((): string | null => {
      const again = library.demoItems.get(item);
      if (again?.state === 'removed') return null;
      if (again?.targetId && library.recipes.get(again.targetId)) return again.targetId;
      const row = library.recipes.insert(document.name, document as unknown as JsonValue);
      library.demoItems.markInstalled(item, 'recipe', row.id);
      return row.id;
    })
    .immediate();
}
