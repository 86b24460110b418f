// The only module that imports onnxruntime-node. It owns provider choice, session options and the
// checks that name every missing or mismatched feed, and converts between app Tensors and ORT tensors.
// Sessions live on the process's inference thread (inference-thread.ts): ModelSession is the handle
// callers hold, LocalSession the onnxruntime session the thread runs.
import { closeSync, existsSync, openSync, read, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, platform } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineError, UserError } from '../common/errors.ts';
import type { DType, Tensor } from '../tensor/tensor.ts';
import { describeShape, inSharedMemory } from '../tensor/tensor.ts';
import { Graph } from '../onnx/graph.ts';
import { encodeModel } from '../onnx/model-proto.ts';
import { identity } from '../onnx/ops.ts';
import { DEVICE_RESIDENT_BACKENDS, isDeviceTensor, type DeviceTensor, type Feed, type TransferCounter } from './device-tensor.ts';
import { inferenceThread, type SessionDescription } from './inference-thread.ts';
import { NO_VULKAN_LOADER, vulkanLoaderFound } from './vulkan-loader.ts';
import { withExplicitAttention } from './explicit-attention.ts';
import { buildOptimizedModel, discardOptimizedModel, findOptimizedModel, optimizedModelKey, OPTIMIZED_WEIGHTS_FILE, type OptimizedModel } from './optimized-models.ts';
import { ortLogSeverity, runtimeLog } from './runtime-log.ts';

export type Backend = 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';

export const BACKENDS: readonly Backend[] = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml'];

export interface BackendInfo {
  readonly backend: Backend;
  readonly available: boolean;
  /** Why it is not available. */
  readonly reason?: string;
}

/** The onnxruntime-node package version (e.g. '1.30.0'). */
export function onnxruntimeVersion(): string {
  return ort.env.versions.node ?? ort.env.versions.common;
}

/** Where onnxruntime-node keeps its native libraries for this platform (the CUDA provider is downloaded there). */
function nativeDir(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

function cudaProviderInstalled(): boolean {
  const file = { win32: 'onnxruntime_providers_cuda.dll', linux: 'libonnxruntime_providers_cuda.so' }[process.platform as string];
  return file !== undefined && existsSync(join(nativeDir(), file));
}

/**
 * Execution providers this build can use. onnxruntime-node lists what its binding was built with;
 * CUDA is listed as not bundled (its provider library is an optional post-install download), DirectML
 * exists only on Windows and CoreML only on macOS.
 */
export function listBackends(): BackendInfo[] {
  const supported = new Map(ort.listSupportedBackends().map((backend) => [backend.name, backend]));
  const os = platform();
  return BACKENDS.map((backend): BackendInfo => {
    const listed = supported.get(backend);
    if (backend === 'dml' && os !== 'win32') return { backend, available: false, reason: 'DirectML exists only on Windows.' };
    if (backend === 'coreml' && os !== 'darwin') return { backend, available: false, reason: 'CoreML exists only on macOS.' };
    if (!listed) return { backend, available: false, reason: `This onnxruntime-node build (${os}/${process.arch}) has no ${backend} provider.` };
    if (backend === 'cuda' && !cudaProviderInstalled()) {
      return { backend, available: false, reason: 'The CUDA provider library is not installed (install it with: ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js).' };
    }
    return { backend, available: true };
  });
}

/**
 * Why `backend` can have no device here, known without opening a session, or undefined. Opening one
 * would tell too, but WebGPU on Linux without a Vulkan loader first makes Dawn print to the process's
 * stderr, which the engine log cannot catch (vulkan-loader.ts).
 */
function missingDevice(backend: Backend): string | undefined {
  return backend === 'webgpu' && !vulkanLoaderFound() ? NO_VULKAN_LOADER : undefined;
}

/**
 * Tries to open `modelBytes` (a tiny model) on `backend` and run nothing: the message of the failure, or
 * undefined when the provider works on this machine. Providers that are compiled in may still find no
 * device (WebGPU without a GPU adapter, CUDA without a driver); only trying tells.
 */
export async function trySessionOn(backend: Backend, modelBytes: Uint8Array): Promise<string | undefined> {
  const missing = missingDevice(backend);
  if (missing !== undefined) return missing;
  try {
    const session = await ort.InferenceSession.create(modelBytes, { executionProviders: [backend], graphOptimizationLevel: 'disabled', logSeverityLevel: ortLogSeverity() });
    await session.release();
    return undefined;
  } catch (error) {
    // onnxruntime prefixes its checks with the source location and the failed condition; keep the words.
    const first = (error as Error).message.split('\n')[0] ?? String(error);
    return first.replace(/^.*? was false\. /, '');
  }
}

export interface SessionOptions {
  /** Execution provider; default 'cpu'. */
  readonly backend?: Backend;
  /** Threads inside one op; default os.availableParallelism() (logical CPUs given to this process). */
  readonly intraOpThreads?: number;
  /** Threads running independent ops in parallel; default 1 (sequential execution, the fastest for U-Nets). */
  readonly interOpThreads?: number;
  /** Graph optimization level; default 'all' (constant folding of weight casts, fusions, layout). */
  readonly optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Repack MatMul/Conv weights into the CPU kernels' layout at load; default true. It made an SD
   * resnet + transformer block ~7% faster (120 vs 128 ms, 1 thread) but the session then holds a packed
   * copy of the weights instead of using the memory-mapped file pages: false saves memory for weights
   * used as stored. It does not for our U-Nets: onnxruntime copies their weights anyway (folded Transposes
   * of linear weights, NCHWc-reordered conv weights). Measured on the SD1.5-size 3-expert AFA graph
   * (bench/ensemble.ts, 256²): peak RSS 11.23 GB unpacked vs 11.20 GB packed, steps 4.70 s vs 4.38 s.
   */
  readonly prepackWeights?: boolean;
  /**
   * Plan every intermediate of a run into one block (onnxruntime's memory pattern); default true. That
   * block is allocated for each run and freed after it, so a graph whose intermediates are large and
   * long-lived (a training step keeps its forward activations for the backward: ~1.5 GB for 3 SD1.5
   * experts at 256²) touches that much fresh memory at every step; without the pattern the CPU arena
   * serves each tensor and keeps its chunks between runs. Measured by `npm run bench -- train`.
   */
  readonly memoryPattern?: boolean;
  /** ORT session config entries (onnxruntime_session_options_config_keys.h), e.g. { 'session.set_denormal_as_zero': '1' }. */
  readonly config?: Readonly<Record<string, string>>;
  /**
   * Keep com.microsoft MultiHeadAttention nodes fused; default true except on the providers in
   * EXPLICIT_ATTENTION_BACKENDS, whose fused kernel gave wrong results (see explicit-attention.ts).
   */
  readonly fusedAttention?: boolean;
  /**
   * Folder of the optimized-model cache (optimized-models.ts); default none. A CPU session whose level
   * is not 'disabled' then loads onnxruntime's optimized graph of the model saved there (built on the
   * first load, rebuilt silently when stale or damaged) instead of optimizing the model again: an
   * SD1.5 U-Net in seconds instead of tens of seconds, its transformed weights mapped from the file
   * instead of copied (only the MatMul weights are packed into memory, as at every load).
   */
  readonly optimizedModels?: string;
  /**
   * Path prefix of onnxruntime's profile (a Chrome trace JSON, `<prefix>_<date>.json`, every node's
   * kernel time per run), written when the session is released; default none (bench/op-profile.ts reads it).
   */
  readonly profile?: string;
}

/** Where a session's graph came from: the model as given, the optimized-model cache, or a cache entry built now. */
export type SessionSource = 'model' | 'cache' | 'built';

/** Providers whose sessions get MultiHeadAttention rewritten into standard ops unless asked otherwise. */
export const EXPLICIT_ATTENTION_BACKENDS: ReadonlySet<Backend> = new Set(['webgpu']);

/** ORT type names for app dtypes; bfloat16 has no onnxruntime-node tensor type. */
const ORT_TYPES: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: 'float32',
  float16: 'float16',
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
  uint8: 'uint8',
  bool: 'bool',
};

const APP_DTYPES = new Map<string, DType>(Object.entries(ORT_TYPES).map(([dtype, type]) => [type as string, dtype as DType]));

export function toOrtTensor(tensor: Tensor, name = 'tensor'): ort.Tensor {
  const type = ORT_TYPES[tensor.dtype];
  if (!type) throw new UserError('unsupported', `Feed '${name}' is ${tensor.dtype}, which onnxruntime-node cannot take.`, 'Convert it to float32 first.');
  return new ort.Tensor(type, tensor.data as never, [...tensor.shape]);
}

export function fromOrtTensor(value: ort.Tensor, name = 'tensor'): Tensor {
  const dtype = APP_DTYPES.get(value.type);
  if (!dtype) throw new EngineError(`Output '${name}' has type ${value.type}, which has no app dtype.`);
  let data = value.data as Tensor['data'];
  // ORT may hand float16 out as a Float16Array where the runtime has one; Tensor keeps raw bits.
  if (dtype === 'float16' && !(data instanceof Uint16Array)) {
    const view = data as unknown as ArrayBufferView;
    data = new Uint16Array(view.buffer, view.byteOffset, view.byteLength / 2);
  }
  return { dtype, shape: [...value.dims], data };
}

interface InputSpec {
  readonly name: string;
  readonly dtype?: DType;
  readonly shape?: readonly (number | string)[];
}

function defaultThreads(): number {
  return availableParallelism();
}

/**
 * A loaded model, held and run by the process's inference thread, so loading and running it never
 * blocks the caller's event loop. Create with ModelSession.create; call release() when done.
 */
export class ModelSession {
  readonly modelPath: string;
  readonly backend: Backend;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Where the session's graph came from (SessionSource). */
  readonly source: SessionSource;
  #session: number | undefined;

  private constructor(modelPath: string, backend: Backend, described: SessionDescription & { readonly session: number }) {
    this.modelPath = modelPath;
    this.backend = backend;
    this.#session = described.session;
    this.inputNames = described.inputNames;
    this.outputNames = described.outputNames;
    this.source = described.source;
  }

  /** Loads the model on the inference thread; the same checks and errors as LocalSession.create. */
  static async create(modelPath: string, options: SessionOptions = {}): Promise<ModelSession> {
    const described = (await inferenceThread.call({ op: 'create', modelPath, options })) as SessionDescription & { session: number };
    return new ModelSession(modelPath, options.backend ?? 'cpu', described);
  }

  /**
   * Runs the model on the inference thread (LocalSession.run: feeds checked by name, requested outputs).
   * On a GPU provider, `counter` counts the large feeds as host → device copies and the outputs as
   * device → host copies (device-tensor.ts).
   */
  async run(feeds: Readonly<Record<string, Tensor>>, outputNames?: readonly string[], counter?: TransferCounter): Promise<Record<string, Tensor>> {
    return (await this.runDevice(feeds, outputNames, [], counter)) as Record<string, Tensor>;
  }

  /**
   * Runs the model with feeds that may be device tensors (DEVICE_RESIDENT_BACKENDS; a device tensor is
   * never copied) and keeps the outputs named in `keep` on the device, returned as DeviceTensors the
   * caller disposes (disposeDeviceTensors); the other outputs come back to the host.
   */
  async runDevice(
    feeds: Readonly<Record<string, Feed>>,
    outputNames: readonly string[] | undefined,
    keep: readonly string[],
    counter?: TransferCounter,
  ): Promise<Record<string, Tensor | DeviceTensor>> {
    const session = this.#session;
    if (session === undefined) throw new EngineError(`The session for ${this.modelPath} was released.`);
    const outputs = (await inferenceThread.call({ op: 'run', session, feeds, outputs: outputNames, keep })) as Record<string, Tensor | DeviceTensor>;
    if (counter && this.backend !== 'cpu') {
      counter.add('hostToDevice', Object.values(feeds).filter((feed) => !isDeviceTensor(feed)));
      counter.add('deviceToHost', Object.values(outputs).filter((output) => !isDeviceTensor(output)));
    }
    return outputs;
  }

  /** Frees the native session (weights, arenas). Safe to call twice. */
  async release(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session !== undefined) await inferenceThread.call({ op: 'release', session });
  }

  get released(): boolean {
    return this.#session === undefined;
  }
}

/**
 * An onnxruntime session on the thread that created it. onnxruntime-node loads and runs synchronously,
 * blocking that thread's event loop for the whole load or run: only the inference thread
 * (inference-worker.ts) uses this class; everything else holds a ModelSession.
 */
export class LocalSession {
  readonly modelPath: string;
  readonly backend: Backend;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly source: SessionSource;
  private readonly inputs: readonly InputSpec[];
  private session: ort.InferenceSession | undefined;
  /**
   * Weights the graph takes as inputs, fed at every run from this process's memory: an optimized-model
   * cache entry's conv filters (optimized-models.ts). Not among inputNames.
   */
  private resident: Readonly<Record<string, ort.Tensor>>;
  /**
   * Feeds that arrive in shared memory (a SharedArrayBuffer reaches this thread without a copy: a
   * training step's parameters, sent at every step), copied into a buffer per input kept for the
   * session's life: onnxruntime-node takes no shared memory, and a fresh copy per run would cost the
   * same pass plus the page faults of new memory.
   */
  private readonly staging = new Map<string, Tensor['data']>();

  private constructor(modelPath: string, backend: Backend, session: ort.InferenceSession, source: SessionSource, resident: Readonly<Record<string, ort.Tensor>> = {}) {
    this.modelPath = modelPath;
    this.backend = backend;
    this.session = session;
    this.source = source;
    this.resident = resident;
    this.inputNames = session.inputNames.filter((name) => !(name in resident));
    this.outputNames = [...session.outputNames];
    this.inputs = session.inputMetadata
      .filter((meta) => !(meta.name in resident))
      .map((meta) => (meta.isTensor ? { name: meta.name, dtype: APP_DTYPES.get(meta.type), shape: meta.shape } : { name: meta.name }));
  }

  static async create(modelPath: string, options: SessionOptions = {}): Promise<LocalSession> {
    const backend = options.backend ?? 'cpu';
    const info = listBackends().find((entry) => entry.backend === backend);
    if (!info?.available) {
      const available = listBackends().filter((entry) => entry.available).map((entry) => entry.backend);
      throw new UserError(
        'unsupported',
        `The '${backend}' execution provider is not available: ${info?.reason ?? 'unknown provider.'}`,
        `Available here: ${available.join(', ')}.`,
      );
    }
    // An EngineError, as onnxruntime's own failure would be, so a job still falls back to the CPU.
    const missing = missingDevice(backend);
    if (missing !== undefined) throw new EngineError(`The '${backend}' execution provider has no usable device: ${missing}`);
    if (!existsSync(modelPath)) throw new UserError('not-found', `Model file ${modelPath} does not exist.`);
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [backend],
      intraOpNumThreads: options.intraOpThreads ?? defaultThreads(),
      interOpNumThreads: options.interOpThreads ?? 1,
      executionMode: (options.interOpThreads ?? 1) > 1 ? 'parallel' : 'sequential',
      graphOptimizationLevel: options.optimization ?? 'all',
      enableCpuMemArena: true,
      enableMemPattern: options.memoryPattern ?? true,
      // Warnings such as "Some nodes were not assigned to the preferred execution providers" (shape ops
      // run on the CPU by design) would reach the user's terminal at every GPU session: see runtime-log.ts.
      logSeverityLevel: ortLogSeverity(),
      // No freeDimensionOverrides: onnxruntime-node 1.30's binding never reads it (a web-only option;
      // FreeDimensionOverrideTransformer reports 0 changes). Models declare their intermediate shapes
      // instead (app/onnx/model-proto.ts), which is what the memory planner needs; fixing the input dims
      // in the model made no measurable difference to a U-Net step (0.78 vs 0.81 CPU s, 1 thread).
      extra: nestConfig(flatConfig(options)),
      ...(options.profile === undefined ? {} : { enableProfiling: true, profileFilePrefix: options.profile }),
      // Outputs stay on the device, so a step's latents can feed the next run without a round trip;
      // run() reads back the outputs the caller wants on the host (hostTensor).
      ...(DEVICE_RESIDENT_BACKENDS.has(backend) ? { preferredOutputLocation: 'gpu-buffer' as const } : {}),
    };
    try {
      const rewritten = (options.fusedAttention ?? !EXPLICIT_ATTENTION_BACKENDS.has(backend)) ? undefined : withExplicitAttention(readFileSync(modelPath));
      if (rewritten) {
        // Loaded from memory: external weights are then found relative to this folder instead of the model's path.
        sessionOptions.extra = nestConfig({ ...flatConfig(options), 'session.model_external_initializers_file_folder_path': dirname(modelPath) });
      }
      runtimeLog(`session ${basename(modelPath)} on ${backend}${rewritten ? `, ${rewritten.rewritten} MultiHeadAttention node(s) as standard ops` : ''}`);
      if (rewritten) return new LocalSession(modelPath, backend, await ort.InferenceSession.create(rewritten.bytes, sessionOptions), 'model');
      // The cache holds CPU graphs: other providers' layouts and kernels are chosen at session creation.
      const cacheRoot = backend === 'cpu' && sessionOptions.graphOptimizationLevel !== 'disabled' ? options.optimizedModels : undefined;
      const optimized = cacheRoot === undefined ? undefined : await openOptimized(modelPath, cacheRoot, options, sessionOptions);
      if (optimized) return new LocalSession(modelPath, backend, optimized.session, optimized.source, optimized.resident);
      return new LocalSession(modelPath, backend, await ort.InferenceSession.create(modelPath, sessionOptions), 'model');
    } catch (error) {
      throw new EngineError(`onnxruntime could not load ${modelPath} on ${backend}: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * Runs the model. Every missing feed, unknown feed, dtype and rank mismatch is reported at once, by
   * name. Returns the requested outputs (default: all), on the CPU. onnxruntime-node runs the model
   * synchronously on this thread (inside a setImmediate): the inference thread's reason to exist.
   */
  async run(feeds: Readonly<Record<string, Feed>>, outputNames?: readonly string[], keep: readonly string[] = []): Promise<Record<string, Tensor | DeviceTensor>> {
    const session = this.session;
    if (!session) throw new EngineError(`The session for ${this.modelPath} was released.`);
    this.checkFeeds(feeds);
    const wanted = outputNames ?? this.outputNames;
    const unknown = wanted.filter((name) => !this.outputNames.includes(name));
    if (unknown.length > 0) {
      throw new UserError('invalid-argument', `Unknown outputs ${unknown.map((n) => `'${n}'`).join(', ')} for ${this.modelPath}.`, `The model's outputs are: ${this.outputNames.join(', ')}.`);
    }
    const ortFeeds: Record<string, ort.Tensor> = { ...this.resident };
    for (const [name, tensor] of Object.entries(feeds)) ortFeeds[name] = isDeviceTensor(tensor) ? deviceTensors.get(tensor, name) : toOrtTensor(this.staged(name, tensor), name);
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await session.run(ortFeeds, [...wanted]);
    } catch (error) {
      throw new EngineError(`onnxruntime failed running ${this.modelPath}: ${(error as Error).message}`, { cause: error });
    }
    const outputs: Record<string, Tensor | DeviceTensor> = {};
    for (const name of wanted) {
      const result = results[name] as ort.Tensor;
      outputs[name] = keep.includes(name) ? deviceTensors.add(result, name) : await hostTensor(result, this.backend, name);
    }
    return outputs;
  }

  private checkFeeds(feeds: Readonly<Record<string, Feed>>): void {
    const problems: string[] = [];
    for (const input of this.inputs) {
      const feed = feeds[input.name];
      const expected = `${input.dtype ?? '?'} ${input.shape ? describeShape(input.shape) : '[?]'}`;
      if (!feed) {
        problems.push(`missing feed '${input.name}' (${expected})`);
        continue;
      }
      if (input.dtype && feed.dtype !== input.dtype) {
        problems.push(`feed '${input.name}' is ${feed.dtype} ${describeShape(feed.shape)}, expected ${expected}`);
        continue;
      }
      if (input.shape) {
        const mismatch =
          feed.shape.length !== input.shape.length || input.shape.some((dim, index) => typeof dim === 'number' && dim !== feed.shape[index]);
        if (mismatch) problems.push(`feed '${input.name}' has shape ${describeShape(feed.shape)}, expected ${expected}`);
      }
    }
    for (const name of Object.keys(feeds)) {
      if (!this.inputNames.includes(name)) problems.push(`unknown feed '${name}'`);
    }
    if (problems.length > 0) {
      const inputs = this.inputs.map((input) => `${input.name}: ${input.dtype ?? '?'} ${input.shape ? describeShape(input.shape) : '[?]'}`);
      throw new UserError('mismatch', `Wrong feeds for ${this.modelPath}: ${problems.join('; ')}.`, `The model takes ${inputs.join(', ')}.`);
    }
  }

  /** Frees the native session (weights, arenas). Safe to call twice. */
  async release(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.staging.clear();
    this.resident = {};
    await session?.release();
  }

  get released(): boolean {
    return this.session === undefined;
  }

  /** `tensor` itself, or a copy in this input's staging buffer when its data is in shared memory. */
  private staged(name: string, tensor: Tensor): Tensor {
    if (!inSharedMemory(tensor.data)) return tensor;
    let buffer = this.staging.get(name);
    if (!buffer || buffer.constructor !== tensor.data.constructor || buffer.length !== tensor.data.length) {
      buffer = new (tensor.data.constructor as new (length: number) => Tensor['data'])(tensor.data.length);
      this.staging.set(name, buffer);
    }
    (buffer as Float32Array).set(tensor.data as Float32Array);
    return { ...tensor, data: buffer } as Tensor;
  }
}

/**
 * A session of `modelPath` from the optimized-model cache in `root` (optimized-models.ts): the saved
 * entry, or one built now by letting onnxruntime optimize the model and write the result. Undefined when
 * the model cannot be cached (e.g. the disk is full): the caller then loads the model itself, as without
 * a cache. Cache trouble never reaches the user; the runtime log says what happened.
 */
async function openOptimized(
  modelPath: string,
  root: string,
  options: SessionOptions,
  sessionOptions: ort.InferenceSession.SessionOptions,
): Promise<{ session: ort.InferenceSession; source: 'cache' | 'built'; resident: Record<string, ort.Tensor> } | undefined> {
  const name = basename(modelPath);
  const graphOptions = { optimization: sessionOptions.graphOptimizationLevel, config: flatConfig(options) };
  let identity: ReturnType<typeof optimizedModelKey>;
  try {
    identity = optimizedModelKey(modelPath, { onnxruntime: onnxruntimeVersion(), backend: 'cpu', graphOptions });
  } catch (error) {
    runtimeLog(`optimized-model cache: ${name} not cached (${firstLine(error)})`);
    return undefined;
  }
  // Loaded as saved: its transformers already ran, running them again would only cost time.
  const savedOptions: ort.InferenceSession.SessionOptions = { ...sessionOptions, graphOptimizationLevel: 'disabled' };
  // The resident weights are read while onnxruntime creates the session; a weights file that cannot
  // give them is damaged (the session is released, the entry rebuilt).
  const open = async (entry: OptimizedModel) => {
    const reading = readResidentWeights(entry);
    reading.catch(() => undefined); // handled below, after the session is made: not an unhandled rejection meanwhile
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(entry.modelFile, savedOptions);
    } catch (error) {
      await reading.catch(() => undefined);
      throw error;
    }
    try {
      return { session, resident: await reading };
    } catch (error) {
      await session.release();
      throw error;
    }
  };
  const cached = findOptimizedModel(root, identity, (reason) => runtimeLog(`optimized-model cache: the entry of ${name} was discarded (${reason}); rebuilding it`));
  if (cached !== undefined) {
    try {
      return { ...(await open(cached)), source: 'cache' };
    } catch (error) {
      runtimeLog(`optimized-model cache: onnxruntime could not load the entry of ${name} (${firstLine(error)}); rebuilding it`);
      discardOptimizedModel(root, identity);
    }
  }
  let built: OptimizedModel;
  try {
    built = await buildOptimizedModel(root, identity, async (modelFile) => {
      const writer = await ort.InferenceSession.create(modelPath, {
        ...sessionOptions,
        optimizedModelFilePath: modelFile,
        // Not session.save_external_prepacked_constant_initializers: onnxruntime 1.30 then maps the packed
        // MatMul weights from the file, but the steps of such a session were 8-10 % slower (CPU time, U-Net
        // at 256², alternated with an uncached session; as slow as with prepacking off), and it writes the
        // blobs misaligned after tensors of odd sizes (the first run then crashed). Packing at load costs
        // ≈ 1 s per GB of MatMul weights instead. This session only writes the graph: packing its weights
        // would cost that time and a packed copy of them in memory, for nothing.
        extra: nestConfig({
          ...flatConfig(options),
          'session.optimized_model_external_initializers_file_name': OPTIMIZED_WEIGHTS_FILE,
          'session.disable_prepacking': '1',
        }),
      });
      await writer.release();
    });
  } catch (error) {
    runtimeLog(`optimized-model cache: ${name} could not be cached (${firstLine(error)}); loading it without the cache`);
    return undefined;
  }
  try {
    return { ...(await open(built)), source: 'built' };
  } catch (error) {
    runtimeLog(`optimized-model cache: onnxruntime could not load the entry it wrote for ${name} (${firstLine(error)}); loading the model without the cache`);
    discardOptimizedModel(root, identity);
    return undefined;
  }
}

/**
 * Where a resident weight starts in its buffer. glibc (Linux) returns a large allocation 16 bytes past
 * a page boundary, so 48 bytes in the data starts on a 64-byte boundary, as onnxruntime aligns its own
 * buffers: an SD1.5 U-Net step took 7 % less CPU with its conv filters so placed than at the start of
 * their buffers (alternated in one session, two runs of five). Other allocators are not measured: there
 * the data keeps the buffer's own alignment.
 */
const RESIDENT_OFFSET = platform() === 'linux' ? 48 : 0;

/**
 * An entry's resident weights (optimized-models.ts), read from its weights file into this process's
 * memory (a buffer each) as onnxruntime tensors. Every read is queued at once on libuv's thread pool,
 * so the reads go on while onnxruntime creates the session on this thread (openOptimized).
 */
function readResidentWeights(entry: OptimizedModel): Promise<Record<string, ort.Tensor>> {
  if (entry.resident.length === 0) return Promise.resolve({});
  const fd = openSync(entry.weightsFile, 'r');
  const readAt = (bytes: Uint8Array, done: number, position: number): Promise<void> =>
    new Promise((resolve, reject) =>
      read(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), position + done, (error, count) => {
        if (error) reject(error);
        else if (count === 0) reject(new EngineError('the weights file ends early'));
        else if (done + count < bytes.length) readAt(bytes, done + count, position).then(resolve, reject);
        else resolve();
      }),
    );
  const reads = entry.resident.map(async (weight) => {
    const buffer = new ArrayBuffer(RESIDENT_OFFSET + weight.length);
    await readAt(new Uint8Array(buffer, RESIDENT_OFFSET, weight.length), 0, weight.offset);
    const data = weight.dtype === 'float16' ? new Uint16Array(buffer, RESIDENT_OFFSET, weight.length / 2) : new Float32Array(buffer, RESIDENT_OFFSET, weight.length / 4);
    return [weight.name, new ort.Tensor(ORT_TYPES[weight.dtype]!, data as never, [...weight.dims])] as const;
  });
  return Promise.allSettled(reads).then((settled) => {
    closeSync(fd);
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    return Object.fromEntries(settled.map((result) => (result as PromiseFulfilledResult<readonly [string, ort.Tensor]>).value));
  });
}

function firstLine(error: unknown): string {
  return ((error as Error).message ?? String(error)).split('\n')[0]!.slice(0, 300);
}

function flatConfig(options: SessionOptions): Record<string, string> {
  return { ...(options.prepackWeights === false ? { 'session.disable_prepacking': '1' } : {}), ...options.config };
}

/** onnxruntime-node takes config entries as nested objects ({ session: { key: value } }) and joins keys with '.'. */
function nestConfig(config: Readonly<Record<string, string>>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    const parts = key.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      node[part] ??= {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = value;
  }
  return root;
}

/**
 * The inference thread's device tensors: onnxruntime tensors kept between runs (outputs a caller asked to
 * keep, uploads), by id. Only the inference thread touches it; callers hold DeviceTensor handles.
 */
class DeviceTensorTable {
  readonly #tensors = new Map<number, ort.Tensor>();
  #next = 1;

  add(tensor: ort.Tensor, name: string): DeviceTensor {
    const dtype = APP_DTYPES.get(tensor.type);
    if (!dtype) throw new EngineError(`Output '${name}' has type ${tensor.type}, which has no app dtype.`);
    const id = this.#next++;
    this.#tensors.set(id, tensor);
    return { device: id, dtype, shape: [...tensor.dims] };
  }

  get(handle: DeviceTensor, name: string): ort.Tensor {
    const tensor = this.#tensors.get(handle.device);
    if (!tensor) throw new EngineError(`Feed '${name}' is a device tensor that was disposed (id ${handle.device}).`);
    return tensor;
  }

  dispose(handles: readonly DeviceTensor[]): void {
    for (const handle of handles) {
      const tensor = this.#tensors.get(handle.device);
      this.#tensors.delete(handle.device);
      // A CPU tensor's dispose only drops its reference; a gpu-buffer one frees the buffer now.
      tensor?.dispose();
    }
  }

  get size(): number {
    return this.#tensors.size;
  }
}

const deviceTensors = new DeviceTensorTable();

/**
 * Identity sessions that move a tensor of one dtype and rank between the host and a provider's device:
 * 'gpu-buffer' outputs upload a host feed, 'cpu' outputs read a device feed back. onnxruntime-node 1.30
 * has no other way to read a gpu-buffer tensor in Node: Tensor.getData() on one aborts the process
 * (a C++ exception thrown as a char pointer), so reads go through a session whose output is on the CPU.
 */
const transferSessions = new Map<string, Promise<ort.InferenceSession>>();

function transferSession(backend: Backend, dtype: DType, rank: number, to: 'cpu' | 'gpu-buffer'): Promise<ort.InferenceSession> {
  const key = `${backend}:${dtype}:${rank}:${to}`;
  let session = transferSessions.get(key);
  if (!session) {
    const g = new Graph(`transfer_${dtype}_${rank}`);
    g.output(identity(g, g.input('x', dtype, Array.from({ length: rank }, (_, axis) => `d${axis}`))), 'y');
    session = ort.InferenceSession.create(encodeModel(g, new Map()), {
      executionProviders: [backend],
      graphOptimizationLevel: 'disabled',
      preferredOutputLocation: to,
      logSeverityLevel: ortLogSeverity(),
    });
    transferSessions.set(key, session);
    session.catch(() => transferSessions.delete(key));
  }
  return session;
}

/** An output as an app Tensor in host memory: read back (and the device copy freed) when it is on a device. */
async function hostTensor(result: ort.Tensor, backend: Backend, name: string): Promise<Tensor> {
  if (result.location !== 'gpu-buffer') return fromOrtTensor(result, name);
  try {
    const dtype = APP_DTYPES.get(result.type);
    if (!dtype) throw new EngineError(`Output '${name}' has type ${result.type}, which has no app dtype.`);
    const reader = await transferSession(backend, dtype, result.dims.length, 'cpu');
    const read = await reader.run({ x: result });
    return fromOrtTensor(read.y as ort.Tensor, name);
  } catch (error) {
    if (error instanceof EngineError) throw error;
    throw new EngineError(`onnxruntime could not read output '${name}' back from the ${backend} device: ${(error as Error).message}`, { cause: error });
  } finally {
    result.dispose();
  }
}

/** Copies a host tensor to `backend`'s device (inference thread). */
export async function uploadLocal(tensor: Tensor, backend: Backend): Promise<DeviceTensor> {
  try {
    const writer = await transferSession(backend, tensor.dtype, tensor.shape.length, DEVICE_RESIDENT_BACKENDS.has(backend) ? 'gpu-buffer' : 'cpu');
    const written = await writer.run({ x: toOrtTensor(tensor) });
    return deviceTensors.add(written.y as ort.Tensor, 'upload');
  } catch (error) {
    if (error instanceof EngineError || error instanceof UserError) throw error;
    throw new EngineError(`onnxruntime could not copy a tensor to the ${backend} device: ${(error as Error).message}`, { cause: error });
  }
}

/** Reads a device tensor back into host memory (inference thread); the device tensor stays. */
export async function downloadLocal(handle: DeviceTensor, backend: Backend): Promise<Tensor> {
  const tensor = deviceTensors.get(handle, 'download');
  if (tensor.location !== 'gpu-buffer') return fromOrtTensor(tensor);
  const reader = await transferSession(backend, handle.dtype, handle.shape.length, 'cpu');
  try {
    return fromOrtTensor((await reader.run({ x: tensor })).y as ort.Tensor);
  } catch (error) {
    throw new EngineError(`onnxruntime could not read a tensor back from the ${backend} device: ${(error as Error).message}`, { cause: error });
  }
}

/** Frees device tensors (inference thread). */
export function disposeLocal(handles: readonly DeviceTensor[]): void {
  deviceTensors.dispose(handles);
}

/** Device tensors held by the inference thread now (tests check that a job leaves none behind). */
export function deviceTensorCountLocal(): number {
  return deviceTensors.size;
}

/** Copies `tensor` to `backend`'s device: a DeviceTensor to feed to runDevice, disposed by the caller. */
export async function uploadTensor(tensor: Tensor, backend: Backend, counter?: TransferCounter): Promise<DeviceTensor> {
  const handle = (await inferenceThread.call({ op: 'upload', tensor, backend })) as DeviceTensor;
  if (backend !== 'cpu') counter?.add('hostToDevice', [tensor]);
  return handle;
}

/** Reads a device tensor of `backend` into host memory. */
export async function downloadTensor(handle: DeviceTensor, backend: Backend, counter?: TransferCounter): Promise<Tensor> {
  const tensor = (await inferenceThread.call({ op: 'download', handle, backend })) as Tensor;
  if (backend !== 'cpu') counter?.add('deviceToHost', [tensor]);
  return tensor;
}

/** Frees device tensors; disposed handles must not be fed again. */
export async function disposeDeviceTensors(handles: readonly DeviceTensor[]): Promise<void> {
  if (handles.length > 0) await inferenceThread.call({ op: 'dispose', handles });
}

/** How many device tensors the inference thread holds (a finished job holds none). */
export async function deviceTensorCount(): Promise<number> {
  return (await inferenceThread.call({ op: 'device-count' })) as number;
}

/** Loads a model file into a session (ModelSession.create). */
export function createSession(modelPath: string, options: SessionOptions = {}): Promise<ModelSession> {
  return ModelSession.create(modelPath, options);
}
