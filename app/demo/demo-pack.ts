// The demo pack: the studio's own small model family (a VAE, a CLIP-topology text encoder, U-Net experts
// fine-tuned from one base, and optionally AFA aggregators), shipped with the app and installed on a fresh
// studio home (demo-install.ts). On disk it is a diffusers folder with one U-Net subfolder per expert:
//
//   manifest.json                      DemoPackManifest below: every other file with its size and SHA-256
//   model_index.json                   StableDiffusionPipeline (no tokenizer/: the bundled CLIP vocabulary)
//   text_encoder/config.json, model.safetensors             shared by every expert
//   vae/config.json, diffusion_pytorch_model.safetensors    shared
//   scheduler/scheduler_config.json
//   unet_<expert id>/config.json, diffusion_pytorch_model.safetensors   one per expert
//   aggregators/config.json, aggregators.safetensors        optional: `aggregators.{i}.<official name>`
//                                                           tensors, the studio's naming (aggregator-set.ts)
//
// Every float weight is stored as fp16 (the pack ships in the repository; ≤ 30 MB in all). With diffusers,
// an expert loads as `StableDiffusionPipeline.from_pretrained(pack, unet=UNet2DConditionModel.from_pretrained(
// pack, subfolder='unet_<id>'), tokenizer=CLIPTokenizer.from_pretrained('openai/clip-vit-large-patch14'))`.
// writeDemoPack builds the pack in a temporary sibling folder and renames it into place, so a pack on disk
// is whole or absent; readDemoPack checks the manifest and, on demand, every file's size and hash.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { diskFullError, isDiskFull, writeFileAtomic } from '../common/atomic-write.ts';
import { throwIfCancelled, UserError } from '../common/errors.ts';
import type { JobControl } from '../common/progress.ts';
import { sha256File } from '../checkpoints/hash.ts';
import { openDiffusersFolder } from '../checkpoints/open-diffusers-folder.ts';
import { validateAggregatorConfig, type AggregatorConfig } from '../ensemble/aggregator-config.ts';
import type { JsonValue } from '../images/generation-settings.ts';
import { parseClipTextConfig } from '../models/clip-text-config.ts';
import { parseUnetConfig } from '../models/unet-config.ts';
import { unetLayout } from '../models/unet-layout.ts';
import { parseVaeConfig } from '../models/vae-config.ts';
import { SAMPLERS, type SamplerName } from '../pipeline/generation-request.ts';
import { castFloat, isFloatDType } from '../tensor/cast.ts';
import { SafetensorsWriter } from '../tensor/safetensors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { MemoryWeights, type WeightSource } from '../tensor/weights.ts';

export const DEMO_PACK_FORMAT = 'afa-studio-demo-pack';
export const DEMO_PACK_VERSION = 1;
export const DEMO_PACK_MANIFEST = 'manifest.json';
/** The aggregators' own config file inside their folder (DemoPackAggregatorsFile). */
export const DEMO_AGGREGATORS_CONFIG = 'config.json';
export const DEMO_AGGREGATORS_WEIGHTS = 'aggregators.safetensors';

/** The pack ships in the repository and with every app: at most this many bytes in all (issue 12: ≤ 30 MB). */
export const DEMO_PACK_BUDGET_BYTES = 30_000_000;

/** What to do about a damaged or missing pack, in every error about one. */
const REPAIR_HINT = 'Reinstall AFA Studio (or check out the repository again), or rebuild the pack with `npm run demo:train`.';

export interface DemoPackFile {
  /** Relative to the pack folder, '/'-separated. */
  readonly path: string;
  readonly bytes: number;
  /** Lowercase hex SHA-256 of the file. */
  readonly sha256: string;
}

export interface DemoPackExpert {
  /** Short stable id (lowercase letters, digits, '-'): names the U-Net folder and the aggregator channels. */
  readonly id: string;
  readonly name: string;
  readonly description: string;
  /** `unet_<id>`: the folder of this expert's U-Net. */
  readonly subfolder: string;
}

/** The recipe the studio opens on, with a prompt that works. */
export interface DemoPackRecipe {
  readonly name: string;
  /** 'afa' with aggregators; a pack without them installs a feature-average recipe instead (demo-install.ts). */
  readonly method: 'afa';
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly sampler: SamplerName;
  readonly steps: number;
  readonly guidance: number;
  readonly width: number;
  readonly height: number;
  readonly seed: number;
}

/** The sizes of each aggregator; the per-point channels follow from the experts' U-Net. */
export interface DemoAggregatorSizes {
  readonly hiddenSize: number;
  readonly numAttentionHeads: number;
  readonly numLayers: number;
}

export interface DemoPackAggregators {
  /** The folder inside the pack ('aggregators'). */
  readonly folder: string;
  readonly config: DemoAggregatorSizes;
  /** Expert ids in the order the aggregators' channels expect them. */
  readonly experts: readonly string[];
}

export interface DemoPackManifest {
  readonly format: typeof DEMO_PACK_FORMAT;
  readonly version: typeof DEMO_PACK_VERSION;
  readonly name: string;
  readonly description: string;
  /** Every file of the pack except manifest.json, sorted by path. */
  readonly files: readonly DemoPackFile[];
  readonly experts: readonly DemoPackExpert[];
  readonly recipe: DemoPackRecipe;
  readonly aggregators?: DemoPackAggregators;
  /** How the pack was made (exact command, seeds, configs, timings, losses): free JSON, kept for the record. */
  readonly training: JsonValue;
}

/** aggregators/config.json: one config per aggregation point, and the experts by pack id. */
export interface DemoPackAggregatorsFile {
  readonly format: 'afa-studio-demo-aggregators';
  readonly version: 1;
  readonly configs: readonly AggregatorConfig[];
  readonly experts: readonly string[];
}

/** Weights to write: tensors in memory, or any WeightSource (a training checkpoint's safetensors file). */
export type DemoWeights = ReadonlyMap<string, Tensor> | WeightSource;

export interface DemoPackContents {
  readonly name: string;
  readonly description: string;
  /** transformers CLIPTextConfig JSON (text_encoder/config.json) and its weights (`text_model.…` names). */
  readonly textEncoder: { readonly config: Readonly<Record<string, JsonValue>>; readonly weights: DemoWeights };
  /** diffusers AutoencoderKL config and weights. */
  readonly vae: { readonly config: Readonly<Record<string, JsonValue>>; readonly weights: DemoWeights };
  /** diffusers scheduler config (scheduler/scheduler_config.json); epsilon prediction. */
  readonly scheduler: Readonly<Record<string, JsonValue>>;
  readonly experts: readonly {
    readonly id: string;
    readonly name: string;
    readonly description: string;
    /** diffusers UNet2DConditionModel config; every expert has the same architecture. */
    readonly unetConfig: Readonly<Record<string, JsonValue>>;
    readonly weights: DemoWeights;
  }[];
  readonly aggregators?: {
    readonly config: DemoAggregatorSizes;
    /** `aggregators.{i}.<official name>` tensors, i = aggregation point (the studio's aggregator format). */
    readonly weights: DemoWeights;
    /** Expert ids, in the order of the aggregators' channels. */
    readonly experts: readonly string[];
  };
  readonly recipe: DemoPackRecipe;
  readonly training: JsonValue;
}

/** A pack whose manifest was read and checked. */
export interface DemoPack {
  readonly dir: string;
  readonly manifest: DemoPackManifest;
  /** SHA-256 of manifest.json: identifies this exact pack (it lists every file's hash). */
  readonly manifestSha256: string;
  /** aggregators/config.json, when the pack has aggregators. */
  readonly aggregators?: DemoPackAggregatorsFile;
}

// ---------------------------------------------------------------------------------------------------
// Writing

const EXPERT_ID = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function expertSubfolder(id: string): string {
  return `unet_${id}`;
}

function invalid(message: string): UserError {
  return new UserError('invalid-argument', `Cannot write the demo pack: ${message}`);
}

function asWeightSource(weights: DemoWeights, description: string): WeightSource {
  return weights instanceof Map ? new MemoryWeights(weights as ReadonlyMap<string, Tensor>, description) : (weights as WeightSource);
}

/** The per-point aggregator configs for experts of this U-Net architecture. */
export function demoAggregatorConfigs(unetConfig: unknown, sizes: DemoAggregatorSizes, numExperts: number): AggregatorConfig[] {
  const config = parseUnetConfig(unetConfig, 'the demo U-Net config');
  return unetLayout(config).map((point, index) =>
    validateAggregatorConfig(
      {
        inChannels: point.outChannels,
        hiddenSize: sizes.hiddenSize,
        numExperts,
        numLayers: sizes.numLayers,
        numAttentionHeads: sizes.numAttentionHeads,
        crossAttentionDim: config.cross_attention_dim,
        timeEmbeddingChannels: 4 * config.block_out_channels[0]!,
      },
      `demo aggregator ${index}`,
    ),
  );
}

function checkContents(contents: DemoPackContents): void {
  if (!contents.name.trim()) throw invalid('it needs a name.');
  if (contents.experts.length < 2) throw invalid(`an ensemble needs at least 2 experts, got ${contents.experts.length}.`);
  const ids = new Set<string>();
  for (const expert of contents.experts) {
    if (!EXPERT_ID.test(expert.id)) throw invalid(`expert id '${expert.id}' must be lowercase letters, digits and '-' (at most 40).`);
    if (ids.has(expert.id)) throw invalid(`expert id '${expert.id}' appears twice.`);
    ids.add(expert.id);
    if (!expert.name.trim()) throw invalid(`expert '${expert.id}' needs a name.`);
  }
  const first = JSON.stringify(parseUnetConfig(contents.experts[0]!.unetConfig, `U-Net config of expert '${contents.experts[0]!.id}'`));
  for (const expert of contents.experts.slice(1)) {
    if (JSON.stringify(parseUnetConfig(expert.unetConfig, `U-Net config of expert '${expert.id}'`)) !== first) {
      throw invalid(`expert '${expert.id}' has another U-Net architecture than '${contents.experts[0]!.id}'; experts fine-tuned from one base share it.`);
    }
  }
  parseClipTextConfig(contents.textEncoder.config, 'the demo text encoder config');
  parseVaeConfig(contents.vae.config, 'the demo VAE config');
  if (contents.scheduler.prediction_type !== undefined && contents.scheduler.prediction_type !== 'epsilon') {
    throw invalid(`the scheduler's prediction_type must be 'epsilon', got ${JSON.stringify(contents.scheduler.prediction_type)}.`);
  }
  if (contents.aggregators) {
    const order = contents.aggregators.experts;
    if (order.length !== ids.size || new Set(order).size !== order.length || order.some((id) => !ids.has(id))) {
      throw invalid(`the aggregators' experts (${order.join(', ')}) must list every expert (${[...ids].join(', ')}) once.`);
    }
  }
  checkRecipe(contents.recipe, (message) => invalid(message));
}

function checkRecipe(recipe: DemoPackRecipe, fail: (message: string) => UserError): void {
  if (typeof recipe !== 'object' || recipe === null) throw fail('the recipe is missing.');
  if (typeof recipe.name !== 'string' || !recipe.name.trim()) throw fail('the recipe needs a name.');
  if (recipe.method !== 'afa') throw fail(`the recipe's method must be 'afa', got ${JSON.stringify(recipe.method)}.`);
  if (typeof recipe.prompt !== 'string' || !recipe.prompt.trim()) throw fail('the recipe needs a prompt.');
  if (typeof recipe.negativePrompt !== 'string') throw fail('the recipe needs a negative prompt (may be empty).');
  if (!SAMPLERS.includes(recipe.sampler)) throw fail(`unknown sampler ${JSON.stringify(recipe.sampler)}.`);
  if (!Number.isInteger(recipe.steps) || recipe.steps < 1 || recipe.steps > 500) throw fail(`steps must be 1–500, got ${JSON.stringify(recipe.steps)}.`);
  if (typeof recipe.guidance !== 'number' || !(recipe.guidance >= 0 && recipe.guidance <= 50)) throw fail(`guidance must be 0–50, got ${JSON.stringify(recipe.guidance)}.`);
  for (const side of ['width', 'height'] as const) {
    const value = recipe[side];
    if (!Number.isInteger(value) || value < 64 || value > 2048 || value % 8 !== 0) throw fail(`${side} must be a multiple of 8 from 64 to 2048, got ${JSON.stringify(value)}.`);
  }
  if (!Number.isSafeInteger(recipe.seed) || recipe.seed < 0) throw fail(`the seed must be a whole number ≥ 0, got ${JSON.stringify(recipe.seed)}.`);
}

function modelIndex(): Record<string, JsonValue> {
  // The components diffusers' StableDiffusionPipeline loads; `unet` is given explicitly (one per expert)
  // and the tokenizer is the standard CLIP one, so neither folder is in the pack.
  return {
    _class_name: 'StableDiffusionPipeline',
    _diffusers_version: '0.20.2',
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'DDIMScheduler'],
    text_encoder: ['transformers', 'CLIPTextModel'],
    tokenizer: [null, null],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'],
  };
}

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Writes `source` as fp16 (float tensors; others as they are) into `path`, tensors in name order so the
 * same weights always give the same bytes. `rename` maps a source name to the stored one.
 */
async function writeFp16(path: string, source: WeightSource, control: JobControl, label: string, rename: (name: string) => string = (name) => name): Promise<void> {
  const names = [...source.names()].sort((a, b) => (rename(a) < rename(b) ? -1 : rename(a) > rename(b) ? 1 : 0));
  const stored = (name: string) => {
    const dtype = source.get(name).dtype;
    return isFloatDType(dtype) ? 'float16' : dtype;
  };
  const writer = new SafetensorsWriter(path, names.map((name) => ({ name: rename(name), dtype: stored(name), shape: source.get(name).shape })));
  try {
    let done = 0;
    for (const name of names) {
      // Between tensors: a cancel gets through and the event loop turns.
      await new Promise<void>((next) => setImmediate(next));
      throwIfCancelled(control.signal);
      const tensor = source.get(name).read();
      writer.write(rename(name), isFloatDType(tensor.dtype) && tensor.dtype !== 'float16' ? castFloat(tensor, 'float16') : tensor);
      control.onProgress?.({ phase: 'write', done: ++done, total: names.length, unit: 'tensors', message: `Writing the ${label}: ${rename(name)}` });
    }
    writer.commit();
  } catch (error) {
    writer.abort();
    throw error;
  }
}

function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, jsonBytes(value));
}

/** Every file below `root` (relative, '/'-separated), sorted. */
function listFiles(root: string, prefix = ''): string[] {
  return readdirSync(join(root, prefix), { withFileTypes: true })
    .flatMap((entry) => {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      return entry.isDirectory() ? listFiles(root, path) : [path];
    })
    .sort();
}

/**
 * Writes the pack `contents` into `dir` (replacing a pack there). Built in a temporary sibling folder,
 * checked (each expert opens as a diffusers folder with the importer's own reader; the whole stays within
 * `maxBytes`, default DEMO_PACK_BUDGET_BYTES), then renamed into place: `dir` holds the old pack or the
 * new one, never a mix or a half-written one.
 */
export async function writeDemoPack(
  dir: string,
  contents: DemoPackContents,
  control: JobControl = {},
  options: { readonly maxBytes?: number } = {},
): Promise<DemoPack> {
  checkContents(contents);
  const target = resolve(dir);
  mkdirSync(dirname(target), { recursive: true });
  const temp = join(dirname(target), `.tmp-${basename(target)}-${randomBytes(6).toString('hex')}`);
  mkdirSync(temp);
  try {
    const experts: DemoPackExpert[] = contents.experts.map((expert) => ({ id: expert.id, name: expert.name, description: expert.description, subfolder: expertSubfolder(expert.id) }));
    writeJson(join(temp, 'model_index.json'), modelIndex());
    writeJson(join(temp, 'scheduler', 'scheduler_config.json'), contents.scheduler);
    writeJson(join(temp, 'text_encoder', 'config.json'), contents.textEncoder.config);
    await writeFp16(join(temp, 'text_encoder', 'model.safetensors'), asWeightSource(contents.textEncoder.weights, 'the demo text encoder'), control, 'text encoder');
    writeJson(join(temp, 'vae', 'config.json'), contents.vae.config);
    await writeFp16(join(temp, 'vae', 'diffusion_pytorch_model.safetensors'), asWeightSource(contents.vae.weights, 'the demo VAE'), control, 'VAE');
    for (const [index, expert] of contents.experts.entries()) {
      const folder = experts[index]!.subfolder;
      writeJson(join(temp, folder, 'config.json'), expert.unetConfig);
      await writeFp16(join(temp, folder, 'diffusion_pytorch_model.safetensors'), asWeightSource(expert.weights, `the U-Net of ${expert.id}`), control, `U-Net of ${expert.name}`);
    }
    let aggregators: DemoPackAggregators | undefined;
    if (contents.aggregators) {
      const configs = demoAggregatorConfigs(contents.experts[0]!.unetConfig, contents.aggregators.config, contents.experts.length);
      const file: DemoPackAggregatorsFile = { format: 'afa-studio-demo-aggregators', version: 1, configs, experts: contents.aggregators.experts };
      writeJson(join(temp, 'aggregators', DEMO_AGGREGATORS_CONFIG), file);
      const weights = asWeightSource(contents.aggregators.weights, 'the demo aggregators');
      checkAggregatorNames(weights, configs.length);
      await writeFp16(join(temp, 'aggregators', DEMO_AGGREGATORS_WEIGHTS), weights, control, 'aggregators');
      aggregators = { folder: 'aggregators', config: { ...contents.aggregators.config }, experts: [...contents.aggregators.experts] };
    }
    // What the installer will do, done now: each expert must open as the importer opens it.
    for (const expert of experts) openDiffusersFolder(temp, { subfolders: { unet: expert.subfolder } }).close();
    throwIfCancelled(control.signal);

    const files: DemoPackFile[] = [];
    for (const path of listFiles(temp)) {
      files.push({ path, bytes: statSync(join(temp, ...path.split('/'))).size, sha256: await sha256File(join(temp, ...path.split('/')), { signal: control.signal }) });
    }
    const manifest: DemoPackManifest = {
      format: DEMO_PACK_FORMAT,
      version: DEMO_PACK_VERSION,
      name: contents.name,
      description: contents.description,
      files,
      experts,
      recipe: { ...contents.recipe },
      ...(aggregators ? { aggregators } : {}),
      training: contents.training,
    };
    writeJson(join(temp, DEMO_PACK_MANIFEST), manifest);
    const bytes = files.reduce((sum, file) => sum + file.bytes, 0) + statSync(join(temp, DEMO_PACK_MANIFEST)).size;
    const budget = options.maxBytes ?? DEMO_PACK_BUDGET_BYTES;
    if (bytes > budget) {
      throw new UserError(
        'invalid-argument',
        `The demo pack would be ${(bytes / 1e6).toFixed(1)} MB, over its budget of ${(budget / 1e6).toFixed(1)} MB (it ships with every copy of the studio).`,
        'Make the models smaller (the text encoder\'s token embedding is 49,408 × hidden size), or pass maxBytes for a pack that does not ship.',
      );
    }
    throwIfCancelled(control.signal);
    replaceFolder(temp, target);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    if (isDiskFull(error)) throw diskFullError(target);
    throw error;
  }
  return readDemoPack(target);
}

/** Every aggregator i must have tensors `aggregators.{i}.…`, and nothing else may be in the file. */
function checkAggregatorNames(weights: WeightSource, count: number): void {
  const seen = new Set<number>();
  for (const name of weights.names()) {
    const match = /^aggregators\.(\d+)\./.exec(name);
    if (!match || Number(match[1]) >= count) throw invalid(`aggregator tensor '${name}' is not named aggregators.{0…${count - 1}}.<name>.`);
    seen.add(Number(match[1]));
  }
  if (seen.size !== count) throw invalid(`the aggregator weights cover ${seen.size} of the ${count} aggregation points.`);
}

/** Puts the finished folder `temp` at `target`, moving a previous one aside first and removing it after. */
function replaceFolder(temp: string, target: string): void {
  if (!existsSync(target)) {
    renameSync(temp, target);
    return;
  }
  const old = join(dirname(target), `.old-${basename(target)}-${randomBytes(6).toString('hex')}`);
  renameSync(target, old);
  try {
    renameSync(temp, target);
  } catch (error) {
    renameSync(old, target);
    throw error;
  }
  rmSync(old, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------------
// Reading

function damaged(dir: string, what: string): UserError {
  return new UserError('corrupt-file', `The demo pack at ${dir} is damaged: ${what}`, REPAIR_HINT);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A path inside the pack: relative, '/'-separated, no '.', '..' or empty parts. */
function isSafeRelativePath(path: unknown): path is string {
  return typeof path === 'string' && path.length > 0 && path.length < 300 && !path.includes('\\') && path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

function readJsonFile(dir: string, relativePath: string): unknown {
  try {
    return JSON.parse(readFileSync(join(dir, ...relativePath.split('/')), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw damaged(dir, `${relativePath} is missing.`);
    throw damaged(dir, `${relativePath} is not valid JSON.`);
  }
}

/** Validates an untrusted manifest; `fail` phrases what is wrong. */
export function parseDemoPackManifest(json: unknown, fail: (what: string) => UserError): DemoPackManifest {
  if (!isRecord(json)) throw fail('manifest.json is not a JSON object.');
  if (json.format !== DEMO_PACK_FORMAT) throw fail(`manifest.json is not an AFA Studio demo pack manifest (format ${JSON.stringify(json.format)}).`);
  if (json.version !== DEMO_PACK_VERSION) {
    throw new UserError('unsupported', `The demo pack has format version ${JSON.stringify(json.version)}; this studio reads version ${DEMO_PACK_VERSION}.`, 'Update AFA Studio, or rebuild the pack with `npm run demo:train`.');
  }
  if (typeof json.name !== 'string' || !json.name.trim()) throw fail('manifest.json has no name.');
  if (typeof json.description !== 'string') throw fail('manifest.json has no description.');
  if (!Array.isArray(json.files)) throw fail('manifest.json has no file list.');
  const files = json.files.map((file, index): DemoPackFile => {
    if (!isRecord(file) || !isSafeRelativePath(file.path) || file.path === DEMO_PACK_MANIFEST) throw fail(`file entry ${index} has no valid path.`);
    if (!Number.isSafeInteger(file.bytes) || (file.bytes as number) < 0) throw fail(`file entry ${file.path} has no valid size.`);
    if (typeof file.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(file.sha256)) throw fail(`file entry ${file.path} has no valid SHA-256.`);
    return Object.freeze({ path: file.path, bytes: file.bytes as number, sha256: file.sha256 });
  });
  const listed = new Set(files.map((file) => file.path));
  if (listed.size !== files.length) throw fail('manifest.json lists a file twice.');
  if (!Array.isArray(json.experts) || json.experts.length < 2) throw fail('manifest.json lists fewer than 2 experts.');
  const experts = json.experts.map((expert, index): DemoPackExpert => {
    if (!isRecord(expert) || typeof expert.id !== 'string' || !EXPERT_ID.test(expert.id)) throw fail(`expert ${index} has no valid id.`);
    if (typeof expert.name !== 'string' || !expert.name.trim()) throw fail(`expert '${expert.id}' has no name.`);
    if (typeof expert.description !== 'string') throw fail(`expert '${expert.id}' has no description.`);
    if (expert.subfolder !== expertSubfolder(expert.id)) throw fail(`expert '${expert.id}' must live in ${expertSubfolder(expert.id)}/, not ${JSON.stringify(expert.subfolder)}.`);
    return Object.freeze({ id: expert.id, name: expert.name, description: expert.description, subfolder: expert.subfolder });
  });
  const ids = new Set(experts.map((expert) => expert.id));
  if (ids.size !== experts.length) throw fail('manifest.json lists an expert twice.');
  checkRecipe(json.recipe as DemoPackRecipe, (what) => fail(`the recipe is invalid: ${what}`));
  const recipe = json.recipe as DemoPackRecipe;
  let aggregators: DemoPackAggregators | undefined;
  if (json.aggregators !== undefined) {
    const raw = json.aggregators;
    if (!isRecord(raw) || raw.folder !== 'aggregators' || !isRecord(raw.config) || !Array.isArray(raw.experts)) throw fail('the aggregators entry needs folder "aggregators", config and experts.');
    const sizes = raw.config;
    for (const key of ['hiddenSize', 'numAttentionHeads', 'numLayers'] as const) {
      if (!Number.isInteger(sizes[key]) || (sizes[key] as number) <= 0) throw fail(`the aggregators' ${key} must be a positive whole number.`);
    }
    const order = raw.experts;
    if (order.length !== ids.size || new Set(order).size !== order.length || order.some((id) => typeof id !== 'string' || !ids.has(id))) {
      throw fail('the aggregators must list every expert id once.');
    }
    aggregators = Object.freeze({
      folder: 'aggregators',
      config: Object.freeze({ hiddenSize: sizes.hiddenSize as number, numAttentionHeads: sizes.numAttentionHeads as number, numLayers: sizes.numLayers as number }),
      experts: Object.freeze([...(order as string[])]),
    });
  }
  // The files each part needs must be listed (so they are size- and hash-checked).
  const needed = [
    'model_index.json',
    'scheduler/scheduler_config.json',
    'text_encoder/config.json',
    'text_encoder/model.safetensors',
    'vae/config.json',
    'vae/diffusion_pytorch_model.safetensors',
    ...experts.flatMap((expert) => [`${expert.subfolder}/config.json`, `${expert.subfolder}/diffusion_pytorch_model.safetensors`]),
    ...(aggregators ? [`aggregators/${DEMO_AGGREGATORS_CONFIG}`, `aggregators/${DEMO_AGGREGATORS_WEIGHTS}`] : []),
  ];
  for (const path of needed) if (!listed.has(path)) throw fail(`manifest.json does not list ${path}.`);
  return Object.freeze({
    format: DEMO_PACK_FORMAT,
    version: DEMO_PACK_VERSION,
    name: json.name,
    description: json.description,
    files: Object.freeze(files),
    experts: Object.freeze(experts),
    recipe: Object.freeze({ ...recipe }),
    ...(aggregators ? { aggregators } : {}),
    training: (json.training ?? null) as JsonValue,
  });
}

function parseAggregatorsFile(dir: string, manifest: DemoPackManifest): DemoPackAggregatorsFile {
  const path = `aggregators/${DEMO_AGGREGATORS_CONFIG}`;
  const raw = readJsonFile(dir, path);
  if (!isRecord(raw) || raw.format !== 'afa-studio-demo-aggregators' || raw.version !== 1 || !Array.isArray(raw.configs) || !Array.isArray(raw.experts)) {
    throw damaged(dir, `${path} is not a demo aggregator config.`);
  }
  let configs: AggregatorConfig[];
  try {
    configs = raw.configs.map((config, index) => validateAggregatorConfig(config as AggregatorConfig, `${path} (aggregator ${index})`));
  } catch (error) {
    throw damaged(dir, error instanceof Error ? error.message : String(error));
  }
  const expected = demoAggregatorConfigs(readJsonFile(dir, `${manifest.experts[0]!.subfolder}/config.json`), manifest.aggregators!.config, manifest.experts.length);
  if (JSON.stringify(configs) !== JSON.stringify(expected)) throw damaged(dir, `${path} does not describe aggregators for the experts' U-Net with the manifest's sizes.`);
  if (JSON.stringify(raw.experts) !== JSON.stringify(manifest.aggregators!.experts)) throw damaged(dir, `${path} and manifest.json order the experts differently.`);
  return Object.freeze({ format: 'afa-studio-demo-aggregators', version: 1, configs: Object.freeze(configs), experts: Object.freeze([...(raw.experts as string[])]) });
}

export interface ReadDemoPackOptions {
  /** Also hash every file and compare with the manifest (≈ one read of the pack). */
  readonly verify?: boolean;
  readonly control?: JobControl;
}

/**
 * Reads and checks the pack at `dir`: the manifest, and that every listed file is there with its size (a
 * truncated file or a Git LFS pointer left in place of the weights is caught without reading them). With
 * `verify`, every file's SHA-256 too. Throws UserError naming the damaged file.
 */
export async function readDemoPack(dir: string, options: ReadDemoPackOptions = {}): Promise<DemoPack> {
  const root = resolve(dir);
  if (!existsSync(join(root, DEMO_PACK_MANIFEST))) {
    throw new UserError('not-found', `There is no demo pack at ${root} (no ${DEMO_PACK_MANIFEST}).`, REPAIR_HINT);
  }
  const manifestBytes = readFileSync(join(root, DEMO_PACK_MANIFEST));
  let json: unknown;
  try {
    json = JSON.parse(manifestBytes.toString('utf8'));
  } catch {
    throw damaged(root, `${DEMO_PACK_MANIFEST} is not valid JSON.`);
  }
  const manifest = parseDemoPackManifest(json, (what) => damaged(root, what));
  for (const file of manifest.files) {
    const path = join(root, ...file.path.split('/'));
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      throw damaged(root, `${file.path} is missing.`);
    }
    if (size !== file.bytes) throw damaged(root, `${file.path} has ${size} bytes, the manifest says ${file.bytes}.`);
  }
  if (options.verify) await verifyFiles(root, manifest, options.control ?? {});
  return Object.freeze({
    dir: root,
    manifest,
    manifestSha256: createHash('sha256').update(manifestBytes).digest('hex'),
    ...(manifest.aggregators ? { aggregators: parseAggregatorsFile(root, manifest) } : {}),
  });
}

async function verifyFiles(root: string, manifest: DemoPackManifest, control: JobControl): Promise<void> {
  const total = manifest.files.reduce((sum, file) => sum + file.bytes, 0);
  let done = 0;
  for (const file of manifest.files) {
    const sha256 = await sha256File(join(root, ...file.path.split('/')), { signal: control.signal });
    if (sha256 !== file.sha256) throw damaged(root, `${file.path} does not match its SHA-256 in the manifest.`);
    done += file.bytes;
    control.onProgress?.({ phase: 'verify', done, total, unit: 'bytes', message: `Checking the demo pack: ${file.path}` });
  }
}

