// The U-Net of a merge / MBW recipe as one ordinary U-Net graph (sample, timestep [batch] float32,
// encoder_hidden_states [batch, tokens, D] → noise_pred), built by the normal builder (addUnet) from the
// merged weights. Nothing is written by building it; where the merged tensors end up is decided by how
// the graph is saved:
//
// - 'weights-file' (default): a plain Graph over a lazy MergedWeights. Saving it (compileEnsembleGraph,
//   saveModel) streams each merged tensor, computed in TypeScript one at a time, into the graph's weights
//   file in the compiled cache; tensors a member passes through unchanged (MBW blocks at α 0 or 1) keep
//   their file region and are referenced in place. Session creation is then that of a plain U-Net.
// - 'graph': a MergingGraph (merging-graph.ts): every member's tensor is referenced in place and
//   θ = ((w_1·θ_1) + w_2·θ_2) + … is Mul/Add nodes that onnxruntime folds at session creation. Nothing is
//   written, but the folding is expensive in memory.
//
// Measured (onnxruntime-node 1.30, CPU, 2 shared cores, default session options; peak anonymous RSS of
// the process sampled every 5 ms from /proc/<pid>/status):
//   * ORT does fold: the optimized model (optimizedModelFilePath) of the in-graph merge of the 3 golden
//     tiny U-Nets has exactly the node list of a plain U-Net — no Mul/Add on weights left.
//   * The tiny U-Nets (2.5 M parameters, 9.9 MB each), K = 3, 1 intra-op thread:
//       plain single model     create 0.73 s   peak anon 85 MiB
//       in-graph               create 1.16 s   peak anon 164 MiB
//       weights-file           merge+write 0.36 s, create 0.54 s   peak anon 98 MiB
//   * One SD1.5-size layer — the mid block, 97 M parameters, 388 MB fp32 per member (synthetic
//     plausibleWeight members saved as safetensors files), weights 1/K, 1 intra-op thread:
//       plain single model     create 1.6–2.5 s   peak anon 0.62 GB
//       in-graph, K = 2        create 4.6–5.3 s   peak anon 1.33 GB
//       in-graph, K = 3        create 7.5–8.4 s   peak anon 2.09 GB
//       weights-file, K = 2    merge+write 3.4 s, create 1.8–2.3 s   peak anon 0.69 GB   (+388 MB on disk)
//       weights-file, K = 3    merge+write 2.9–4.6 s, create 1.1–2.1 s   peak anon 0.86 GB
//     ORT loads every member's initializers into memory to fold them, so the in-graph peak grows by about
//     one model size per member: scaled to a whole SD1.5 U-Net (8.9× this block) K = 3 would peak near
//     19 GB during session creation, against ~7.7 GB for the weights-file path (a single model's 5.5 GB).
//   So the studio merges into a weights file: it costs one pass over the members' weights (≈ 30–80 s and
//   3.4 GB of compiled cache for SD1.5 fp32, once per recipe; later loads reuse the cache) and keeps
//   memory at a single model's. The in-graph form stays as the cross-check of the arithmetic (tests) and
//   for small models.
import type { ComponentConfig } from '../checkpoints/component-config.ts';
import { Graph } from '../onnx/graph.ts';
import { addUnet } from '../models/unet.ts';
import { checkSameArchitecture, type Expert } from './lock-step-graph.ts';
import { mergeComponentWeights, type MergeMethod } from './merge-method.ts';
import { MergingGraph } from './merging-graph.ts';

export interface MergedUnetOptions {
  /** Where θ is computed: streamed into the saved weights file (default) or by Mul/Add nodes folded by ORT. */
  readonly computeIn?: 'weights-file' | 'graph';
  readonly name?: string;
  /** Names of the members for error messages ('model 1', … by default). */
  readonly labels?: readonly string[];
}

export function buildMergedUnetGraph(experts: readonly Expert[], method: MergeMethod, options: MergedUnetOptions = {}): Graph {
  checkSameArchitecture(experts);
  const config = experts[0]!.config;
  const merged = mergeComponentWeights(
    'unet',
    experts.map((expert) => expert.weights),
    method,
    { unetConfig: { ...config } as ComponentConfig, labels: options.labels },
  );
  const name = options.name ?? (method.kind === 'mbw' ? 'mbw_unet' : 'merged_unet');
  const g = options.computeIn === 'graph' ? new MergingGraph(name) : new Graph(name);
  const { noisePred } = addUnet(g, merged, config);
  g.output(noisePred, 'noise_pred');
  return g;
}
