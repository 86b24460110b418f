// The model store: each imported checkpoint, converted once, under `<home>/models/<sha256>/`:
//
//   model.json               the manifest below (written last, inside the temporary folder)
//   unet.safetensors         U-Net weights, diffusers names, stored dtype = manifest.precision
//   unet.onnx                the U-Net graph; its initializers point INTO unet.safetensors (external data)
//   text_encoder.safetensors / text_encoder.onnx
//   tokenizer/               the model's own tokenizer (diffusers folders), else the bundled CLIP vocabulary
//
// VAEs are shared: most SD1.x fine-tunes ship one of a handful of VAEs, so the converted VAE lives in
// `<home>/models/shared/vae-<sha256 of vae.safetensors>/` (vae.safetensors, vae_decoder.onnx,
// vae_encoder.onnx) and models with byte-identical converted VAEs (same weights, same stored precision)
// point at one copy. Removing a model removes its shared VAE only when no other manifest names it.
//
// A model folder appears whole or not at all: the import builds it in `<home>/tmp/import-<pid>-<random>`
// and renames it into place.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { studioPaths } from '../common/paths.ts';
import { UserError } from '../common/errors.ts';
import type { ComponentConfigs } from './component-config.ts';
import type { CheckpointFamily, PredictionType } from './detect.ts';
import type { CheckpointFormat, SourcePrecision } from './opened-checkpoint.ts';

export const MODEL_MANIFEST_FILE = 'model.json';
export const SHARED_DIR = 'shared';
/** Bumped when the stored layout or the graphs change meaning; older models must be re-imported. */
export const STORE_VERSION = 1;

/**
 * Version of the U-Net graph (unet.onnx) a stored model was built with; an older one is rebuilt from the
 * stored weights on first use (refreshStoredUnetGraph), no re-import. 2: upsamplers take the next skip's
 * size, so any multiple of 8 px works.
 */
export const UNET_GRAPH_VERSION = 2;

export type StoredPrecision = 'fp32' | 'fp16';

/** Paths of a component's files, relative to the model's folder. */
export interface StoredComponents {
  readonly unet: { readonly weights: string; readonly graph: string };
  readonly textEncoder: { readonly weights: string; readonly graph: string };
  readonly vae: { readonly weights: string; readonly decoder: string; readonly encoder: string; readonly sha256: string };
}

export interface ModelManifest {
  readonly storeVersion: number;
  /** UNET_GRAPH_VERSION of unet.onnx; absent = 1. */
  readonly unetGraphVersion?: number;
  /** = sha256: the model's id everywhere (library rows, recipes, history). */
  readonly id: string;
  readonly name: string;
  readonly sourcePath: string;
  readonly sourceFormat: CheckpointFormat;
  /** SHA-256 of the file, or for diffusers folders of its weight files (hash.ts documents how). */
  readonly sha256: string;
  /** AUTOMATIC1111's AUTOV2 short hash (first 10 hex digits). */
  readonly shortHash: string;
  readonly architecture: CheckpointFamily;
  readonly prediction: PredictionType;
  /** dtype of the stored float weights; graphs cast them to float32 at session creation when fp16. */
  readonly precision: StoredPrecision;
  readonly sourcePrecision: SourcePrecision;
  /** The configs the graphs were built from (diffusers/transformers config.json fields). */
  readonly configs: ComponentConfigs;
  readonly components: StoredComponents;
  /** 'default' (the studio's bundled CLIP vocabulary) or a folder relative to the model folder. */
  readonly tokenizer: 'default' | string;
  /** Bytes on disk of this model's folder plus its VAE (shared or not). */
  readonly sizeBytes: number;
  /** Findings of detection, for the model's details page. */
  readonly evidence: readonly string[];
  /** Source tensors not used (EMA copies, position_ids, ...), counted. */
  readonly ignoredTensors: number;
  /** ISO 8601. */
  readonly importedAt: string;
}

export function modelDir(home: string, id: string): string {
  return join(studioPaths(home).models, id);
}

export function sharedVaeDir(home: string, vaeSha256: string): string {
  return join(studioPaths(home).models, SHARED_DIR, `vae-${vaeSha256}`);
}

/** The manifest of model `id`, or undefined when it is not in the store. */
export function readModelManifest(home: string, id: string): ModelManifest | undefined {
  const path = join(modelDir(home, id), MODEL_MANIFEST_FILE);
  if (!existsSync(path)) return undefined;
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as ModelManifest;
  } catch {
    throw new UserError('corrupt-file', `The model store entry ${path} is not valid JSON.`, 'Remove the model and import it again.');
  }
  return manifest;
}

/** Every model in the store (folders named by a SHA-256 with a manifest). */
export function listStoredModels(home: string): ModelManifest[] {
  const root = studioPaths(home).models;
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => /^[0-9a-f]{64}$/.test(name))
    .map((id) => readModelManifest(home, id))
    .filter((manifest): manifest is ModelManifest => manifest !== undefined);
}

/** Absolute paths of a stored model's files. */
export function storedModelFiles(home: string, manifest: ModelManifest) {
  const dir = modelDir(home, manifest.id);
  const at = (relativePath: string) => join(dir, relativePath);
  return {
    dir,
    unetWeights: at(manifest.components.unet.weights),
    unet: at(manifest.components.unet.graph),
    textEncoderWeights: at(manifest.components.textEncoder.weights),
    textEncoder: at(manifest.components.textEncoder.graph),
    vaeWeights: at(manifest.components.vae.weights),
    vaeDecoder: at(manifest.components.vae.decoder),
    vaeEncoder: at(manifest.components.vae.encoder),
    tokenizer: manifest.tokenizer === 'default' ? undefined : at(manifest.tokenizer),
  } as const;
}

/**
 * Removes model `id` from the store, and its shared VAE when no other stored model uses it.
 * Returns false when the model was not in the store. (The library row is the caller's to remove.)
 */
export function removeStoredModel(home: string, id: string): boolean {
  const manifest = readModelManifest(home, id);
  const dir = modelDir(home, id);
  if (!existsSync(dir)) return false;
  rmSync(dir, { recursive: true, force: true });
  if (manifest) {
    const vaeUsers = listStoredModels(home).filter((other) => other.components.vae.sha256 === manifest.components.vae.sha256);
    if (vaeUsers.length === 0) rmSync(sharedVaeDir(home, manifest.components.vae.sha256), { recursive: true, force: true });
  }
  return true;
}

/** Total bytes of the files below `path` (hard links counted once per path; fine for one folder). */
export function directorySize(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + directorySize(join(path, name)), 0);
}

/**
 * Removes `<home>/tmp/import-<pid>-*` folders of imports whose process is gone (a crash or a kill during
 * an import leaves its temporary folder; a running import in another process keeps its own).
 */
export function removeStaleImports(home: string): void {
  const temp = studioPaths(home).temp;
  if (!existsSync(temp)) return;
  for (const name of readdirSync(temp)) {
    const match = /^import-(\d+)-[0-9a-f]+$/.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid !== process.pid && !processAlive(pid)) rmSync(join(temp, name), { recursive: true, force: true });
  }
}

/** Whether process `pid` still runs (a temporary folder named after it may still be in use). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
