// Saves an ensemble graph (lock-step AFA / feature-average / output-average) into a directory and opens
// one onnxruntime session for it. The experts' and aggregators' weights are referenced in place: the
// serializer hard-links their weights files into the directory (onnxruntime refuses external data outside
// the model's directory), so compiling a recipe whose experts are imported copies no weights.
import type { JobControl } from '../common/progress.ts';
import type { Graph } from '../onnx/graph.ts';
import { saveModel } from '../onnx/serialize.ts';
import { ModelSession, type SessionOptions } from '../runtime/onnx-runtime.ts';

export interface CompiledEnsemble {
  readonly modelPath: string;
  readonly session: ModelSession;
  release(): Promise<void>;
}

export async function compileEnsembleGraph(
  graph: Graph,
  dir: string,
  options: { readonly session?: SessionOptions } & JobControl = {},
): Promise<CompiledEnsemble> {
  const saved = saveModel(graph, { dir, modelFile: `${graph.name}.onnx`, weightsFile: `${graph.name}.weights`, signal: options.signal, onProgress: options.onProgress });
  const session = await ModelSession.create(saved.modelPath, options.session);
  return { modelPath: saved.modelPath, session, release: () => session.release() };
}
