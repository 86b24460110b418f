// Safetensors files: a lazy reader that reads only the header up front and each tensor's byte range on
// demand (multi-GB checkpoints never sit in memory whole), and writers that produce files atomically —
// `writeSafetensors` for tensors in memory, `SafetensorsWriter` for streaming one tensor at a time.
// Format: huggingface/safetensors (see safetensors-header.ts). Data is little-endian, like every host
// Node runs on, so bytes are copied into typed arrays as they are.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { CancelledError, UserError } from '../common/errors.ts';
import { diskFullError, isDiskFull, temporarySibling } from '../common/atomic-write.ts';
import type { JobControl } from '../common/progress.ts';
import { allocate, describeShape, sizeOf, BYTES_PER_ELEMENT } from './tensor.ts';
import type { DType, Tensor, TensorData } from './tensor.ts';
import type { FileRegion, LazyTensor, WeightSource } from './weights.ts';
import { appDType, isSupportedSafetensorsDType, safetensorsDType } from './safetensors-dtype.ts';
import type { SafetensorsDType } from './safetensors-dtype.ts';
import {
  corruptFile,
  encodeSafetensorsHeader,
  MAX_HEADER_BYTES,
  METADATA_KEY,
  parseSafetensorsHeader,
} from './safetensors-header.ts';
import type { SafetensorsEntry } from './safetensors-header.ts';

export type { SafetensorsEntry } from './safetensors-header.ts';
export type { SafetensorsDType } from './safetensors-dtype.ts';

/** A tensor of a safetensors file; `region` locates its bytes so a graph can reference them in place. */
export interface SafetensorsTensor extends LazyTensor {
  readonly region: FileRegion;
  /** The dtype name stored in the file. */
  readonly storedDtype: SafetensorsDType;
}

/** Largest single read/write call: Node's fs calls take at most 2 GiB − 1 bytes at once. */
const IO_CHUNK_BYTES = 1 << 30;

/** Closes descriptors of files that were dropped without close() (a safety net, not the contract). */
const unclosed = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to do.
  }
});

export class SafetensorsFile implements WeightSource {
  readonly description: string;
  /** Absolute file offset of the data section (8 + header length); entry offsets are relative to it. */
  readonly dataOffset: number;
  private fd: number | undefined;
  private readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  private readonly order: readonly string[];

  private constructor(
    readonly path: string,
    fd: number,
    dataOffset: number,
    entries: readonly SafetensorsEntry[],
    /** The `__metadata__` map (empty when the file has none). */
    readonly metadata: Readonly<Record<string, string>>,
  ) {
    this.description = path;
    this.fd = fd;
    this.dataOffset = dataOffset;
    this.entries = new Map(entries.map((entry) => [entry.name, entry]));
    this.order = entries.map((entry) => entry.name);
    unclosed.register(this, fd, this);
  }

  /**
   * Opens `path` and validates its header (only the 8-byte length and the header are read).
   * Tensors of dtypes the studio cannot compute with (F8_E4M3, I8, ...) do not stop the file from
   * opening: `get()` of such a tensor throws UserError('unsupported') naming it.
   */
  static open(path: string): SafetensorsFile {
    const fd = openForReading(path);
    try {
      const fileSize = fstatSync(fd).size;
      if (fileSize < 8) throw corruptFile(path, `it is only ${fileSize} bytes long`);
      const prefix = new Uint8Array(8);
      readFully(fd, prefix, 0, path);
      const headerLength = new DataView(prefix.buffer).getBigUint64(0, true);
      if (headerLength > BigInt(MAX_HEADER_BYTES)) {
        throw corruptFile(path, `its header length (${headerLength} bytes) is absurd`);
      }
      const length = Number(headerLength);
      if (8 + length > fileSize) {
        throw corruptFile(path, `its header (${length} bytes) is longer than the file (${fileSize} bytes; the file is truncated)`);
      }
      const headerBytes = new Uint8Array(length);
      readFully(fd, headerBytes, 8, path);
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
      } catch {
        throw corruptFile(path, 'its header is not UTF-8 text');
      }
      const header = parseSafetensorsHeader(text, fileSize - 8 - length, path);
      return new SafetensorsFile(path, fd, 8 + length, header.entries, header.metadata);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Tensor names in data order (ascending file offset), so reading them in turn reads the file forward. */
  names(): readonly string[] {
    return this.order;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The header's description of a tensor, whatever its dtype (never reads data). */
  entry(name: string): SafetensorsEntry {
    const entry = this.entries.get(name);
    if (!entry) {
      throw new UserError('not-found', `Tensor '${name}' is missing from ${this.path}.`, 'Check that this is the right file for this model.');
    }
    return entry;
  }

  get(name: string): SafetensorsTensor {
    const entry = this.entry(name);
    const stored = entry.dtype;
    if (!isSupportedSafetensorsDType(stored)) {
      throw new UserError(
        'unsupported',
        `Tensor '${name}' of ${this.path} has dtype ${stored}, which AFA Studio cannot read (supported: F32, F16, BF16, F64, I64, I32, U8, BOOL).`,
        'Convert the checkpoint to fp16 or fp32 first.',
      );
    }
    const dtype = appDType(stored);
    const region: FileRegion = { path: this.path, offset: this.dataOffset + entry.begin, length: entry.end - entry.begin };
    return { dtype, shape: entry.shape, region, storedDtype: stored, read: () => this.readRegion(dtype, entry.shape, region) };
  }

  /** Shorthand for `get(name).read()`. */
  read(name: string): Tensor {
    return this.get(name).read();
  }

  /** Releases the file descriptor; later reads throw. Safe to call twice. */
  close(): void {
    if (this.fd === undefined) return;
    unclosed.unregister(this);
    closeSync(this.fd);
    this.fd = undefined;
  }

  private readRegion(dtype: DType, shape: readonly number[], region: FileRegion): Tensor {
    if (this.fd === undefined) throw new Error(`${this.path} was closed before tensor data was read`);
    const result = allocate(dtype, shape);
    const view = new Uint8Array(result.data.buffer, result.data.byteOffset, result.data.byteLength);
    readFully(this.fd, view, region.offset, this.path);
    return result;
  }
}

function openForReading(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError('not-found', `${path} does not exist.`, 'Check the path.');
    if (code === 'EISDIR') throw new UserError('invalid-argument', `${path} is a folder, not a safetensors file.`);
    throw error;
  }
}

function readFully(fd: number, target: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < target.length) {
    const count = readSync(fd, target, done, Math.min(target.length - done, IO_CHUNK_BYTES), position + done);
    if (count === 0) throw corruptFile(path, `it ends at byte ${position + done}, before the data it declares (the file is truncated)`);
    done += count;
  }
}

// ---------------------------------------------------------------------------------------------------
// Writing

/** A tensor as declared to the streaming writer before its data is written. */
export interface SafetensorsWriteEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

export interface SafetensorsWriterOptions {
  /** Stored as `__metadata__` (string values only, as the format requires). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Progress is reported in bytes after each tensor; cancellation is checked before each tensor. */
  readonly control?: JobControl;
  /** Progress phase name; default 'write'. */
  readonly phase?: string;
}

const TYPED_ARRAYS: Readonly<Record<DType, abstract new (...args: never[]) => TensorData>> = {
  float32: Float32Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

/**
 * Streams a safetensors file: the tensors (name, dtype, shape) are declared up front, which fixes the
 * header and the layout (data in the declared order, header keys in that order too); then `write()`
 * each tensor in that order, then `commit()`. Until commit the data goes to a temporary sibling, which
 * `abort()`, cancellation, a full disk or any write error removes, so the target appears whole or not at all.
 */
export class SafetensorsWriter {
  private fd: number | undefined;
  private readonly temp: string;
  private readonly layout: readonly SafetensorsEntry[];
  private readonly declared: readonly SafetensorsWriteEntry[];
  private next = 0;
  private bytesWritten = 0;
  private readonly totalBytes: number;

  constructor(
    readonly path: string,
    entries: readonly SafetensorsWriteEntry[],
    private readonly options: SafetensorsWriterOptions = {},
  ) {
    this.declared = entries.map(checkWriteEntry);
    checkUniqueNames(this.declared);
    checkMetadata(options.metadata);
    let offset = 0;
    this.layout = this.declared.map((entry) => {
      const begin = offset;
      offset += sizeOf(entry.shape) * BYTES_PER_ELEMENT[entry.dtype];
      return { name: entry.name, dtype: safetensorsDType(entry.dtype), shape: entry.shape, begin, end: offset };
    });
    this.totalBytes = offset;
    this.temp = temporarySibling(path);
    this.guard(() => {
      this.fd = openSync(this.temp, 'wx');
      writeFully(this.fd, encodeSafetensorsHeader(this.layout, options.metadata));
    });
  }

  /** Writes the next declared tensor. `data` is the typed array of its dtype (or a Tensor of it). */
  write(name: string, data: TensorData | Tensor): void {
    const entry = this.declared[this.next];
    if (this.fd === undefined) throw new Error(`cannot write '${name}': the writer of ${this.path} is closed`);
    if (!entry) throw new Error(`cannot write '${name}': all ${this.declared.length} declared tensors of ${this.path} are written`);
    if (entry.name !== name) throw new Error(`expected tensor '${entry.name}' next in ${this.path}, got '${name}'`);
    const array = checkData(entry, data);
    const signal = this.options.control?.signal;
    if (signal?.aborted) {
      this.abort();
      throw new CancelledError();
    }
    const fd = this.fd;
    this.guard(() => writeFully(fd, new Uint8Array(array.buffer, array.byteOffset, array.byteLength)));
    this.next++;
    this.bytesWritten += array.byteLength;
    this.options.control?.onProgress?.({
      phase: this.options.phase ?? 'write',
      done: this.bytesWritten,
      total: this.totalBytes,
      unit: 'bytes',
      message: `Writing ${basename(this.path)}`,
    });
  }

  /** Flushes and moves the file into place. Every declared tensor must have been written. */
  commit(): void {
    if (this.fd === undefined) throw new Error(`the writer of ${this.path} is closed`);
    if (this.next < this.declared.length) {
      const missing = this.declared[this.next]!.name;
      this.abort();
      throw new Error(`cannot commit ${this.path}: tensor '${missing}' and ${this.declared.length - this.next - 1} more were never written`);
    }
    const fd = this.fd;
    this.guard(() => {
      fsyncSync(fd);
      closeSync(fd);
      this.fd = undefined;
      renameSync(this.temp, this.path);
    });
  }

  /** Removes the temporary file. Does nothing after commit or a previous abort. */
  abort(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } finally {
      this.fd = undefined;
      rmSync(this.temp, { force: true });
    }
  }

  /** Runs a file operation; on failure removes the temporary file and maps a full disk to UserError. */
  private guard(operation: () => void): void {
    try {
      operation();
    } catch (error) {
      if (this.fd !== undefined) {
        try {
          closeSync(this.fd);
        } catch {
          // The descriptor is being discarded after an error already being reported.
        }
        this.fd = undefined;
      }
      rmSync(this.temp, { force: true });
      if (isDiskFull(error)) throw diskFullError(this.path);
      throw error;
    }
  }
}

/** Tensors to write: pairs, a Map or a plain record. */
export type TensorCollection = Iterable<readonly [string, Tensor]> | Readonly<Record<string, Tensor>>;

/**
 * Writes tensors held in memory to `path` atomically. Tensors are laid out and listed in name order
 * (JavaScript string order), so the same tensors always give the same bytes whatever order they come in.
 */
export function writeSafetensors(
  path: string,
  tensors: TensorCollection,
  metadata?: Readonly<Record<string, string>>,
  control?: JobControl,
): void {
  const pairs = isIterable(tensors) ? [...tensors] : Object.entries(tensors);
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const writer = new SafetensorsWriter(
    path,
    pairs.map(([name, tensor]) => ({ name, dtype: tensor.dtype, shape: tensor.shape })),
    { metadata, control },
  );
  try {
    for (const [name, tensor] of pairs) writer.write(name, tensor);
    writer.commit();
  } catch (error) {
    writer.abort();
    throw error;
  }
}

function isIterable(value: TensorCollection): value is Iterable<readonly [string, Tensor]> {
  return typeof (value as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function';
}

function checkWriteEntry(entry: SafetensorsWriteEntry): SafetensorsWriteEntry {
  if (typeof entry.name !== 'string' || entry.name.length === 0 || entry.name === METADATA_KEY) {
    throw new UserError('invalid-argument', `'${String(entry.name)}' cannot name a tensor in a safetensors file.`);
  }
  if (!Object.hasOwn(TYPED_ARRAYS, entry.dtype)) {
    throw new UserError('invalid-argument', `Tensor '${entry.name}' has unknown dtype '${String(entry.dtype)}'.`);
  }
  if (!entry.shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) {
    throw new UserError('invalid-argument', `Tensor '${entry.name}' has an invalid shape ${describeShape(entry.shape)}.`);
  }
  return { name: entry.name, dtype: entry.dtype, shape: [...entry.shape] };
}

function checkUniqueNames(entries: readonly SafetensorsWriteEntry[]): void {
  const seen = new Set<string>();
  for (const { name } of entries) {
    if (seen.has(name)) throw new UserError('invalid-argument', `Tensor '${name}' is listed twice.`);
    seen.add(name);
  }
}

function checkMetadata(metadata: Readonly<Record<string, string>> | undefined): void {
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (typeof value !== 'string') {
      throw new UserError('invalid-argument', `Safetensors metadata '${key}' must be a string, got ${typeof value}.`);
    }
  }
}

function checkData(entry: SafetensorsWriteEntry, data: TensorData | Tensor): TensorData {
  let array: TensorData;
  if (ArrayBuffer.isView(data)) array = data;
  else {
    if (data.dtype !== entry.dtype || describeShape(data.shape) !== describeShape(entry.shape)) {
      throw new Error(
        `tensor '${entry.name}' was declared ${entry.dtype} ${describeShape(entry.shape)} but is ${data.dtype} ${describeShape(data.shape)}`,
      );
    }
    array = data.data;
  }
  if (!(array instanceof TYPED_ARRAYS[entry.dtype])) {
    throw new Error(`tensor '${entry.name}' (${entry.dtype}) needs a ${TYPED_ARRAYS[entry.dtype].name}, got ${array.constructor.name}`);
  }
  if (array.length !== sizeOf(entry.shape)) {
    throw new Error(`tensor '${entry.name}' ${describeShape(entry.shape)} needs ${sizeOf(entry.shape)} elements, got ${array.length}`);
  }
  return array;
}

function writeFully(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    done += writeSync(fd, bytes, done, Math.min(bytes.length - done, IO_CHUNK_BYTES));
  }
}
