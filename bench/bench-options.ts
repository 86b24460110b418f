// What every suite's sessions share: the execution provider (`npm run bench -- --backend webgpu`, default
// cpu; run-bench passes it on as AFA_BENCH_BACKEND so suites loaded later see it), what the U-Net and
// ensemble graphs compute in (`--precision fp16`, AFA_BENCH_PRECISION; default fp32) and the ensemble's
// image size (AFA_BENCH_ENSEMBLE_SIZE=512 for SD1.5 at 512², default 256²: the 2-core CI machine's size).
import type { StoredFloat } from '../app/onnx/graph.ts';
import { BACKENDS, type Backend, type SessionOptions } from '../app/runtime/onnx-runtime.ts';

export function benchComputeDtype(env: NodeJS.ProcessEnv = process.env): StoredFloat {
  const precision = env.AFA_BENCH_PRECISION ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'fp16') throw new Error(`AFA_BENCH_PRECISION=${precision} is not fp32 or fp16`);
  return precision === 'fp16' ? 'float16' : 'float32';
}

export function benchBackend(env: NodeJS.ProcessEnv = process.env): Backend {
  const name = env.AFA_BENCH_BACKEND ?? 'cpu';
  if (!(BACKENDS as readonly string[]).includes(name)) throw new Error(`AFA_BENCH_BACKEND=${name} is not one of ${BACKENDS.join(', ')}`);
  return name as Backend;
}

/** `options` on the bench's provider. */
export function benchSessionOptions(options: SessionOptions = {}): SessionOptions {
  return { ...options, backend: benchBackend() };
}

export function benchEnsembleSize(env: NodeJS.ProcessEnv = process.env): 256 | 512 {
  return env.AFA_BENCH_ENSEMBLE_SIZE === '512' ? 512 : 256;
}
