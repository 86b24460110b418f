// Which execution providers actually work here: listBackends() says what this onnxruntime build was
// compiled with; a provider can still find no device (WebGPU without a GPU adapter, CUDA without a
// driver). The probe opens a one-node model on each listed provider once per process and reports the
// failure as the reason, so Settings never offers a provider that would fail at the first generation.
// WebGPU on Linux without a Vulkan loader fails without a session being opened (trySessionOn).
import { Graph } from '../onnx/graph.ts';
import { encodeModel } from '../onnx/model-proto.ts';
import { identity } from '../onnx/ops.ts';
import { listBackends, trySessionOn, type BackendInfo } from './onnx-runtime.ts';

let probed: Promise<BackendInfo[]> | undefined;

function probeModel(): Uint8Array {
  const g = new Graph('probe');
  g.output(identity(g, g.input('x', 'float32', [1])), 'y');
  return encodeModel(g, new Map());
}

export function probeBackends(): Promise<BackendInfo[]> {
  probed ??= (async () => {
    const model = probeModel();
    const results: BackendInfo[] = [];
    for (const info of listBackends()) {
      if (!info.available || info.backend === 'cpu') {
        results.push(info);
        continue;
      }
      const failure = await trySessionOn(info.backend, model);
      results.push(failure === undefined ? info : { backend: info.backend, available: false, reason: `No usable device: ${failure}` });
    }
    return results;
  })();
  return probed;
}
