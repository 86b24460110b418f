// Opens a diffusers pipeline folder (model_index.json, unet/, text_encoder/, vae/, tokenizer/) as three
// components with their own config.json. Weights must be safetensors: `diffusion_pytorch_model.safetensors`
// / `model.safetensors`, their `.fp16` variants, or shards listed by `*.safetensors.index.json`; a folder
// that only has pickles (`.bin`) is refused as unsafe.
// VAEs saved by diffusers < 0.14 name the mid attention `query/key/value/proj_attn`; they are renamed to
// `to_q/to_k/to_v/to_out.0` as diffusers' `_convert_deprecated_attention_blocks` does on load.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../common/errors.ts';
import { SafetensorsFile } from '../tensor/safetensors.ts';
import type { WeightSource } from '../tensor/weights.ts';
import type { ComponentConfig, ComponentName } from './component-config.ts';
import { textEncoderLayout, unetLayout, vaeLayout } from './component-config.ts';
import type { CheckpointFamily, Detection } from './detect.ts';
import { familyName } from './detect.ts';
import { PICKLE_EXTENSIONS, assertSafetensorsFile, unsafeFileError } from './file-format.ts';
import {
  crossCheckConfig,
  diffusersUnetNaming,
  diffusersVaeNaming,
  inferTextEncoderConfig,
  inferUnetConfig,
  inferVaeConfig,
} from './infer-config.ts';
import { textEncoderKeyMap, unetKeyMap, vaeKeyMap } from './ldm-keys.ts';
import type { MappedTensor } from './mapped-weights.ts';
import { CombinedWeights, MappedWeights } from './mapped-weights.ts';
import type { OpenOptions } from './open-single-file.ts';
import type { OpenedCheckpoint } from './opened-checkpoint.ts';
import { assertComplete, sourcePrecisionOf } from './opened-checkpoint.ts';

const FOLDERS: Readonly<Record<ComponentName, string>> = { unet: 'unet', textEncoder: 'text_encoder', vae: 'vae' };
const WEIGHT_STEMS: Readonly<Record<ComponentName, string>> = {
  unet: 'diffusion_pytorch_model',
  textEncoder: 'model',
  vae: 'diffusion_pytorch_model',
};

export function isDiffusersFolder(path: string): boolean {
  return existsSync(join(path, 'model_index.json')) || existsSync(join(path, 'unet', 'config.json'));
}

export function openDiffusersFolder(path: string, options: OpenOptions = {}): OpenedCheckpoint {
  const root = resolve(path);
  const modelIndex = readJsonIfPresent(join(root, 'model_index.json'));
  const evidence: string[] = [];
  const pipelineClass = typeof modelIndex?._class_name === 'string' ? modelIndex._class_name : undefined;
  if (pipelineClass) evidence.push(`pipeline ${pipelineClass}`);
  if (existsSync(join(root, 'text_encoder_2')) || /XL/.test(pipelineClass ?? '')) refuse(root, 'sdxl', [...evidence, 'a second text encoder (text_encoder_2)']);

  const folders: Readonly<Record<ComponentName, string>> = { ...FOLDERS, ...options.subfolders };
  const configs = {} as Record<ComponentName, ComponentConfig>;
  for (const component of ['unet', 'textEncoder', 'vae'] as const) {
    const file = join(root, folders[component], 'config.json');
    const own = readJsonIfPresent(file);
    if (!own) {
      throw new UserError('corrupt-file', `${root} is not a complete diffusers folder: ${folders[component]}/config.json is missing.`, 'A diffusers pipeline folder needs unet/, text_encoder/ and vae/, each with config.json.');
    }
    configs[component] = Object.freeze({ ...own, ...(options.configOverrides?.[component] ?? {}) });
  }
  const detection = detectFolder(root, configs, evidence, /Inpaint/.test(pipelineClass ?? ''));

  const opened: SafetensorsFile[] = [];
  try {
    const raw = {} as Record<ComponentName, WeightSource>;
    const files: string[] = [];
    for (const component of ['textEncoder', 'unet', 'vae'] as const) {
      const { source, paths } = openComponentWeights(join(root, folders[component]), component, opened);
      raw[component] = source;
      files.push(...paths);
    }
    const hint = 'The folder\'s config.json does not describe its weights; the folder is damaged or was assembled from different models.';
    crossCheckConfig('unet', inferUnetConfig(raw.unet, diffusersUnetNaming), configs.unet, join(root, folders.unet), hint);
    crossCheckConfig('vae', inferVaeConfig(raw.vae, diffusersVaeNaming), configs.vae, join(root, folders.vae), hint);
    crossCheckConfig('textEncoder', inferTextEncoderConfig(raw.textEncoder, 'text_model.'), configs.textEncoder, join(root, folders.textEncoder), hint);

    const identity = (names: readonly string[]): MappedTensor[] => names.map((name) => ({ name, sourceName: name }));
    const unetMapping = identity(unetKeyMap(unetLayout(configs.unet)).map((key) => key.diffusers));
    const textMapping = identity(textEncoderKeyMap(textEncoderLayout(configs.textEncoder)).map((key) => key.diffusers));
    const vaeMapping = vaeKeyMap(vaeLayout(configs.vae)).map((key): MappedTensor => vaeTensor(raw.vae, key.diffusers));
    assertComplete(unetMapping, raw.unet, 'SD1.x U-Net', join(root, folders.unet));
    assertComplete(textMapping, raw.textEncoder, 'CLIP text encoder', join(root, folders.textEncoder));
    assertComplete(vaeMapping, raw.vae, 'VAE', join(root, folders.vae));

    const components = {
      unet: { config: configs.unet, weights: new MappedWeights(raw.unet, unetMapping, `the U-Net of ${root}`) },
      textEncoder: { config: configs.textEncoder, weights: new MappedWeights(raw.textEncoder, textMapping, `the text encoder of ${root}`) },
      vae: { config: configs.vae, weights: new MappedWeights(raw.vae, vaeMapping, `the VAE of ${root}`) },
    };
    const ignoredTensors = (['unet', 'textEncoder', 'vae'] as const).flatMap((component) => {
      const weights = components[component].weights;
      const used = new Set(weights.names().map((name) => weights.sourceNameOf(name)));
      return raw[component].names().filter((name) => !used.has(name)).map((name) => `${folders[component]}/${name}`);
    });
    const tokenizerPath = join(root, 'tokenizer');
    const hasTokenizer = existsSync(join(tokenizerPath, 'vocab.json')) && existsSync(join(tokenizerPath, 'merges.txt'));
    return Object.freeze({
      format: 'diffusers-folder',
      path: root,
      detection,
      components: Object.freeze(components),
      tokenizer: Object.freeze(hasTokenizer ? { kind: 'folder', path: tokenizerPath } : { kind: 'default' }),
      weightFiles: Object.freeze(files),
      sourcePrecision: sourcePrecisionOf([components.unet.weights, components.textEncoder.weights, components.vae.weights]),
      ignoredTensors: Object.freeze(ignoredTensors),
      close: () => closeAll(opened),
    });
  } catch (error) {
    closeAll(opened);
    throw error;
  }
}

/** Classifies the folder from its configs (the weights are cross-checked against them afterwards). */
function detectFolder(root: string, configs: Record<ComponentName, ComponentConfig>, evidence: string[], inpaintPipeline: boolean): Detection {
  const unet = configs.unet;
  const cross = typeof unet.cross_attention_dim === 'number' ? unet.cross_attention_dim : undefined;
  const inChannels = typeof unet.in_channels === 'number' ? unet.in_channels : 4;
  if (cross !== undefined) evidence.push(`cross-attention width ${cross}`);
  evidence.push(`U-Net input channels ${inChannels}`);
  if (unet.addition_embed_type === 'text_time') refuse(root, 'sdxl', [...evidence, 'SDXL add-embeddings (addition_embed_type text_time)']);
  if (cross === 1024 || unet.use_linear_projection === true || configs.textEncoder.hidden_size === 1024) {
    refuse(root, 'sd2', [...evidence, 'OpenCLIP-sized text encoder or linear projections']);
  }
  if (inChannels === 9 || inpaintPipeline) refuse(root, 'sd1-inpainting', evidence);
  if (inChannels === 8) refuse(root, 'sd1-instruct-pix2pix', evidence);
  const scheduler = readJsonIfPresent(join(root, 'scheduler', 'scheduler_config.json'));
  const prediction = scheduler?.prediction_type === 'v_prediction' ? 'v_prediction' : scheduler?.prediction_type === 'epsilon' ? 'epsilon' : 'unknown';
  if (prediction === 'v_prediction') {
    throw new UserError(
      'unsupported',
      `${root} is trained for v-prediction (scheduler/scheduler_config.json: prediction_type = v_prediction). Only noise-prediction (epsilon) models are supported today.`,
      'Import a regular SD1.x model.',
    );
  }
  return Object.freeze({ family: 'sd1', evidence: Object.freeze(evidence), crossAttentionDim: cross, unetInChannels: inChannels, prediction, hasEma: false });
}

function refuse(root: string, family: CheckpointFamily, evidence: readonly string[]): never {
  throw new UserError(
    'unsupported',
    `${root} looks like a ${familyName(family)} (found: ${evidence.join(', ')}). Only Stable Diffusion 1.x text-to-image models are supported today.`,
    'Import an SD1.x model (for example a Stable Diffusion 1.5 fine-tune).',
  );
}

/** The VAE tensor `name`, under its current or its pre-0.14 diffusers name. */
function vaeTensor(source: WeightSource, name: string): MappedTensor {
  if (source.has(name)) return { name, sourceName: name };
  const old = name
    .replace(/attentions\.0\.to_q\./, 'attentions.0.query.')
    .replace(/attentions\.0\.to_k\./, 'attentions.0.key.')
    .replace(/attentions\.0\.to_v\./, 'attentions.0.value.')
    .replace(/attentions\.0\.to_out\.0\./, 'attentions.0.proj_attn.');
  if (old === name || !source.has(old)) return { name, sourceName: name };
  const shape = source.get(old).shape;
  return { name, sourceName: old, shape: shape.length === 4 ? shape.slice(0, 2) : undefined };
}

/** Opens the safetensors weights of one component folder (one file, a variant, or shards). */
function openComponentWeights(folder: string, component: ComponentName, opened: SafetensorsFile[]): { source: WeightSource; paths: string[] } {
  const stem = WEIGHT_STEMS[component];
  const entries = existsSync(folder) ? readdirSync(folder) : [];
  for (const variant of ['', '.fp16']) {
    const single = `${stem}${variant}.safetensors`;
    if (entries.includes(single)) {
      const path = join(folder, single);
      return { source: openChecked(path, opened), paths: [path] };
    }
    const index = `${stem}${variant}.safetensors.index.json`;
    if (entries.includes(index)) {
      const shards = shardFiles(join(folder, index));
      const paths = shards.map((shard) => join(folder, shard));
      const sources = paths.map((path) => openChecked(path, opened));
      return { source: new CombinedWeights(sources, folder), paths };
    }
  }
  const pickle = entries.find((entry) => PICKLE_EXTENSIONS.has(entry.slice(entry.lastIndexOf('.')).toLowerCase()) && statSync(join(folder, entry)).isFile());
  if (pickle) throw unsafeFileError(join(folder, pickle), 'is the only copy of these weights and is a PyTorch pickle');
  throw new UserError(
    'corrupt-file',
    `${folder} has no ${stem}.safetensors (nor a .fp16 variant or a sharded index).`,
    'The diffusers folder is incomplete; download it again.',
  );
}

function openChecked(path: string, opened: SafetensorsFile[]): SafetensorsFile {
  assertSafetensorsFile(path);
  const file = SafetensorsFile.open(path);
  opened.push(file);
  return file;
}

function shardFiles(indexPath: string): string[] {
  const index = readJsonIfPresent(indexPath);
  const weightMap = index?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null) {
    throw new UserError('corrupt-file', `${indexPath} has no weight_map.`, 'The diffusers folder is damaged; download it again.');
  }
  const shards = [...new Set(Object.values(weightMap as Record<string, unknown>).map(String))].sort();
  for (const shard of shards) {
    if (shard.includes('/') || shard.includes('\\') || shard.startsWith('.')) {
      throw new UserError('corrupt-file', `${indexPath} names the shard '${shard}' outside its folder.`);
    }
  }
  return shards;
}

function readJsonIfPresent(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new UserError('corrupt-file', `${path} is not valid JSON.`, 'The diffusers folder is damaged; download it again.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UserError('corrupt-file', `${path} is not a JSON object.`);
  }
  return parsed as Record<string, unknown>;
}

function closeAll(files: readonly SafetensorsFile[]): void {
  for (const file of files) file.close();
}
