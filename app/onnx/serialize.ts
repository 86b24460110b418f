// Saving graphs as ONNX models with external weights.
//
// A save writes `<dir>/<modelFile>` for each graph plus at most one weights file `<dir>/<weightsFile>`
// holding every weight that is not referenced elsewhere, each tensor at an offset aligned to
// WEIGHT_ALIGNMENT bytes. A weight's bytes are referenced where they already are, without a copy, when
//  - its LazyTensor has a `region` (bytes in a file, e.g. a safetensors checkpoint) and is stored in
//    its own dtype, or
//  - it is listed in `sharedWeights` (a WeightsIndex from an earlier save or from readWeightsIndex).
// Initializers under INLINE_LIMIT bytes are written inline in the model. Everything is written to
// temporary siblings first and renamed into place only when all of it succeeded: a failed or cancelled
// save leaves no files behind.
import { constants, copyFileSync, closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { createHash } from 'node:crypto';
import { CancelledError, UserError } from '../common/errors.ts';
import { diskFullError, isDiskFull, temporarySibling } from '../common/atomic-write.ts';
import type { JobControl } from '../common/progress.ts';
import type { DType } from '../tensor/tensor.ts';
import type { Graph, Value, WeightInitializer } from './graph.ts';
import { byteLengthOf, describeValue, dtypeOfOnnx } from './graph.ts';
import type { InitializerData } from './model-proto.ts';
import type onnxProto from 'onnx-proto';
import { encodeModel, externalInitializers, reachable } from './model-proto.ts';
import { storedBytes } from './stored-bytes.ts';

/**
 * Offsets of tensors written into a weights file are multiples of this many bytes. 4096 is the page
 * size on Linux/macOS-x64, so onnxruntime can memory-map each tensor without an offset fix-up; the
 * padding costs < 4 KiB per tensor (≈ 5 MB for a whole SD 1.x checkpoint).
 */
export const WEIGHT_ALIGNMENT = 4096;

/** Initializers smaller than this many bytes are stored inline in the model file. */
export const INLINE_LIMIT = 1024;

/** One tensor inside a weights file. */
export interface WeightEntry {
  readonly name: string;
  /** The dtype as stored (after any storeAs conversion). */
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Absolute path of the file that holds the bytes. */
  readonly file: string;
  readonly offset: number;
  readonly length: number;
}

/** Where the weights of saved models are, by initializer name; pass it as `sharedWeights` to reuse them. */
export interface WeightsIndex {
  readonly entries: ReadonlyMap<string, WeightEntry>;
}

export interface SaveOptions extends JobControl {
  readonly dir: string;
  /**
   * File name (inside `dir`) for the weights this save has to write. May be omitted when every weight is
   * referenced in place; must not be a file the saved models reference (that would overwrite it).
   * Replacing an existing weights file invalidates other models in `dir` that point into it: save the
   * graphs that share a weights file together (saveModels), or reference it with `sharedWeights`.
   */
  readonly weightsFile?: string;
  /** Weights that already live in files: referenced by name, never written again. */
  readonly sharedWeights?: WeightsIndex;
}

export interface SavedModels {
  readonly modelPaths: readonly string[];
  /** The weights file written, if any weights had to be written. */
  readonly weightsPath?: string;
  /** Every external weight the saved models reference (in place, shared or written now). */
  readonly weights: WeightsIndex;
}

export interface SavedModel {
  readonly modelPath: string;
  readonly weightsPath?: string;
  readonly weights: WeightsIndex;
}

/** Saves one graph as `<dir>/<modelFile>` (+ `<dir>/<weightsFile>`). See saveModels. */
export function saveModel(graph: Graph, options: SaveOptions & { readonly modelFile: string }): SavedModel {
  const saved = saveModels([{ graph, modelFile: options.modelFile }], options);
  return { modelPath: saved.modelPaths[0], weightsPath: saved.weightsPath, weights: saved.weights };
}

/**
 * Reads the external weights a saved model references, to reuse them as `sharedWeights`. `model` is
 * the model already decoded, for callers that read more of it (the file is then not read again).
 */
export function readWeightsIndex(modelPath: string, model?: onnxProto.onnx.IModelProto): WeightsIndex {
  const entries = new Map<string, WeightEntry>();
  for (const init of externalInitializers(model ?? readFileSync(modelPath))) {
    const dtype = dtypeOfOnnx(init.dataType);
    if (!dtype) throw new UserError('unsupported', `Model ${modelPath} has initializer '${init.name}' of ONNX data type ${init.dataType}.`);
    const file = resolve(dirname(modelPath), init.location);
    entries.set(init.name, { name: init.name, dtype, shape: init.dims, file, offset: init.offset, length: init.length });
  }
  return { entries };
}

interface Planned {
  readonly data: Map<string, InitializerData>;
  readonly toWrite: { readonly init: WeightInitializer; readonly offset: number; readonly length: number }[];
  readonly entries: Map<string, WeightEntry>;
  readonly referencedFiles: Set<string>;
  readonly linkRequests: Map<string, string>;
}

/**
 * Saves several graphs into one directory sharing one weights file (e.g. the whole U-Net and its
 * lock-step layer graphs): the union of their weights is written once. Progress is reported in bytes
 * of weights written (phase 'save-weights'); cancellation is checked between tensors.
 */
export function saveModels(models: readonly { readonly graph: Graph; readonly modelFile: string }[], options: SaveOptions): SavedModels {
  const dir = resolve(options.dir);
  const names = new Set<string>();
  for (const { graph, modelFile } of models) {
    checkFileName(modelFile, 'model file');
    if (names.has(modelFile)) throw new UserError('invalid-argument', `Two graphs would both be saved as '${modelFile}'.`);
    names.add(modelFile);
    if (graph.outputs.length === 0) throw new UserError('invalid-argument', `Graph '${graph.name}' has no outputs; call graph.output(value) first.`);
  }
  if (options.weightsFile !== undefined) {
    checkFileName(options.weightsFile, 'weights file');
    if (names.has(options.weightsFile)) throw new UserError('invalid-argument', `'${options.weightsFile}' cannot be both a model and the weights file.`);
  }
  const weightsPath = options.weightsFile === undefined ? undefined : join(dir, options.weightsFile);
  const plan = planWeights(models.map((model) => model.graph), dir, weightsPath, options.sharedWeights);
  if (plan.toWrite.length > 0 && weightsPath === undefined) {
    const listed = plan.toWrite.slice(0, 5).map((item) => `'${item.init.value.name}'`).join(', ') + (plan.toWrite.length > 5 ? ', …' : '');
    throw new UserError(
      'invalid-argument',
      `${plan.toWrite.length} weight(s) (${listed}) are in no existing file and no weightsFile was given to write them to.`,
      'Pass weightsFile, or sharedWeights that contain them.',
    );
  }
  if (weightsPath !== undefined && plan.referencedFiles.has(weightsPath) && plan.toWrite.length > 0) {
    throw new UserError('conflict', `The weights file ${weightsPath} is referenced in place by these models and cannot also be rewritten.`, 'Save the new weights under another weightsFile name.');
  }

  const created: string[] = [];
  const temps: string[] = [];
  const renamed: string[] = [];
  let createdDir: string | undefined;
  try {
    // mkdirSync returns the topmost directory it had to create (undefined when `dir` existed).
    createdDir = mkdirSync(dir, { recursive: true });
    for (const [linkPath, target] of plan.linkRequests) {
      if (linkInto(linkPath, target)) created.push(linkPath);
    }
    let writtenWeights: string | undefined;
    if (plan.toWrite.length > 0 && weightsPath !== undefined) {
      writtenWeights = temporarySibling(weightsPath);
      temps.push(writtenWeights);
      writeWeights(writtenWeights, plan.toWrite, options);
    }
    const modelTemps = models.map(({ graph, modelFile }) => {
      const target = join(dir, modelFile);
      const temp = temporarySibling(target);
      temps.push(temp);
      writeWhole(temp, encodeModel(graph, plan.data));
      return { temp, target };
    });
    if (options.signal?.aborted) throw new CancelledError();
    // Weights first: a model never appears without the weights it points at.
    if (writtenWeights !== undefined && weightsPath !== undefined) {
      renameSync(writtenWeights, weightsPath);
      renamed.push(weightsPath);
    }
    for (const { temp, target } of modelTemps) {
      renameSync(temp, target);
      renamed.push(target);
    }
    return {
      modelPaths: modelTemps.map((model) => model.target),
      weightsPath: writtenWeights !== undefined ? weightsPath : undefined,
      weights: { entries: plan.entries },
    };
  } catch (error) {
    for (const path of [...temps, ...renamed, ...created]) rmSync(path, { force: true });
    if (createdDir !== undefined) rmSync(createdDir, { recursive: true, force: true });
    if (isDiskFull(error)) throw diskFullError(dir);
    throw error;
  }
}

function checkFileName(name: string, what: string): void {
  if (!name || name !== basename(name) || name.startsWith('.tmp-')) {
    throw new UserError('invalid-argument', `The ${what} name '${name}' must be a plain file name inside the save directory.`);
  }
}

/** Decides, for every weight the graphs need, whether it is inline, referenced in place, or written. */
function planWeights(graphs: readonly Graph[], dir: string, weightsPath: string | undefined, shared: WeightsIndex | undefined): Planned {
  const plan: Planned = { data: new Map(), toWrite: [], entries: new Map(), referencedFiles: new Set(), linkRequests: new Map() };
  let offset = 0;
  const plannedValues = new Map<string, Value>();
  for (const graph of graphs) {
    const { values } = reachable(graph);
    for (const init of graph.initializers) {
      if (init.kind !== 'weight' || !values.has(init.value.name)) continue;
      const { value, source } = init;
      const planned = plannedValues.get(value.name);
      if (planned) {
        // Graphs saved together share weights by name, so one name must mean one tensor.
        if (planned.dtype !== value.dtype || planned.shape?.join() !== value.shape?.join()) {
          throw new UserError('conflict', `Weight '${value.name}' is ${describeValue(planned)} in one graph and ${describeValue(value)} in another; graphs saved together must agree.`);
        }
        continue;
      }
      plannedValues.set(value.name, value);
      const length = byteLengthOf(value.dtype, source.shape);
      const sharedEntry = shared?.entries.get(value.name);
      if (sharedEntry) {
        const same = sharedEntry.dtype === value.dtype && sharedEntry.length === length && sharedEntry.shape.join() === source.shape.join();
        if (!same) {
          throw new UserError(
            'mismatch',
            `Weight ${describeValue(value)} does not match the shared weights file's '${sharedEntry.name}' ${sharedEntry.dtype} [${sharedEntry.shape.join(', ')}] in ${sharedEntry.file}.`,
          );
        }
        reference(plan, dir, sharedEntry);
      } else if (length < INLINE_LIMIT) {
        plan.data.set(value.name, { kind: 'inline', bytes: storedBytes(source.read(), value.dtype) });
      } else if (source.region && source.dtype === value.dtype) {
        if (source.region.length !== length) {
          throw new UserError('corrupt-file', `Weight '${value.name}' needs ${length} bytes but its file region in ${source.region.path} has ${source.region.length}.`);
        }
        reference(plan, dir, { name: value.name, dtype: value.dtype, shape: source.shape, file: resolve(source.region.path), offset: source.region.offset, length });
      } else {
        offset = alignUp(offset, WEIGHT_ALIGNMENT);
        plan.toWrite.push({ init, offset, length });
        plan.entries.set(value.name, { name: value.name, dtype: value.dtype, shape: source.shape, file: weightsPath ?? '', offset, length });
        plan.data.set(value.name, { kind: 'external', location: weightsPath ? basename(weightsPath) : '', offset, length });
        offset += length;
      }
    }
  }
  return plan;
}

function reference(plan: Planned, dir: string, entry: WeightEntry): void {
  plan.entries.set(entry.name, entry);
  plan.referencedFiles.add(entry.file);
  plan.data.set(entry.name, { kind: 'external', location: externalLocation(plan, dir, entry.file), offset: entry.offset, length: entry.length });
}

/**
 * The `location` to write for a file. onnxruntime 1.30 resolves it against the model's directory and
 * refuses absolute paths, paths that leave that directory, and symlinks that resolve outside it (see
 * app/onnx/README.md). A file elsewhere is therefore hard-linked into `dir` (same bytes, no copy; a copy
 * — a clone where the file system can — when the two are on different volumes), under a name made
 * unique by a hash of its absolute path: experts' files are often all called 'model.safetensors'.
 */
function externalLocation(plan: Planned, dir: string, file: string): string {
  const relativePath = relative(dir, file);
  if (!relativePath.startsWith('..') && !isAbsolute(relativePath)) return relativePath.split(sep).join('/');
  const hash = createHash('sha256').update(file).digest('hex').slice(0, 12);
  const linkName = `linked-${hash}-${basename(file)}`;
  plan.linkRequests.set(join(dir, linkName), file);
  return linkName;
}

/** Makes `linkPath` the same file as `target` (hard link, or a copy across volumes); true if it made one. */
function linkInto(linkPath: string, target: string): boolean {
  if (existsSync(linkPath) && sameFile(linkPath, target)) return false;
  // A stale link (the target was replaced since) is swapped atomically: link to a temp name, rename.
  const temp = temporarySibling(linkPath);
  try {
    linkSync(target, temp);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw error;
    copyFileSync(target, temp, constants.COPYFILE_FICLONE);
    // Keep the target's mtime so the next save recognises the copy as current (see sameFile).
    const { atime, mtime } = statSync(target);
    utimesSync(temp, atime, mtime);
  }
  renameSync(temp, linkPath);
  return true;
}

function sameFile(a: string, b: string): boolean {
  const [left, right] = [statSync(a), statSync(b)];
  if (left.ino === right.ino && left.dev === right.dev) return true;
  return left.size === right.size && left.mtimeMs === right.mtimeMs; // a copy made by linkInto
}

function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

function writeWhole(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'wx');
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Streams each weight (read, converted to its stored dtype) to its aligned offset, one at a time. */
function writeWeights(path: string, items: Planned['toWrite'], control: JobControl): void {
  const total = items.reduce((sum, item) => sum + item.length, 0);
  let done = 0;
  const fd = openSync(path, 'wx');
  try {
    for (const { init, offset, length } of items) {
      if (control.signal?.aborted) throw new CancelledError();
      const bytes = storedBytes(init.source.read(), init.value.dtype);
      if (bytes.length !== length) {
        throw new UserError('corrupt-file', `Weight '${init.value.name}' produced ${bytes.length} bytes, expected ${length} for ${describeValue(init.value)}.`);
      }
      let written = 0;
      while (written < length) written += writeSync(fd, bytes, written, length - written, offset + written);
      done += length;
      control.onProgress?.({ phase: 'save-weights', done, total, unit: 'bytes', message: `Writing weights: ${init.value.name}` });
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
