// Rewrites com.microsoft MultiHeadAttention nodes of an encoded model into the standard ops they stand
// for, for providers whose fused kernel cannot be trusted. Measured with onnxruntime-node 1.30's WebGPU
// provider on SwiftShader's Vulkan adapter: with a head width of 8 (the golden U-Net's; SD1.5 has 40 and
// 80) its MultiHeadAttention is off by up to 0.24 on outputs of magnitude 1 (the same node on the CPU,
// and the explicit form below on WebGPU, agree with PyTorch to 1e-6). Its WebGPU kernels pick flash /
// subgroup paths by adapter, and onnxruntime has fixed wrong-result bugs in them for other subgroup
// sizes (microsoft/onnxruntime#28520), so the fused node stays off WebGPU until a provider check proves
// it right.
//
// Per node, with q [B, Lq, C] and k, v [B, Lk, C], h heads of width d = C / h:
//   softmax(scale · (q → [B, h, Lq, d]) · (k → [B, h, d, Lk])) · (v → [B, h, Lk, d]) → [B, Lq, C]
// — the same math as app/models/attention.ts attentionCore with the scale on the scores (diffusers'
// baddbmm alpha). It materialises the [B, h, Lq, Lk] scores (SD1.5 512²: 2 × 8 × 4096² floats = 1 GiB
// per self-attention), which a GPU holds; the CPU keeps the fused kernel.
import type onnxProto from 'onnx-proto';
import { onnx } from '../onnx/model-proto.ts';

type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

const MHA = 'MultiHeadAttention';
const MS_DOMAIN = 'com.microsoft';

function attributeOf(node: NodeProto, name: string): onnxProto.onnx.IAttributeProto | undefined {
  return node.attribute?.find((attr) => attr.name === name);
}

function int64Tensor(name: string, values: readonly number[]): TensorProto {
  return onnx.TensorProto.create({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: [...values] });
}

function floatScalar(name: string, value: number): TensorProto {
  return onnx.TensorProto.create({ name, dims: [], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [value] });
}

function node(op: string, name: string, inputs: string[], outputs: string[], attrs: Record<string, number | number[]> = {}): NodeProto {
  const attribute = Object.entries(attrs).map(([key, value]) =>
    Array.isArray(value)
      ? onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INTS, ints: value })
      : onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INT, i: value }),
  );
  return onnx.NodeProto.create({ opType: op, name, input: inputs, output: outputs, attribute });
}

/**
 * The model with every 3-input MultiHeadAttention (q, k, v; no bias or mask, as the studio builds them)
 * replaced by Reshape/Transpose/MatMul/Mul/Softmax/MatMul/Transpose/Reshape; undefined when it has none.
 * Initializers (external data references included) are kept as they are. `rewritten` counts the nodes.
 */
export function withExplicitAttention(modelBytes: Uint8Array): { readonly bytes: Uint8Array; readonly rewritten: number } | undefined {
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph;
  if (!graph) return undefined;
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const shared = new Map<string, string>();
  const constant = (key: string, make: (name: string) => TensorProto): string => {
    let name = shared.get(key);
    if (!name) {
      name = `explicit_attention/${key}`;
      initializers.push(make(name));
      shared.set(key, name);
    }
    return name;
  };
  // Element types of the declared values (the studio declares every intermediate): a float16 graph's
  // scores take the scale and the softmax in float32, as the builders' own attention does.
  const elementTypes = new Map<string, number>();
  for (const info of [...(graph.input ?? []), ...(graph.valueInfo ?? []), ...(graph.output ?? [])]) {
    const type = info.type?.tensorType?.elemType;
    if (info.name && typeof type === 'number') elementTypes.set(info.name, type);
  }
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
  let rewritten = 0;
  for (const entry of graph.node ?? []) {
    const inputs = entry.input ?? [];
    const scale = attributeOf(entry, 'scale')?.f;
    // The studio always passes `scale` and never a bias or mask: anything else stays fused.
    if (entry.opType !== MHA || entry.domain !== MS_DOMAIN || inputs.length !== 3 || inputs.includes('') || !scale) {
      nodes.push(entry);
      continue;
    }
    const heads = Number(attributeOf(entry, 'num_heads')?.i ?? 0);
    const [q, k, v] = inputs as [string, string, string];
    const t = (suffix: string) => `${entry.name || `attention_${rewritten}`}/explicit/${suffix}`;
    // [B, L, C] → [B, L, h, d] (0 copies B and L, -1 infers d), and back with [0, 0, -1].
    const split = constant(`split_${heads}`, (name) => int64Tensor(name, [0, 0, heads, -1]));
    const merge = constant('merge', (name) => int64Tensor(name, [0, 0, -1]));
    const scaleName = constant(`scale_${scale}`, (name) => floatScalar(name, scale));
    const reduced = elementTypes.get(q) === FLOAT16;
    const scores = reduced ? [node('MatMul', t('scores'), [t('qh'), t('kt')], [t('s16')]), node('Cast', t('scores_wide'), [t('s16')], [t('s')], { to: FLOAT })] : [node('MatMul', t('scores'), [t('qh'), t('kt')], [t('s')])];
    const probabilities = reduced ? [node('Softmax', t('softmax'), [t('ss')], [t('p32')], { axis: -1 }), node('Cast', t('probabilities'), [t('p32')], [t('p')], { to: FLOAT16 })] : [node('Softmax', t('softmax'), [t('ss')], [t('p')], { axis: -1 })];
    nodes.push(
      node('Reshape', t('q_split'), [q, split], [t('q4')]),
      node('Transpose', t('q_heads'), [t('q4')], [t('qh')], { perm: [0, 2, 1, 3] }),
      node('Reshape', t('k_split'), [k, split], [t('k4')]),
      node('Transpose', t('k_heads'), [t('k4')], [t('kt')], { perm: [0, 2, 3, 1] }),
      node('Reshape', t('v_split'), [v, split], [t('v4')]),
      node('Transpose', t('v_heads'), [t('v4')], [t('vh')], { perm: [0, 2, 1, 3] }),
      ...scores,
      node('Mul', t('scale'), [t('s'), scaleName], [t('ss')]),
      ...probabilities,
      node('MatMul', t('mix'), [t('p'), t('vh')], [t('m')]),
      node('Transpose', t('back'), [t('m')], [t('mt')], { perm: [0, 2, 1, 3] }),
      node('Reshape', t('merge'), [t('mt'), merge], [entry.output![0]!]),
    );
    rewritten++;
  }
  if (rewritten === 0) return undefined;
  graph.node = nodes;
  graph.initializer = [...(graph.initializer ?? []), ...initializers];
  // The contrib domain stays imported only if another node still uses it.
  if (!nodes.some((entry) => entry.domain === MS_DOMAIN)) model.opsetImport = (model.opsetImport ?? []).filter((entry) => entry.domain !== MS_DOMAIN);
  return { bytes: onnx.ModelProto.encode(model).finish(), rewritten };
}
