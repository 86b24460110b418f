// How the pipeline reaches onnxruntime: every model file runs through one shared SessionCache, so a
// U-Net used by a single-model job and by an ensemble job is loaded once, and memory stays within the
// cache's budget. A session is pinned (`SessionCache.use`) for the length of each run, never longer, so
// the cache may release it between steps of another model's job.
import { totalmem } from 'node:os';
import { EngineError } from '../common/errors.ts';
import { ModelSession, type SessionOptions } from '../runtime/onnx-runtime.ts';
import { estimateSessionBytes, SessionCache } from '../runtime/session-cache.ts';
import type { Tensor } from '../tensor/tensor.ts';

export interface ModelRuntime {
  readonly sessions: SessionCache<ModelSession>;
  /** Backend, threads, … for every session this runtime creates. */
  readonly sessionOptions: SessionOptions;
}

/**
 * A runtime with its own cache. Default budget: half the machine's memory — SD1.5 in float32 needs
 * ≈ 4.1 GB (U-Net 3.4, text encoder 0.5, VAE decoder 0.2).
 */
export function createModelRuntime(options: { readonly sessionOptions?: SessionOptions; readonly budgetBytes?: number } = {}): ModelRuntime {
  return {
    sessions: new SessionCache<ModelSession>({ budgetBytes: options.budgetBytes ?? Math.floor(totalmem() / 2) }),
    sessionOptions: Object.freeze({ ...options.sessionOptions }),
  };
}

/** One model file, run through the runtime's cache (created on first use). */
export class CachedModel {
  readonly modelPath: string;
  readonly #runtime: ModelRuntime;
  readonly #key: string;
  #sizeBytes: number | undefined;

  constructor(modelPath: string, runtime: ModelRuntime) {
    this.modelPath = modelPath;
    this.#runtime = runtime;
    this.#key = `${runtime.sessionOptions.backend ?? 'cpu'}:${modelPath}`;
  }

  /** Runs the model and returns output `output`. */
  async run(feeds: Readonly<Record<string, Tensor>>, output: string): Promise<Tensor> {
    this.#sizeBytes ??= this.#estimateSize();
    const create = () => ModelSession.create(this.modelPath, this.#runtime.sessionOptions);
    const outputs = await this.#runtime.sessions.use(this.#key, this.#sizeBytes, create, (session) => session.run(feeds, [output]));
    return outputs[output]!;
  }

  #estimateSize(): number {
    try {
      return estimateSessionBytes(this.modelPath);
    } catch (error) {
      // The file is there (resolvers check) but unreadable as ONNX: the store is damaged, not the request.
      throw new EngineError(`The model file ${this.modelPath} cannot be read: ${(error as Error).message}`, { cause: error });
    }
  }
}
