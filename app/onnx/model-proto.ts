// Graph → onnx.ModelProto (the onnx-proto package: protobufjs-6 static code of onnx.proto, CommonJS, so
// it is imported through its default export). Initializer data is supplied by the caller as either
// inline bytes or an external-data reference; app/onnx/serialize.ts decides which.
import onnxProto from 'onnx-proto';
import type { Attribute, Dim, Graph, Node, Value } from './graph.ts';
import { onnxDataType } from './graph.ts';
import { IR_VERSION, OPSET } from './opset.ts';
import type { Tensor } from '../tensor/tensor.ts';

export const { onnx } = onnxProto;

/** Where an initializer's bytes live: inline in the model, or a file region named relative to the model. */
export type InitializerData =
  | { readonly kind: 'inline'; readonly bytes: Uint8Array }
  | { readonly kind: 'external'; readonly location: string; readonly offset: number; readonly length: number };

const textEncoder = new TextEncoder();

function rawBytes(tensor: Tensor): Uint8Array {
  return new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
}

function attributeProto(name: string, attr: Attribute): onnxProto.onnx.IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  switch (attr.type) {
    case 'int':
      return { name, type: AttributeType.INT, i: attr.value };
    case 'float':
      return { name, type: AttributeType.FLOAT, f: attr.value };
    case 'string':
      return { name, type: AttributeType.STRING, s: textEncoder.encode(attr.value) };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: [...attr.value] };
    case 'floats':
      return { name, type: AttributeType.FLOATS, floats: [...attr.value] };
    case 'tensor':
      return {
        name,
        type: AttributeType.TENSOR,
        t: { dims: [...attr.value.shape], dataType: onnxDataType(attr.value.dtype), rawData: rawBytes(attr.value) },
      };
  }
}

function nodeProto(node: Node): onnxProto.onnx.INodeProto {
  return {
    name: node.name,
    opType: node.op,
    domain: node.domain,
    input: node.inputs.map((input) => input?.name ?? ''),
    output: node.outputs.map((output) => output.name),
    attribute: Object.entries(node.attrs).map(([name, attr]) => attributeProto(name, attr)),
  };
}

/** Dims the builder could not infer ('?n') are written as unknown dims, symbolic names as dim_param. */
function dimProto(dim: Dim): onnxProto.onnx.TensorShapeProto.IDimension {
  if (typeof dim === 'number') return { dimValue: dim };
  return dim.startsWith('?') ? {} : { dimParam: dim };
}

function valueInfo(value: Value): onnxProto.onnx.IValueInfoProto {
  return {
    name: value.name,
    type: {
      tensorType: {
        elemType: onnxDataType(value.dtype),
        shape: value.shape ? { dim: value.shape.map(dimProto) } : undefined,
      },
    },
  };
}

function initializerProto(value: Value, data: InitializerData): onnxProto.onnx.ITensorProto {
  const base = { name: value.name, dims: (value.shape ?? []) as number[], dataType: onnxDataType(value.dtype) };
  if (data.kind === 'inline') return { ...base, rawData: data.bytes };
  return {
    ...base,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: data.location },
      { key: 'offset', value: String(data.offset) },
      { key: 'length', value: String(data.length) },
    ],
  };
}

/** The nodes and initializers the outputs depend on, in the graph's (topological) order. */
export function reachable(graph: Graph): { nodes: Node[]; values: Set<string> } {
  const producer = new Map<string, Node>();
  for (const node of graph.nodes) for (const output of node.outputs) producer.set(output.name, node);
  const needed = new Set<string>();
  const pending = graph.outputs.map((output) => output.name);
  while (pending.length > 0) {
    const name = pending.pop() as string;
    if (needed.has(name)) continue;
    needed.add(name);
    const node = producer.get(name);
    if (node) for (const input of node.inputs) if (input) pending.push(input.name);
  }
  const nodes = graph.nodes.filter((node) => node.outputs.some((output) => needed.has(output.name)));
  return { nodes, values: needed };
}

/** Encodes the graph (only what its outputs need) with the given initializer data. */
export function encodeModel(graph: Graph, data: ReadonlyMap<string, InitializerData>): Uint8Array {
  const { nodes, values } = reachable(graph);
  const initializers = graph.initializers
    .filter((init) => values.has(init.value.name))
    .map((init) => {
      const entry = data.get(init.value.name) ?? (init.kind === 'constant' ? { kind: 'inline' as const, bytes: rawBytes(init.tensor) } : undefined);
      if (!entry) throw new Error(`no data planned for initializer '${init.value.name}'`);
      return initializerProto(init.value, entry);
    });
  const domains = new Set(nodes.map((node) => node.domain).filter((domain) => domain !== ''));
  // Every intermediate shape the builder inferred is declared (value_info): onnxruntime keeps declared
  // symbolic dims where its own inference has none, and its memory planner needs them (see shapes.ts).
  const listed = new Set(graph.outputs.map((output) => output.name));
  const intermediates = nodes.flatMap((node) => node.outputs).filter((value) => value.shape && !listed.has(value.name));
  const model: onnxProto.onnx.IModelProto = {
    irVersion: IR_VERSION,
    producerName: 'afa-studio',
    opsetImport: [{ domain: '', version: OPSET }, ...[...domains].map((domain) => ({ domain, version: 1 }))],
    graph: {
      name: graph.name,
      node: nodes.map(nodeProto),
      initializer: initializers,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
      valueInfo: intermediates.map(valueInfo),
    },
  };
  return onnx.ModelProto.encode(model).finish();
}

/** One external initializer of a saved model, as recorded in its TensorProto. */
export interface ExternalInitializer {
  readonly name: string;
  readonly dataType: number;
  readonly dims: readonly number[];
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

/** Reads the external-data references of a model, encoded or already decoded (inline initializers are skipped). */
export function externalInitializers(modelBytes: Uint8Array | onnxProto.onnx.IModelProto): ExternalInitializer[] {
  const model = modelBytes instanceof Uint8Array ? onnx.ModelProto.decode(modelBytes) : modelBytes;
  const result: ExternalInitializer[] = [];
  for (const tensor of model.graph?.initializer ?? []) {
    if (tensor.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const entries = new Map((tensor.externalData ?? []).map((entry) => [entry.key ?? '', entry.value ?? '']));
    result.push({
      name: tensor.name ?? '',
      dataType: tensor.dataType ?? 0,
      dims: (tensor.dims ?? []).map((dim) => Number(dim)),
      location: entries.get('location') ?? '',
      offset: Number(entries.get('offset') ?? 0),
      length: Number(entries.get('length') ?? -1),
    });
  }
  return result;
}
