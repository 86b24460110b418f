// Runs a built graph the way the app does: saved with external weights into a temporary directory,
// loaded by path into an onnxruntime session, fed app Tensors.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph } from '../../app/onnx/graph.ts';
import { saveModel } from '../../app/onnx/serialize.ts';
import { ModelSession } from '../../app/runtime/onnx-runtime.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import type { LazyTensor } from '../../app/tensor/weights.ts';

export function temporaryDirectory(prefix = 'afa-onnx-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function runGraph(graph: Graph, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const dir = temporaryDirectory();
  try {
    const saved = saveModel(graph, { dir, modelFile: 'model.onnx', weightsFile: 'model.weights' });
    const session = await ModelSession.create(saved.modelPath, { intraOpThreads: 1 });
    try {
      return await session.run(feeds);
    } finally {
      await session.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A LazyTensor over an in-memory tensor that counts its reads. */
export function lazy(tensor: Tensor): LazyTensor & { reads: number } {
  const result = {
    dtype: tensor.dtype,
    shape: tensor.shape,
    reads: 0,
    read(): Tensor {
      result.reads++;
      return tensor;
    },
  };
  return result;
}

export function f32(shape: readonly number[], data: Float32Array): Tensor<'float32'> {
  return { dtype: 'float32', shape: [...shape], data };
}
