// Importing a checkpoint converts it once into the model store (model-store.ts documents the layout):
//   1. open it (header only) and refuse what cannot be imported — before spending time on a hash;
//   2. hash it (SHA-256, streamed); a model already in the store is returned as it is (idempotent);
//   3. stream every tensor, one at a time, into per-component safetensors files in diffusers naming and
//      the stored precision (peak memory ≈ the largest tensor, never the checkpoint);
//   4. build the ONNX graphs (app/models) whose initializers reference those bytes in place;
//   5. write model.json and rename the temporary folder into place.
// Cancellation is checked before every tensor and between steps; on cancel or any error the temporary
// folder is removed, so nothing is left behind. A full disk becomes UserError('disk-full').
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, extname, join, resolve } from 'node:path';
import { diskFullError, isDiskFull, writeFileAtomic } from '../common/atomic-write.ts';
import { CancelledError, throwIfCancelled, UserError } from '../common/errors.ts';
import { studioPaths } from '../common/paths.ts';
import type { JobControl } from '../common/progress.ts';
import type { ModelRow } from '../library/models-table.ts';
import { saveComponent } from '../models/compile-component.ts';
import { parseClipTextConfig } from '../models/clip-text-config.ts';
import { parseUnetConfig } from '../models/unet-config.ts';
import { parseVaeConfig } from '../models/vae-config.ts';
import { castFloat, isFloatDType } from '../tensor/cast.ts';
import { SafetensorsFile, SafetensorsWriter } from '../tensor/safetensors.ts';
import type { DType } from '../tensor/tensor.ts';
import type { WeightSource } from '../tensor/weights.ts';
import type { ConfigOverrides } from './component-config.ts';
import { sha256File, sha256Folder, shortHash } from './hash.ts';
import type { ModelManifest, StoredPrecision } from './model-store.ts';
import {
  MODEL_MANIFEST_FILE,
  SHARED_DIR,
  STORE_VERSION,
  UNET_GRAPH_VERSION,
  directorySize,
  listStoredModels,
  modelDir,
  readModelManifest,
  removeStaleImports,
  sharedVaeDir,
  storedModelFiles,
} from './model-store.ts';
import { openCheckpoint, type OpenOptions } from './open-checkpoint.ts';
import type { OpenedCheckpoint } from './opened-checkpoint.ts';

export interface ImportOptions {
  /** The studio home (studioPaths(home).models is the store). */
  readonly home: string;
  /** Display name; default: the file name without extension, or the folder name. */
  readonly name?: string;
  /** Config fields per component (e.g. the model's own unet/config.json for a non-SD1.5-size file). */
  readonly configOverrides?: ConfigOverrides;
  /** Stored dtype of the float weights; default DEFAULT_PRECISION (fp32) — README.md has the measurements. */
  readonly precision?: StoredPrecision;
  /**
   * A tokenizer folder (vocab.json + merges.txt) for a single file that needs one other than the bundled
   * SD1.x CLIP vocabulary (single files carry no tokenizer); ignored for diffusers folders that bring theirs.
   */
  readonly tokenizerDirectory?: string;
  /** Diffusers folders: other component subfolders (an official AFA folder's additional experts). */
  readonly subfolders?: OpenOptions['subfolders'];
  /** The library's models table: when given, the model is registered (upsert) there too. */
  readonly catalog?: { upsert(row: ModelRow): ModelRow };
}

export interface ImportedModel {
  readonly manifest: ModelManifest;
  /** Absolute paths of the stored files. */
  readonly files: ReturnType<typeof storedModelFiles>;
  /** True when the model was already in the store and nothing was converted. */
  readonly alreadyImported: boolean;
  /** The catalog row, when a catalog was given. */
  readonly row?: ModelRow;
}

/**
 * Weights are stored in fp32 unless the caller asks for fp16. Measured on an SD1.5-size checkpoint
 * (README.md): fp16 storage halves the disk (2.0 vs 4.0 GiB) but every session then folds a Cast at
 * creation, which was 35–55 % slower, kept +0.7 GiB of RSS per U-Net session and peaked +2.5 GiB higher
 * while creating it. Sessions are created far more often than models are imported, and an AFA ensemble
 * holds three U-Nets at once, so memory and load time win over disk.
 */
export const DEFAULT_PRECISION: StoredPrecision = 'fp32';

const STORED_DTYPE: Readonly<Record<StoredPrecision, DType>> = { fp32: 'float32', fp16: 'float16' };

export async function importCheckpoint(source: string, options: ImportOptions, control: JobControl = {}): Promise<ImportedModel> {
  const sourcePath = resolve(source);
  const { home } = options;
  removeStaleImports(home);
  const checkpoint = openCheckpoint(sourcePath, { configOverrides: options.configOverrides, ...(options.subfolders ? { subfolders: options.subfolders } : {}) });
  try {
    // Refusals of the graph builders (unsupported config fields) come before any long work.
    const parsed = {
      unet: parseUnetConfig(checkpoint.components.unet.config, `U-Net config of ${sourcePath}`),
      textEncoder: parseClipTextConfig(checkpoint.components.textEncoder.config, `text encoder config of ${sourcePath}`),
      vae: parseVaeConfig(checkpoint.components.vae.config, `VAE config of ${sourcePath}`),
    };
    const sha256 = await hashCheckpoint(checkpoint, control);
    const existing = readModelManifest(home, sha256);
    if (existing) return finish(existing, true, options);

    const precision = options.precision ?? DEFAULT_PRECISION;
    const temp = join(studioPaths(home).temp, `import-${process.pid}-${randomBytes(6).toString('hex')}`);
    let createdVaeDir: string | undefined;
    try {
      mkdirSync(join(temp, 'vae'), { recursive: true });
      await convertWeights(checkpoint, temp, STORED_DTYPE[precision], control);

      const vaeSha256 = await sha256File(join(temp, 'vae', 'vae.safetensors'), control, { phase: 'hash-vae' });
      const vaeDir = sharedVaeDir(home, vaeSha256);
      const reuseVae = existsSync(join(vaeDir, 'vae_decoder.onnx')) && existsSync(join(vaeDir, 'vae_encoder.onnx'));
      const graphTotal = reuseVae ? 2 : 4;
      let graphsDone = 0;
      const graph = (message: string, build: () => void) => {
        throwIfCancelled(control.signal);
        build();
        control.onProgress?.({ phase: 'graphs', done: ++graphsDone, total: graphTotal, unit: 'items', message });
      };
      withStoredWeights(join(temp, 'unet.safetensors'), (weights) =>
        graph('U-Net graph written', () => saveComponent({ kind: 'unet', config: parsed.unet, weights }, temp, { signal: control.signal })),
      );
      withStoredWeights(join(temp, 'text_encoder.safetensors'), (weights) =>
        graph('Text encoder graph written', () => saveComponent({ kind: 'text-encoder', config: parsed.textEncoder, weights }, temp, { signal: control.signal })),
      );
      if (reuseVae) rmSync(join(temp, 'vae'), { recursive: true, force: true });
      else {
        withStoredWeights(join(temp, 'vae', 'vae.safetensors'), (weights) => {
          graph('VAE decoder graph written', () => saveComponent({ kind: 'vae-decoder', config: parsed.vae, weights }, join(temp, 'vae'), { signal: control.signal }));
          graph('VAE encoder graph written', () => saveComponent({ kind: 'vae-encoder', config: parsed.vae, weights }, join(temp, 'vae'), { signal: control.signal }));
        });
      }
      const tokenizer = copyTokenizer(
        checkpoint.tokenizer.kind === 'default' && options.tokenizerDirectory ? { kind: 'folder', path: options.tokenizerDirectory } : checkpoint.tokenizer,
        temp,
      );
      throwIfCancelled(control.signal);

      const vaeRelative = `../${SHARED_DIR}/vae-${vaeSha256}`;
      const manifest: ModelManifest = {
        storeVersion: STORE_VERSION,
        unetGraphVersion: UNET_GRAPH_VERSION,
        id: sha256,
        name: options.name ?? defaultName(sourcePath),
        sourcePath,
        sourceFormat: checkpoint.format,
        sha256,
        shortHash: shortHash(sha256),
        architecture: checkpoint.detection.family,
        prediction: checkpoint.detection.prediction,
        precision,
        sourcePrecision: checkpoint.sourcePrecision,
        configs: {
          unet: checkpoint.components.unet.config,
          textEncoder: checkpoint.components.textEncoder.config,
          vae: checkpoint.components.vae.config,
        },
        components: {
          unet: { weights: 'unet.safetensors', graph: 'unet.onnx' },
          textEncoder: { weights: 'text_encoder.safetensors', graph: 'text_encoder.onnx' },
          vae: {
            weights: `${vaeRelative}/vae.safetensors`,
            decoder: `${vaeRelative}/vae_decoder.onnx`,
            encoder: `${vaeRelative}/vae_encoder.onnx`,
            sha256: vaeSha256,
          },
        },
        tokenizer,
        sizeBytes: directorySize(temp) + (reuseVae ? directorySize(vaeDir) : 0),
        evidence: checkpoint.detection.evidence,
        ignoredTensors: checkpoint.ignoredTensors.length,
        importedAt: new Date().toISOString(),
      };
      writeFileAtomic(join(temp, MODEL_MANIFEST_FILE), new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
      throwIfCancelled(control.signal);

      // Commit: the shared VAE first (a model never points at a missing VAE), then the model folder.
      if (!reuseVae) {
        if (moveIntoPlace(join(temp, 'vae'), vaeDir)) createdVaeDir = vaeDir;
        // A concurrent import placed the same VAE first: its copy is identical, drop ours.
        else rmSync(join(temp, 'vae'), { recursive: true, force: true });
      }
      if (!moveIntoPlace(temp, modelDir(home, sha256))) {
        // Another import of the same checkpoint finished first: use its result.
        rmSync(temp, { recursive: true, force: true });
        const winner = readModelManifest(home, sha256);
        if (winner) return finish(winner, true, options);
      }
      createdVaeDir = undefined;
      return finish(manifest, false, options);
    } catch (error) {
      rmSync(temp, { recursive: true, force: true });
      if (createdVaeDir && !listStoredModels(home).some((model) => createdVaeDir === sharedVaeDir(home, model.components.vae.sha256))) {
        rmSync(createdVaeDir, { recursive: true, force: true });
      }
      if (isDiskFull(error)) throw diskFullError(studioPaths(home).models);
      throw error;
    }
  } finally {
    checkpoint.close();
  }
}

async function hashCheckpoint(checkpoint: OpenedCheckpoint, control: JobControl): Promise<string> {
  if (checkpoint.format === 'single-file') return sha256File(checkpoint.path, control);
  const sizes = checkpoint.weightFiles.map((file) => statSync(file).size);
  return sha256Folder(checkpoint.path, checkpoint.weightFiles, sizes, control);
}

/**
 * Streams the three components into `<temp>/unet.safetensors`, `<temp>/text_encoder.safetensors` and
 * `<temp>/vae/vae.safetensors`, one tensor at a time, float tensors cast to `dtype`.
 */
async function convertWeights(checkpoint: OpenedCheckpoint, temp: string, dtype: DType, control: JobControl): Promise<void> {
  const jobs: { readonly path: string; readonly weights: WeightSource; readonly label: string }[] = [
    { path: join(temp, 'unet.safetensors'), weights: checkpoint.components.unet.weights, label: 'U-Net' },
    { path: join(temp, 'text_encoder.safetensors'), weights: checkpoint.components.textEncoder.weights, label: 'text encoder' },
    { path: join(temp, 'vae', 'vae.safetensors'), weights: checkpoint.components.vae.weights, label: 'VAE' },
  ];
  const total = jobs.reduce((sum, job) => sum + job.weights.names().length, 0);
  let done = 0;
  for (const job of jobs) {
    const names = job.weights.names();
    const storedDtype = (name: string): DType => {
      const source = job.weights.get(name).dtype;
      return isFloatDType(source) ? dtype : source;
    };
    const writer = new SafetensorsWriter(
      job.path,
      names.map((name) => ({ name, dtype: storedDtype(name), shape: job.weights.get(name).shape })),
      { control: { signal: control.signal } },
    );
    try {
      for (const name of names) {
        // Yield to the event loop so a cancel request (or the UI) gets through between tensors.
        await new Promise<void>((resolveTick) => setImmediate(resolveTick));
        if (control.signal?.aborted) throw new CancelledError();
        const tensor = job.weights.get(name).read();
        writer.write(name, isFloatDType(tensor.dtype) && tensor.dtype !== dtype ? castFloat(tensor, dtype as 'float32' | 'float16') : tensor);
        control.onProgress?.({ phase: 'convert', done: ++done, total, unit: 'tensors', message: `Converting the ${job.label}: ${name}` });
      }
      writer.commit();
    } catch (error) {
      writer.abort();
      throw error;
    }
  }
}

/**
 * Rebuilds the U-Net graph of a model imported by an older studio (its unet.onnx predates
 * UNET_GRAPH_VERSION) from its stored weights and config, and records the new version in its manifest.
 * Returns the manifest to use. Cheap: the graph references unet.safetensors in place.
 */
export function refreshStoredUnetGraph(home: string, manifest: ModelManifest): ModelManifest {
  if ((manifest.unetGraphVersion ?? 1) >= UNET_GRAPH_VERSION) return manifest;
  const files = storedModelFiles(home, manifest);
  const config = parseUnetConfig(manifest.configs.unet, `U-Net config of '${manifest.name}'`);
  withStoredWeights(files.unetWeights, (weights) => saveComponent({ kind: 'unet', config, weights }, files.dir));
  const refreshed: ModelManifest = { ...manifest, unetGraphVersion: UNET_GRAPH_VERSION };
  writeFileAtomic(join(files.dir, MODEL_MANIFEST_FILE), new TextEncoder().encode(`${JSON.stringify(refreshed, null, 2)}\n`));
  return refreshed;
}

/** Opens a stored component file for the graph builders (regions point into it) and closes it after. */
function withStoredWeights(path: string, use: (weights: SafetensorsFile) => void): void {
  const file = SafetensorsFile.open(path);
  try {
    use(file);
  } finally {
    file.close();
  }
}

/** Copies the folder's tokenizer files into `<temp>/tokenizer`; returns the manifest's tokenizer entry. */
function copyTokenizer(source: OpenedCheckpoint['tokenizer'], temp: string): string {
  if (source.kind === 'default') return 'default';
  if (!existsSync(join(source.path, 'vocab.json')) || !existsSync(join(source.path, 'merges.txt'))) {
    throw new UserError('not-found', `The tokenizer folder ${source.path} needs vocab.json and merges.txt.`);
  }
  const target = join(temp, 'tokenizer');
  mkdirSync(target);
  for (const name of readdirSync(source.path)) {
    const from = join(source.path, name);
    if (statSync(from).isFile()) copyFileSync(from, join(target, name));
  }
  return 'tokenizer';
}

/** Renames `from` to `to`; false when `to` already exists (someone else put it there first). */
function moveIntoPlace(from: string, to: string): boolean {
  mkdirSync(join(to, '..'), { recursive: true });
  try {
    renameSync(from, to);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM') && existsSync(to)) return false;
    throw error;
  }
}

function finish(manifest: ModelManifest, alreadyImported: boolean, options: ImportOptions): ImportedModel {
  const files = storedModelFiles(options.home, manifest);
  const row = options.catalog?.upsert({
    id: manifest.id,
    name: manifest.name,
    sourcePath: manifest.sourcePath,
    sha256: manifest.sha256,
    shortHash: manifest.shortHash,
    architecture: manifest.architecture,
    precision: manifest.precision,
    sizeBytes: manifest.sizeBytes,
    storeDir: files.dir,
    components: {
      unet: files.unet,
      textEncoder: files.textEncoder,
      vaeDecoder: files.vaeDecoder,
      vaeEncoder: files.vaeEncoder,
      tokenizer: files.tokenizer ?? 'default',
    },
    addedAt: Date.parse(manifest.importedAt),
    lastUsedAt: null,
  });
  return { manifest, files, alreadyImported, ...(row ? { row } : {}) };
}

function defaultName(sourcePath: string): string {
  const name = basename(sourcePath);
  return extname(name).toLowerCase() === '.safetensors' ? name.slice(0, -'.safetensors'.length) : name;
}
