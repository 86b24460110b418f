// The inference thread: one worker thread per process that holds every onnxruntime session and runs
// them. onnxruntime-node loads models and runs them synchronously on the thread that calls it (inside a
// setImmediate), so on the engine's main thread a U-Net step (seconds at 512²) or a session load (seconds
// for a 3.4 GB U-Net) would hold every API call and a cancel until it ends. Here the main thread only
// posts feeds and receives outputs; it answers API calls while a step runs, and a cancel is seen the
// moment it arrives (the loop honours it before the next step).
//
// Messages carry app Tensors as structured clones (feeds are copied: callers reuse them, e.g. the prompt
// embeddings of every step; latents and features are megabytes, a copy is ~1 ms). Errors come back as
// plain data and become the same classes again (UserError, EngineError), so callers see no difference.
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { EngineError, UserError, type UserErrorCode } from '../common/errors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { DeviceTensor, Feed } from './device-tensor.ts';
import type { Backend } from './onnx-runtime.ts';
import { runtimeLog } from './runtime-log.ts';
import type { AdamWScalars, AdamWSlice } from '../optimizer/adamw-kernel.ts';

/** What a session looks like from outside: its names, and where its graph came from. */
export interface SessionDescription {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** SessionSource of onnx-runtime.ts: 'model', 'cache' (optimized-model cache) or 'built' (cache entry written now). */
  readonly source: 'model' | 'cache' | 'built';
}

export type InferenceRequest =
  | { readonly op: 'create'; readonly modelPath: string; readonly options: unknown }
  | { readonly op: 'run'; readonly session: number; readonly feeds: Readonly<Record<string, Feed>>; readonly outputs: readonly string[] | undefined; readonly keep: readonly string[] }
  | { readonly op: 'release'; readonly session: number }
  | { readonly op: 'upload'; readonly tensor: Tensor; readonly backend: Backend }
  | { readonly op: 'download'; readonly handle: DeviceTensor; readonly backend: Backend }
  | { readonly op: 'dispose'; readonly handles: readonly DeviceTensor[] }
  | { readonly op: 'device-count' }
  // Part of an optimizer update over shared memory (AdamW.updateInParallel).
  | { readonly op: 'adamw'; readonly slices: readonly AdamWSlice[]; readonly scalars: AdamWScalars };

export interface ErrorData {
  readonly name: string;
  readonly message: string;
  readonly code?: UserErrorCode;
  readonly hint?: string;
}

export type InferenceReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: ErrorData };

/** The worker's entry: the TypeScript source under tsx (tests, npm run serve), the bundled file in the app. */
const entry = new URL(import.meta.url.endsWith('.ts') ? './inference-worker.ts' : './inference-worker.cjs', import.meta.url);

function startWorker(): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(fileURLToPath(entry));
  // A worker does not inherit the parent's module hooks: register tsx's in it before loading the entry.
  const tsx = import.meta.resolve('tsx/esm/api');
  const source = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(source, { eval: true });
}

export function errorFromData(data: ErrorData): Error {
  if (data.name === 'UserError' && data.code) {
    const bare = data.hint && data.message.endsWith(` ${data.hint}`) ? data.message.slice(0, -data.hint.length - 1) : data.message;
    return new UserError(data.code, bare, data.hint);
  }
  if (data.name === 'EngineError') return new EngineError(data.message);
  return new EngineError(`The inference thread failed: ${data.message}`);
}

class InferenceThread {
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  call(request: InferenceRequest): Promise<unknown> {
    const worker = this.#ensureWorker();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // Held while a call is out: an idle thread must not keep the process alive.
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({ id, ...request });
    });
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const worker = startWorker();
    worker.unref();
    worker.on('message', (reply: InferenceReply | { readonly log: string }) => {
      if ('log' in reply) {
        runtimeLog(reply.log);
        return;
      }
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) worker.unref();
      if (!pending) return;
      if (reply.ok) pending.resolve(reply.value);
      else pending.reject(errorFromData(reply.error));
    });
    // A thread that failed (an exception outside a call) or exited takes its sessions with it; the calls
    // waiting on it fail, and the next session starts a new thread.
    const lost = (reason: string) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const call of pending) call.reject(new EngineError(`The inference thread stopped: ${reason}`));
    };
    worker.on('error', (error) => lost(error.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    this.#worker = worker;
    return worker;
  }
}

/** The process's inference thread, started on first use. */
export const inferenceThread = new InferenceThread();
