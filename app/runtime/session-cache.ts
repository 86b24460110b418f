// Keeps loaded sessions (U-Nets, text encoders, VAEs, aggregators) within a memory budget, releasing
// the least recently used first. Creating a session costs seconds; keeping one costs its weights' size.
import { readFileSync } from 'node:fs';
import { UserError } from '../common/errors.ts';
import { onnx } from '../onnx/model-proto.ts';
import { readWeightsIndex } from '../onnx/serialize.ts';
import { dtypeOfOnnx } from '../onnx/graph.ts';
import { BYTES_PER_ELEMENT, type DType } from '../tensor/tensor.ts';

export interface Releasable {
  release(): Promise<void>;
}

export interface SessionCacheConfig {
  /** Total estimated bytes of cached sessions; the least recently used are released beyond it. */
  readonly budgetBytes: number;
}

interface Entry<T> {
  readonly key: string;
  readonly sizeBytes: number;
  readonly session: Promise<T>;
  /** Running `use` calls; a pinned entry is never released under them. */
  pins: number;
  evicted: boolean;
}

/**
 * An LRU cache of sessions keyed by a caller-chosen string (e.g. the model file path plus the backend).
 * A session larger than the whole budget is still loaded, alone. Concurrent gets of one key share one
 * creation.
 */
export class SessionCache<T extends Releasable> {
  readonly config: SessionCacheConfig;
  /** Map iteration order is insertion order: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry<T>>();

  constructor(config: SessionCacheConfig) {
    if (!(config.budgetBytes > 0)) throw new UserError('invalid-argument', `A session cache needs a positive budget, got ${config.budgetBytes} bytes.`);
    this.config = Object.freeze({ ...config });
  }

  /** Estimated bytes held by cached sessions. */
  get usedBytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.sizeBytes;
    return total;
  }

  /** Keys from least to most recently used. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The cached session for `key`, or one made by `create` after releasing others to fit `sizeBytes`. */
  async get(key: string, sizeBytes: number, create: () => Promise<T>): Promise<T> {
    const entry = await this.entry(key, sizeBytes, create);
    return entry.session;
  }

  /** Like get, but the session cannot be released while `fn` runs (use it around session.run). */
  async use<R>(key: string, sizeBytes: number, create: () => Promise<T>, fn: (session: T) => Promise<R>): Promise<R> {
    const entry = await this.entry(key, sizeBytes, create);
    entry.pins++;
    try {
      return await fn(await entry.session);
    } finally {
      entry.pins--;
      if (entry.evicted && entry.pins === 0) await release(entry);
    }
  }

  /** Releases the session for `key`, if cached. */
  async evict(key: string): Promise<void> {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    entry.evicted = true;
    if (entry.pins === 0) await release(entry);
  }

  /** Releases every session. */
  async clear(): Promise<void> {
    for (const key of this.keys()) await this.evict(key);
  }

  private async entry(key: string, sizeBytes: number, create: () => Promise<T>): Promise<Entry<T>> {
    const cached = this.entries.get(key);
    if (cached) {
      this.entries.delete(key);
      this.entries.set(key, cached);
      return cached;
    }
    // Release before creating, so the old weights are freed before the new ones are loaded.
    for (const old of this.keys()) {
      if (this.usedBytes + sizeBytes <= this.config.budgetBytes) break;
      await this.evict(old);
    }
    const entry: Entry<T> = { key, sizeBytes, session: create(), pins: 0, evicted: false };
    this.entries.set(key, entry);
    try {
      await entry.session;
    } catch (error) {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      throw error;
    }
    return entry;
  }
}

async function release<T extends Releasable>(entry: Entry<T>): Promise<void> {
  let session: T;
  try {
    session = await entry.session;
  } catch {
    return; // creation failed: nothing to release
  }
  await session.release();
}

/**
 * Bytes a session of this model holds in memory, estimated from its weights plus the model file
 * (inline constants and graph): each external tensor's stored size, or, for a weight the graph casts
 * (float16 stored, float32 compute; float32 stored, float16 compute), the size of the cast copy, which
 * onnxruntime folds at session creation and keeps instead of the mapped original.
 */
export function estimateSessionBytes(modelPath: string): number {
  const bytes = readFileSync(modelPath);
  const model = onnx.ModelProto.decode(bytes);
  const castTo = new Map<string, DType>();
  for (const node of model.graph?.node ?? []) {
    const to = node.attribute?.find((attribute) => attribute.name === 'to')?.i;
    const dtype = to === undefined || to === null ? undefined : dtypeOfOnnx(Number(to));
    if (node.opType === 'Cast' && node.input?.[0] && dtype) castTo.set(node.input[0], dtype);
  }
  let total = bytes.length;
  for (const entry of readWeightsIndex(modelPath, model).entries.values()) {
    const cast = castTo.get(entry.name);
    total += cast === undefined ? entry.length : Math.round((entry.length / BYTES_PER_ELEMENT[entry.dtype]) * BYTES_PER_ELEMENT[cast]);
  }
  return total;
}
