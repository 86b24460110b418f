// How the pipeline reaches onnxruntime: every model file runs through one shared SessionCache, so a
// U-Net used by a single-model job and by an ensemble job is loaded once, and memory stays within the
// cache's budget. A session is pinned (`SessionCache.use`) for the length of each run, never longer, so
// the cache may release it between steps of another model's job.
import { totalmem } from 'node:os';
import { EngineError, throwIfCancelled } from '../common/errors.ts';
import { DEVICE_RESIDENT_BACKENDS, TransferCounter, type DeviceTensor, type Feed } from '../runtime/device-tensor.ts';
import { disposeDeviceTensors, downloadTensor, ModelSession, uploadTensor, type Backend, type SessionOptions, type SessionSource } from '../runtime/onnx-runtime.ts';
import { runtimeLog } from '../runtime/runtime-log.ts';
import { estimateSessionBytes, SessionCache } from '../runtime/session-cache.ts';
import type { StoredFloat } from '../onnx/graph.ts';
import type { Tensor } from '../tensor/tensor.ts';

/**
 * What the graphs compute in. 'auto' (default): float16 on GPU providers — the kernels their hardware
 * is made for, half the weight memory — and float32 on the CPU, whose onnxruntime kernels compute
 * float16 graphs through float32 anyway. 'fp16' asks for float16 on every provider; 'fp32' never uses it.
 */
export type PrecisionSetting = 'auto' | 'fp32' | 'fp16';

/**
 * Writes (once) the float16-compute form of a model file and returns its path. Float I/O stays float32,
 * so either form runs with the same feeds.
 */
export type Float16Builder = () => string;

export interface ModelRuntime {
  readonly sessions: SessionCache<ModelSession>;
  /** Backend, threads, … for every session this runtime creates (as configured). */
  readonly sessionOptions: SessionOptions;
  /** The provider sessions run on now: sessionOptions.backend, or 'cpu' after that provider failed. */
  readonly backend: Backend;
  /** The precision setting this runtime was made with. */
  readonly precision: PrecisionSetting;
  /**
   * What models offered in float16 (offerFloat16) compute in now: float16 when the precision setting
   * asks for it on the current provider and float16 has not failed there; float32 otherwise.
   */
  readonly computeDtype: StoredFloat;
  /**
   * Offers a float16 form of `modelPath`, written by `build` the first time it is needed. While
   * computeDtype is float16 every run, load and size of `modelPath` uses that form. When it cannot run
   * (a GPU without float16 shaders: onnxruntime refuses the session), the runtime says so once and
   * computes in float32 from then on, rerunning the same feeds: nothing is lost.
   */
  offerFloat16(modelPath: string, build: Float16Builder): void;
  /** True when the session `modelPath` runs on now (on this provider, in this precision) is loaded. */
  isLoaded(modelPath: string): boolean;
  /**
   * Runs `modelPath` (cached session, pinned for the run) and returns the named outputs. When a GPU
   * provider fails — at session creation or in the middle of a job — the runtime moves to the CPU for
   * good, says so (onFallback and the runtime log), and reruns the same feeds there: the caller's
   * tensors are its own, so nothing computed before is lost.
   */
  run(modelPath: string, feeds: Readonly<Record<string, Tensor>>, outputs: readonly string[]): Promise<Record<string, Tensor>>;
  /**
   * Creates the sessions of `modelPaths` ahead of their first run, one after another (they load on the
   * one inference thread), so a job shows its load as a phase instead of a first step that seems to hang.
   * Models already loaded are skipped; so are those past the cache's budget (they load when they run, as
   * before, instead of pushing out the ones loaded first). `onProgress(done, total)` is told before the
   * first load and after each, counting only the models it loads; `signal` is checked between models.
   * Returns where each loaded session came from (SessionSource), by path.
   */
  load(modelPaths: readonly string[], options?: { readonly signal?: AbortSignal; readonly onProgress?: (done: number, total: number) => void }): Promise<Map<string, SessionSource>>;
  /**
   * Large copies between the host and a GPU provider's device made by this runtime's runs, uploads and
   * downloads (device-tensor.ts; none on the CPU). Jobs run one at a time: the difference of two
   * snapshots is a job's (or a step's) count.
   */
  readonly transfers: TransferCounter;
  /** True when sessions run on a provider whose outputs can stay on the device (DEVICE_RESIDENT_BACKENDS). */
  readonly deviceResident: boolean;
  /**
   * Runs `modelPath` with feeds that may be device tensors and keeps the outputs named in `keep` on the
   * device (the caller disposes them). No rerun on the CPU here: device feeds die with the provider.
   * When the provider fails the runtime still moves to the CPU for good, and this throws
   * ProviderFellBackError so the caller restarts its work from host tensors.
   */
  runDevice(modelPath: string, feeds: Readonly<Record<string, Feed>>, outputs: readonly string[], keep: readonly string[]): Promise<Record<string, Tensor | DeviceTensor>>;
  /** Copies a host tensor to the device of the current provider (counted). */
  upload(tensor: Tensor): Promise<DeviceTensor>;
  /** Reads a device tensor back to the host (counted). */
  download(tensor: DeviceTensor): Promise<Tensor>;
  /** Frees device tensors (never throws for a provider that already failed). */
  dispose(tensors: readonly DeviceTensor[]): Promise<void>;
}

/** A GPU provider failed during device-resident work; the runtime has moved to the CPU. */
export class ProviderFellBackError extends EngineError {}

export interface ModelRuntimeOptions {
  readonly sessionOptions?: SessionOptions;
  /** Default 'auto' (float16 on GPU providers, float32 on the CPU). */
  readonly precision?: PrecisionSetting;
  readonly budgetBytes?: number;
  /** Told once, in words for the user, when the runtime falls back to the CPU. */
  readonly onFallback?: (message: string) => void;
}

/**
 * A runtime with its own cache. Default budget: half the machine's memory — SD1.5 in float32 needs
 * ≈ 4.1 GB (U-Net 3.4, text encoder 0.5, VAE decoder 0.2).
 */
export function createModelRuntime(options: ModelRuntimeOptions = {}): ModelRuntime {
  const sessions = new SessionCache<ModelSession>({ budgetBytes: options.budgetBytes ?? Math.floor(totalmem() / 2) });
  const sessionOptions: SessionOptions = Object.freeze({ ...options.sessionOptions });
  const sizes = new Map<string, number>();
  let backend: Backend = sessionOptions.backend ?? 'cpu';
  const precision = options.precision ?? 'auto';
  const float16Builders = new Map<string, Float16Builder>();
  const float16Paths = new Map<string, string>();
  /** Providers on which float16 failed: they compute in float32 from then on. */
  const float16Failed = new Set<Backend>();
  const wantsFloat16 = (on: Backend): boolean => !float16Failed.has(on) && (precision === 'fp16' || (precision === 'auto' && on !== 'cpu'));
  /**
   * The file that runs for `modelPath` on provider `on`: its float16 form when offered and wanted
   * (written now when `write` and not written yet; otherwise the float32 file until it is).
   */
  const actual = (modelPath: string, on: Backend, write = true): string => {
    const build = float16Builders.get(modelPath);
    if (!build || !wantsFloat16(on)) return modelPath;
    let path = float16Paths.get(modelPath);
    if (path === undefined) {
      if (!write) return modelPath;
      try {
        path = build();
      } catch (error) {
        if (!(error instanceof Error)) throw error;
        // A float16 form that cannot be written (read-only store, full disk) only costs speed.
        runtimeLog(`the float16 form of ${modelPath} could not be written (${error.message}); it computes in float32`);
        path = modelPath;
      }
      float16Paths.set(modelPath, path);
    }
    return path;
  };

  const sizeOf = (modelPath: string): number => {
    let size = sizes.get(modelPath);
    if (size === undefined) {
      try {
        size = estimateSessionBytes(modelPath);
      } catch (error) {
        // The file is there (resolvers check) but unreadable as ONNX: the store is damaged, not the request.
        throw new EngineError(`The model file ${modelPath} cannot be read: ${(error as Error).message}`, { cause: error });
      }
      sizes.set(modelPath, size);
    }
    return size;
  };

  /** `work` on the current provider; when a GPU provider fails, the runtime moves to the CPU for good and `work` runs again there. */
  const onProvider = async <R>(work: (on: Backend) => Promise<R>, rerun = true, modelPath?: string): Promise<R> => {
    const on = backend;
    const reduced = modelPath !== undefined && actual(modelPath, on) !== modelPath;
    try {
      return await work(on);
    } catch (error) {
      // A float16 graph that failed: float32 on the same provider first (device tensors stay valid
      // there, so even device-resident work reruns). Whether float16 or the provider itself is at fault
      // shows in that rerun: only when it works on the same provider is float16 to blame (and said to be).
      if (reduced && error instanceof EngineError && !(error instanceof ProviderFellBackError) && !float16Failed.has(on)) {
        float16Failed.add(on);
        for (const path of float16Paths.values()) await sessions.evict(`${on}:${path}`);
        const result = await onProvider(work, rerun, modelPath);
        if (backend === on) {
          // onnxruntime names the cause on a later line ("Program Gather requires f16 but the device does not support it").
          const lines = error.message.split('\n').map((line) => line.trim());
          const reason = (lines.find((line) => /f16|float16|not support/i.test(line)) ?? lines[0] ?? '').slice(0, 300);
          const message = `Float16 compute does not work on ${on} here (${reason}); computing in float32 — slower, same pictures.`;
          runtimeLog(message);
          options.onFallback?.(message);
        }
        return result;
      }
      // Only onnxruntime's own failures move the job; bad feeds (UserError) and cancellation stay errors.
      if (on === 'cpu' || !(error instanceof EngineError) || error instanceof ProviderFellBackError) throw error;
      if (backend === on) {
        backend = 'cpu';
        const reason = (error.message.split('\n')[0] ?? '').slice(0, 300);
        const message = `The ${on} provider failed (${reason}); continuing on the CPU — slower, same result.`;
        runtimeLog(message);
        options.onFallback?.(message);
        // Free the failed provider's sessions (and their device memory) before loading CPU copies.
        for (const key of sessions.keys()) if (key.startsWith(`${on}:`)) await sessions.evict(key);
      }
      if (!rerun) throw new ProviderFellBackError(`The ${on} provider failed during device-resident work: ${error.message}`, { cause: error });
      return onProvider(work);
    }
  };
  const transfers = new TransferCounter();
  const create = (modelPath: string, on: Backend) => () => ModelSession.create(modelPath, { ...sessionOptions, backend: on });
  /** Runs `use` on the session of `modelPath` as it runs on `on` (its float16 form when that is wanted). */
  const withSession = <R>(modelPath: string, on: Backend, use: (session: ModelSession) => Promise<R>): Promise<R> => {
    const path = actual(modelPath, on);
    return sessions.use(`${on}:${path}`, sizeOf(path), create(path, on), use);
  };

  const run = (modelPath: string, feeds: Readonly<Record<string, Tensor>>, outputs: readonly string[]): Promise<Record<string, Tensor>> =>
    onProvider((on) => withSession(modelPath, on, (session) => session.run(feeds, [...outputs], transfers)), true, modelPath);

  const runDevice: ModelRuntime['runDevice'] = (modelPath, feeds, outputs, keep) =>
    onProvider((on) => withSession(modelPath, on, (session) => session.runDevice(feeds, [...outputs], keep, transfers)), false, modelPath);

  const load: ModelRuntime['load'] = async (modelPaths, loadOptions = {}) => {
    const sources = new Map<string, SessionSource>();
    const pending: string[] = [];
    // The job's models together (other jobs' sessions are released, least recently used first, to fit).
    let planned = 0;
    for (const modelPath of new Set(modelPaths)) {
      // A float16 form that cannot be read is planned at its float32 size; loading it falls back below.
      let size: number;
      try {
        size = sizeOf(actual(modelPath, backend));
      } catch {
        size = sizeOf(modelPath);
      }
      planned += size;
      // A first model larger than the whole budget still loads (alone), as the cache allows.
      if (planned > sessions.config.budgetBytes && planned > size) break;
      if (!sessions.has(`${backend}:${actual(modelPath, backend)}`)) pending.push(modelPath);
    }
    if (pending.length === 0) return sources;
    loadOptions.onProgress?.(0, pending.length);
    for (const [index, modelPath] of pending.entries()) {
      throwIfCancelled(loadOptions.signal);
      const session = await onProvider(
        (on) => {
          const path = actual(modelPath, on);
          return sessions.get(`${on}:${path}`, sizeOf(path), create(path, on));
        },
        true,
        modelPath,
      );
      sources.set(modelPath, session.source);
      loadOptions.onProgress?.(index + 1, pending.length);
    }
    return sources;
  };

  return {
    sessions,
    sessionOptions,
    get backend() {
      return backend;
    },
    precision,
    get computeDtype(): StoredFloat {
      return wantsFloat16(backend) ? 'float16' : 'float32';
    },
    isLoaded: (modelPath) => sessions.has(`${backend}:${actual(modelPath, backend, false)}`),
    offerFloat16: (modelPath, build) => {
      if (!float16Builders.has(modelPath)) float16Builders.set(modelPath, build);
    },
    run,
    load,
    transfers,
    get deviceResident() {
      return DEVICE_RESIDENT_BACKENDS.has(backend);
    },
    runDevice,
    upload: (tensor) => onProvider((on) => uploadTensor(tensor, on, transfers), false),
    download: (tensor) => onProvider((on) => downloadTensor(tensor, on, transfers), false),
    dispose: async (tensors) => {
      try {
        await disposeDeviceTensors(tensors);
      } catch (error) {
        runtimeLog(`device tensors not freed: ${(error as Error).message}`);
      }
    },
  };
}

/** One model file, run through the runtime's cache (created on first use). */
export class CachedModel {
  readonly modelPath: string;
  readonly #runtime: ModelRuntime;

  constructor(modelPath: string, runtime: ModelRuntime) {
    this.modelPath = modelPath;
    this.#runtime = runtime;
  }

  /** Runs the model and returns output `output`. */
  async run(feeds: Readonly<Record<string, Tensor>>, output: string): Promise<Tensor> {
    const outputs = await this.#runtime.run(this.modelPath, feeds, [output]);
    return outputs[output]!;
  }
}
