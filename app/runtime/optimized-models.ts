// The optimized-model cache: onnxruntime's optimized graph of a model, saved once and loaded instead of
// the model on later session creations.
//
// Why: creating the CPU session of an SD1.5-size U-Net (3.4 GB fp32) took 46 s here, of which ≈ 30 s went
// to the NCHWc layout transformer (reordered copies of every conv filter), ≈ 6 s to constant folding
// (transposed copies of the linear weights) and ≈ 5 s to prepacking the MatMul weights — each a fresh
// multi-GB copy, and fresh memory is what costs on virtual machines (page faults). Reading the weights
// themselves is ≈ 0.2 s: onnxruntime memory-maps external data. onnxruntime can write the optimized graph
// (`optimizedModelFilePath`) with its transformed weights in an external file
// (`session.optimized_model_external_initializers_file_name`); loading that file skips the transformers and
// maps the transformed weights from the page cache. Only the MatMul weights are still packed at each load
// (into memory: packed blobs mapped from the file made steps slower, see onnx-runtime.ts). bench/load.ts
// has the numbers.
//
// Conv filters are not mapped: onnxruntime's conv kernels read them in place, and on a 2-core AMD EPYC
// (AVX-512) the convs of an SD1.5 U-Net whose filters were mapped from the page cache took 865 ms per
// step against 669 ms with the same filters in the process's own memory (onnxruntime's profile; MatMul
// equal), so cached steps cost 15–29 % more CPU than uncached ones. The entry therefore makes each conv
// filter stored in its weights file a graph input (`resident` in entry.json: name, type, shape and place
// in the file); the session reads them into its own memory at load and feeds them at every run
// (onnx-runtime.ts). The outputs are bit-identical, the steps of a cached graph take as long as an
// uncached one's again (CPU ratio 0.99–1.01), and the reads cost load time: warm loads of the U-Net took
// 2.4 → 3.2 s, of the 3-expert AFA graph 8.5 → 12.3 s (fresh memory for 2.4 and 6.6 GB of filters).
//
// An entry is `<root>/<key>/` holding model.onnx, model.weights and entry.json (written last). The key is
// a SHA-256 of everything the optimized graph depends on: this format's version, the onnxruntime version,
// the provider, the session options that change the graph, the CPU (the NCHWc block size and packed
// layouts follow its instruction set: onnxruntime warns that such a model belongs to the machine that
// wrote it), the model file's bytes and the identity of every weights file it references (size, mtime,
// inode: hashing gigabytes at each load would cost seconds). An entry is built in a `.tmp-` folder and
// renamed into place, so it appears whole or not at all; one that fails its checks (missing or resized
// file, another onnxruntime version, a model file whose hash changed) or that onnxruntime cannot load is
// removed and rebuilt without a word to the user (the runtime log says so). Building an entry removes
// the entries of the same source model that a change made stale, and those of models that are gone.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { join, resolve } from 'node:path';
import { dtypeOfOnnx } from '../onnx/graph.ts';
import { onnx } from '../onnx/model-proto.ts';
import { readWeightsIndex } from '../onnx/serialize.ts';
import type { DType } from '../tensor/tensor.ts';

/** Bump when the entry layout or the options it is built with change: older entries are then rebuilt. */
export const OPTIMIZED_CACHE_FORMAT = 3;

export const OPTIMIZED_MODEL_FILE = 'model.onnx';
export const OPTIMIZED_WEIGHTS_FILE = 'model.weights';
const ENTRY_FILE = 'entry.json';

/** What an entry is for, besides its key. */
export interface OptimizedModelIdentity {
  /** The entry's folder name (hex SHA-256). */
  readonly key: string;
  /** Absolute path of the model it was built from. */
  readonly source: string;
  readonly onnxruntime: string;
  readonly backend: string;
  /**
   * Hash of the provider and graph options: entries of one source with the same variant but another key
   * are stale (the model, its weights, the CPU or onnxruntime changed); other variants are kept.
   */
  readonly variant: string;
}

/**
 * A weight of the entry that its graph takes as an input: the session reads it from the entry's weights
 * file into its own memory at load and feeds it at every run.
 */
export interface ResidentWeight {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly number[];
  /** Byte offset and length in OPTIMIZED_WEIGHTS_FILE. */
  readonly offset: number;
  readonly length: number;
}

/** A usable entry: its model file and the weights its graph takes as inputs. */
export interface OptimizedModel {
  readonly modelFile: string;
  readonly weightsFile: string;
  readonly resident: readonly ResidentWeight[];
}

/** Data types a resident weight may have (the CPU provider's float weights). */
const RESIDENT_DTYPES: ReadonlySet<DType> = new Set(['float32', 'float16']);

interface EntryFile {
  readonly format: number;
  readonly key: string;
  readonly source: string;
  readonly onnxruntime: string;
  readonly backend: string;
  readonly variant: string;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly files: { readonly model: { readonly size: number; readonly sha256: string }; readonly weights: { readonly size: number } };
  readonly resident: readonly ResidentWeight[];
}

/**
 * The CPU's identity for the key: architecture, model name and (Linux) the instruction-set flags, which
 * decide the NCHWc block size (8 with AVX2, 16 with AVX-512) and the kernels' packed layouts.
 */
export function cpuFingerprint(): string {
  let flags = '';
  if (platform() === 'linux') {
    try {
      flags = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((line) => /^(flags|Features)\s*:/.test(line)) ?? '';
    } catch {
      // /proc unreadable: the model name alone
    }
  }
  return `${arch()} ${cpus()[0]?.model ?? 'unknown cpu'} ${createHash('sha256').update(flags).digest('hex').slice(0, 16)}`;
}

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The entry key of `modelPath` under these settings. `graphOptions` is every session option that can
 * change the optimized graph or its saved weights (level, prepacking, config entries), as plain JSON.
 */
export function optimizedModelKey(
  modelPath: string,
  settings: { readonly onnxruntime: string; readonly backend: string; readonly graphOptions: unknown; readonly cpu?: string },
): OptimizedModelIdentity {
  const source = resolve(modelPath);
  const weights = [...new Set([...readWeightsIndex(source).entries.values()].map((entry) => entry.file))].sort().map((file) => {
    const stat = statSync(file);
    return { file, size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, dev: stat.dev };
  });
  const identity = {
    format: OPTIMIZED_CACHE_FORMAT,
    onnxruntime: settings.onnxruntime,
    backend: settings.backend,
    graphOptions: settings.graphOptions,
    cpu: settings.cpu ?? cpuFingerprint(),
    model: sha256(readFileSync(source)),
    weights,
  };
  const variant = sha256(JSON.stringify({ backend: settings.backend, graphOptions: settings.graphOptions })).slice(0, 16);
  return { key: sha256(JSON.stringify(identity)), source, onnxruntime: settings.onnxruntime, backend: settings.backend, variant };
}

/** Why the entry cannot be used, or undefined when it can. */
function entryProblem(dir: string, identity: OptimizedModelIdentity): string | undefined {
  let entry: EntryFile;
  try {
    entry = JSON.parse(readFileSync(join(dir, ENTRY_FILE), 'utf8')) as EntryFile;
  } catch {
    return 'its entry.json is missing or unreadable';
  }
  if (entry.format !== OPTIMIZED_CACHE_FORMAT) return `it has format ${entry.format}, this studio writes ${OPTIMIZED_CACHE_FORMAT}`;
  // The key covers the version too; this also refuses a folder copied or renamed from another version's.
  if (entry.onnxruntime !== identity.onnxruntime) return `it was written by onnxruntime ${entry.onnxruntime}, this is ${identity.onnxruntime}`;
  if (entry.key !== identity.key || entry.backend !== identity.backend) return 'it belongs to another model or provider';
  try {
    const model = readFileSync(join(dir, OPTIMIZED_MODEL_FILE));
    if (model.length !== entry.files.model.size || sha256(model) !== entry.files.model.sha256) return 'its model file changed';
    if (statSync(join(dir, OPTIMIZED_WEIGHTS_FILE)).size !== entry.files.weights.size) return 'its weights file has the wrong size';
  } catch {
    return 'a file is missing';
  }
  if (!Array.isArray(entry.resident) || entry.resident.some((weight) => !(weight.offset >= 0 && weight.length > 0 && weight.offset + weight.length <= entry.files.weights.size))) {
    return 'its resident weights do not fit its weights file';
  }
  return undefined;
}

function optimizedModelAt(dir: string): OptimizedModel {
  const entry = JSON.parse(readFileSync(join(dir, ENTRY_FILE), 'utf8')) as EntryFile;
  return { modelFile: join(dir, OPTIMIZED_MODEL_FILE), weightsFile: join(dir, OPTIMIZED_WEIGHTS_FILE), resident: entry.resident };
}

/**
 * The cached optimized model for `identity`, or undefined when there is none; an entry that fails its
 * checks is removed and `onDiscard` told why.
 */
export function findOptimizedModel(root: string, identity: OptimizedModelIdentity, onDiscard?: (reason: string) => void): OptimizedModel | undefined {
  const dir = join(root, identity.key);
  if (!existsSync(dir)) return undefined;
  const problem = entryProblem(dir, identity);
  if (problem === undefined) return optimizedModelAt(dir);
  onDiscard?.(problem);
  discardOptimizedModel(root, identity);
  return undefined;
}

/**
 * Makes every conv filter that `modelFile` keeps in OPTIMIZED_WEIGHTS_FILE an input of its graph
 * (rewriting the file) and returns where each one lies. A filter shared by several convs becomes one input.
 */
export function residentConvFilters(modelFile: string): ResidentWeight[] {
  const model = onnx.ModelProto.decode(readFileSync(modelFile));
  const graph = model.graph;
  if (!graph) return [];
  const initializers = new Map((graph.initializer ?? []).map((tensor) => [tensor.name ?? '', tensor]));
  const resident = new Map<string, ResidentWeight>();
  for (const node of graph.node ?? []) {
    const name = node.opType === 'Conv' ? node.input?.[1] : undefined;
    const tensor = name === undefined ? undefined : initializers.get(name);
    if (name === undefined || !tensor || resident.has(name) || tensor.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const field = (key: string) => tensor.externalData?.find((entry) => entry.key === key)?.value;
    const dtype = dtypeOfOnnx(tensor.dataType ?? 0);
    if (field('location') !== OPTIMIZED_WEIGHTS_FILE || dtype === undefined || !RESIDENT_DTYPES.has(dtype)) continue;
    const dims = (tensor.dims ?? []).map(Number);
    resident.set(name, { name, dtype, dims, offset: Number(field('offset') ?? 0), length: Number(field('length')) });
  }
  if (resident.size === 0) return [];
  graph.initializer = (graph.initializer ?? []).filter((tensor) => !resident.has(tensor.name ?? ''));
  const inputs = [...resident.keys()].map((name) => {
    const tensor = initializers.get(name)!;
    return { name, type: { tensorType: { elemType: tensor.dataType, shape: { dim: (tensor.dims ?? []).map((dim) => ({ dimValue: dim })) } } } };
  });
  graph.input = [...(graph.input ?? []), ...inputs];
  writeFileSync(modelFile, onnx.ModelProto.encode(model).finish());
  return [...resident.values()];
}

/** Removes the entry of `identity` (e.g. one onnxruntime could not load). */
export function discardOptimizedModel(root: string, identity: OptimizedModelIdentity): void {
  removeQuietly(join(root, identity.key));
}

/**
 * Builds the entry of `identity`: `write(modelFile)` must make onnxruntime write the optimized model to
 * `modelFile` with its weights in OPTIMIZED_WEIGHTS_FILE beside it; its conv filters then become inputs
 * (residentConvFilters). Written in a temporary folder and renamed into place; on any failure nothing is
 * left. Returns the entry.
 */
export async function buildOptimizedModel(root: string, identity: OptimizedModelIdentity, write: (modelFile: string) => Promise<void>): Promise<OptimizedModel> {
  mkdirSync(root, { recursive: true });
  const temp = join(root, `.tmp-${identity.key.slice(0, 16)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const dir = join(root, identity.key);
  try {
    mkdirSync(temp);
    await write(join(temp, OPTIMIZED_MODEL_FILE));
    const resident = residentConvFilters(join(temp, OPTIMIZED_MODEL_FILE));
    const model = readFileSync(join(temp, OPTIMIZED_MODEL_FILE));
    const weights = existsSync(join(temp, OPTIMIZED_WEIGHTS_FILE)) ? statSync(join(temp, OPTIMIZED_WEIGHTS_FILE)).size : undefined;
    // A model with no initializer over the external-data threshold writes no weights file; keep the layout fixed.
    if (weights === undefined) writeFileSync(join(temp, OPTIMIZED_WEIGHTS_FILE), new Uint8Array(0));
    const entry: EntryFile = {
      format: OPTIMIZED_CACHE_FORMAT,
      key: identity.key,
      source: identity.source,
      onnxruntime: identity.onnxruntime,
      backend: identity.backend,
      variant: identity.variant,
      createdAt: new Date().toISOString(),
      files: { model: { size: model.length, sha256: sha256(model) }, weights: { size: weights ?? 0 } },
      resident,
    };
    writeFileSync(join(temp, ENTRY_FILE), JSON.stringify(entry, null, 2));
    removeQuietly(dir); // a damaged entry under this key
    try {
      renameSync(temp, dir);
    } catch (error) {
      // Another process finished the same entry first (the target exists and is not empty): use theirs.
      if (!existsSync(join(dir, ENTRY_FILE))) throw error;
      removeQuietly(temp);
    }
  } catch (error) {
    removeQuietly(temp);
    throw error;
  }
  pruneOptimizedModels(root, identity);
  return optimizedModelAt(dir);
}

/**
 * Removes entries that can no longer be used: other keys of the same source model and variant (the
 * model, its weights or the onnxruntime version changed), entries whose source is gone, and temporary folders of
 * processes that no longer run. Folders in use elsewhere that cannot be removed (Windows) stay.
 */
export function pruneOptimizedModels(root: string, keep?: OptimizedModelIdentity): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(root, name);
    const temp = /^\.tmp-[0-9a-f]+-(\d+)-/.exec(name);
    if (temp) {
      if (!processRuns(Number(temp[1]))) removeQuietly(dir);
      continue;
    }
    if (name === keep?.key || !/^[0-9a-f]{64}$/.test(name)) continue;
    let entry: EntryFile | undefined;
    try {
      entry = JSON.parse(readFileSync(join(dir, ENTRY_FILE), 'utf8')) as EntryFile;
    } catch {
      entry = undefined; // damaged or half removed: nothing will ever find it
    }
    const stale = entry !== undefined && entry.source === keep?.source && entry.variant === keep.variant;
    if (entry?.source === undefined || stale || !existsSync(entry.source)) removeQuietly(dir);
  }
}

function processRuns(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeQuietly(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // in use (Windows maps files it loaded): left for a later prune
  }
}
