// The graph builder: typed, immutable values and nodes, named by nested scopes. Models are plain
// functions that take a Graph and Values and return Values (see app/onnx/ops.ts for one function per
// ONNX op); app/onnx/serialize.ts turns a finished Graph into an ONNX ModelProto with external weights.
import { UserError } from '../common/errors.ts';
import type { DType, Tensor } from '../tensor/tensor.ts';
import { BYTES_PER_ELEMENT, describeShape, sizeOf } from '../tensor/tensor.ts';
import type { LazyTensor } from '../tensor/weights.ts';
import { floatToBfloat16, floatToHalf } from '../tensor/half.ts';

/** A dimension: a size, or a symbolic name (e.g. 'batch') resolved when the model runs. */
export type Dim = number | string;

/** An edge of the graph. `shape` is absent when it could not be inferred cheaply. */
export interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape?: readonly Dim[];
}

/** ONNX attributes keep their proto type explicit: a JS number cannot say whether it is an int or a float. */
export type Attribute =
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'tensor'; readonly value: Tensor };

export const attribute = {
  int: (value: number): Attribute => ({ type: 'int', value }),
  float: (value: number): Attribute => ({ type: 'float', value }),
  string: (value: string): Attribute => ({ type: 'string', value }),
  ints: (value: readonly number[]): Attribute => ({ type: 'ints', value: Object.freeze([...value]) }),
  floats: (value: readonly number[]): Attribute => ({ type: 'floats', value: Object.freeze([...value]) }),
  tensor: (value: Tensor): Attribute => ({ type: 'tensor', value }),
} as const;

export interface Node {
  readonly op: string;
  /** '' is the default ai.onnx domain. */
  readonly domain: string;
  readonly name: string;
  /** `undefined` marks an omitted optional input (serialized as ''). */
  readonly inputs: readonly (Value | undefined)[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, Attribute>>;
}

export type StoredFloat = 'float32' | 'float16';

/** An initializer whose bytes come from a checkpoint (pulled lazily when the model is saved). */
export interface WeightInitializer {
  readonly kind: 'weight';
  /** The initializer as stored on disk: named after the weight, in the stored dtype. */
  readonly value: Value;
  readonly source: LazyTensor;
}

/** A small initializer whose data is held in memory and written inline. */
export interface ConstantInitializer {
  readonly kind: 'constant';
  readonly value: Value;
  readonly tensor: Tensor;
}

export type Initializer = WeightInitializer | ConstantInitializer;

export interface GraphOptions {
  /** The dtype floating-point weights are computed in; stored weights of another float dtype get a Cast. */
  readonly computeDtype?: StoredFloat;
  /**
   * Weights whose (full) name this returns true for become float32 graph inputs instead of initializers:
   * the trainable parameters of a training graph, fed anew at every step (their initial values stay
   * readable through `parameters`). Every other weight stays an initializer referenced in place.
   */
  readonly isParameter?: (name: string) => boolean;
}

/** A weight turned into a graph input (GraphOptions.isParameter): its value and where its initial data is. */
export interface Parameter {
  readonly value: Value;
  readonly source: LazyTensor;
}

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly (Value | undefined)[];
  /** One entry per output: its dtype and (when inferred) shape. */
  readonly outputs: readonly { readonly dtype: DType; readonly shape?: readonly Dim[] }[];
  readonly attrs?: Readonly<Record<string, Attribute>>;
  readonly domain?: string;
  /** A full node name instead of `<scope>/<op>`; used for the casts of weights. */
  readonly name?: string;
}

export const FLOAT_DTYPES: ReadonlySet<DType> = new Set(['float32', 'float16', 'bfloat16', 'float64']);

export function isFloat(dtype: DType): boolean {
  return FLOAT_DTYPES.has(dtype);
}

export function describeValue(value: Value | undefined): string {
  if (!value) return '(omitted)';
  return `'${value.name}' ${value.dtype} ${value.shape ? describeShape(value.shape) : '[?]'}`;
}

/** The message every validation error uses: the problem, then the node and each of its inputs. */
export function describeNode(op: string, name: string, inputs: readonly (Value | undefined)[]): string {
  const lines = inputs.map((input, index) => `  input ${index}: ${describeValue(input)}`);
  return `${op} node '${name}'\n${lines.join('\n')}`;
}

export function invalidNode(op: string, name: string, inputs: readonly (Value | undefined)[], problem: string): UserError {
  return new UserError('mismatch', `${problem}\nin ${describeNode(op, name, inputs)}`);
}

function freezeValue(name: string, dtype: DType, shape: readonly Dim[] | undefined): Value {
  return Object.freeze(shape ? { name, dtype, shape: Object.freeze([...shape]) } : { name, dtype });
}

export class Graph {
  readonly name: string;
  readonly computeDtype: StoredFloat;
  private readonly valueByName = new Map<string, Value>();
  private readonly nodeNames = new Set<string>();
  private readonly nodeList: Node[] = [];
  private readonly inputList: Value[] = [];
  private readonly outputList: Value[] = [];
  private readonly initializerList: Initializer[] = [];
  private readonly parameterList: Parameter[] = [];
  private readonly isParameter: ((name: string) => boolean) | undefined;
  /** Weight name → the value builders use (the Cast output when the stored dtype differs). */
  private readonly weightValues = new Map<string, { readonly source: LazyTensor; readonly stored: Value; readonly value: Value }>();
  private readonly scalarCache = new Map<string, Value>();
  private readonly scopeStack: string[] = [];
  private weightPrefix = '';
  private readonly nextSuffix = new Map<string, number>();

  constructor(name: string, options: GraphOptions = {}) {
    if (!name) throw new UserError('invalid-argument', 'A graph needs a non-empty name.');
    this.name = name;
    this.computeDtype = options.computeDtype ?? 'float32';
    this.isParameter = options.isParameter;
  }

  /** The weights that became graph inputs (GraphOptions.isParameter), in the order they were added. */
  get parameters(): readonly Parameter[] {
    return this.parameterList;
  }

  get nodes(): readonly Node[] {
    return this.nodeList;
  }
  get inputs(): readonly Value[] {
    return this.inputList;
  }
  get outputs(): readonly Value[] {
    return this.outputList;
  }
  get initializers(): readonly Initializer[] {
    return this.initializerList;
  }

  /** The current scope path, e.g. 'down_blocks.0/attentions.1/attn1' ('' at the root). */
  get scopePath(): string {
    return this.scopeStack.join('/');
  }

  /** Runs `fn` with `name` appended to the scope path of every node it creates. */
  scope<T>(name: string, fn: () => T): T {
    if (!name || name.includes('/')) {
      throw new UserError('invalid-argument', `Scope name '${name}' must be non-empty and contain no '/'.`);
    }
    this.scopeStack.push(name);
    try {
      return fn();
    } finally {
      this.scopeStack.pop();
    }
  }

  /** Looks up a value by name (inputs, initializers, node outputs). */
  value(name: string): Value | undefined {
    return this.valueByName.get(name);
  }

  input(name: string, dtype: DType, shape: readonly Dim[]): Value {
    const value = this.register(freezeValue(name, dtype, shape), 'graph input');
    this.inputList.push(value);
    return value;
  }

  /**
   * A float32 graph input (the I/O contract of every model graph, whatever it computes in), returned in
   * the graph's compute dtype: a float16 graph casts it on the way in.
   */
  computeInput(name: string, shape: readonly Dim[]): Value {
    return this.toCompute(this.input(name, 'float32', shape));
  }

  /** `value` in the compute dtype (a Cast when it is another float dtype; the value itself otherwise). */
  toCompute(value: Value): Value {
    if (!isFloat(value.dtype) || value.dtype === this.computeDtype) return value;
    return this.node({ op: 'Cast', inputs: [value], outputs: [{ dtype: this.computeDtype, shape: value.shape }], attrs: { to: attribute.int(onnxDataType(this.computeDtype)) } })[0]!;
  }

  /**
   * Marks `value` as a graph output, named `name` (an Identity node renames it when needed). In a graph
   * that computes in float16, float16 outputs leave as float32 (a Cast named `name`): callers, samplers
   * and the other graphs of a job read float32 whatever precision a graph computes in.
   */
  output(value: Value, name: string = value.name): void {
    this.requireOwn(value, `output '${name}'`);
    if (this.outputList.some((output) => output.name === name)) {
      throw new UserError('invalid-argument', `Graph '${this.name}' already has an output named '${name}'.`);
    }
    if (this.computeDtype !== 'float32' && value.dtype === this.computeDtype) {
      const [widened] = this.node({ op: 'Cast', inputs: [value], outputs: [{ dtype: 'float32', shape: value.shape }], attrs: { to: attribute.int(onnxDataType('float32')) }, name, outputName: name });
      this.outputList.push(widened!);
      return;
    }
    if (name === value.name) {
      // ONNX lets a graph input or an initializer be an output directly (onnxruntime returns it as is).
      this.outputList.push(value);
      return;
    }
    const [renamed] = this.node({ op: 'Identity', inputs: [value], outputs: [value], name, outputName: name });
    this.outputList.push(renamed);
  }

  /**
   * An initializer named `name` whose data comes from `source`. Float weights are stored as
   * `options.storeAs` (default: the source dtype, bfloat16 becomes float32) and cast to the graph's
   * compute dtype by a Cast node that onnxruntime folds at session creation. Using the same name again
   * returns the same value (weight sharing).
   */
  weight(localName: string, source: LazyTensor, options: { readonly storeAs?: StoredFloat } = {}): Value {
    const name = this.weightPrefix + localName;
    const existing = this.weightValues.get(name);
    if (existing) {
      const same = existing.source.dtype === source.dtype && sameDims(existing.source.shape, source.shape);
      if (!same) {
        throw new UserError(
          'mismatch',
          `Weight '${name}' was already added as ${existing.source.dtype} ${describeShape(existing.source.shape)}, now ${source.dtype} ${describeShape(source.shape)}.`,
        );
      }
      return existing.value;
    }
    if (!localName) throw new UserError('invalid-argument', 'A weight needs a non-empty name.');
    const floatSource = isFloat(source.dtype);
    if (floatSource && this.isParameter?.(name)) {
      // A trainable parameter: a float32 input (optimizers keep float32 masters), cast like any weight.
      const input = this.register(freezeValue(name, 'float32', source.shape), 'parameter');
      this.inputList.push(input);
      this.parameterList.push(Object.freeze({ value: input, source }));
      const value = this.computeDtype === 'float32' ? input : this.node({ op: 'Cast', inputs: [input], outputs: [{ dtype: this.computeDtype, shape: source.shape }], attrs: { to: attribute.int(onnxDataType(this.computeDtype)) }, name: `${name}/Cast`, outputName: `${name}/Cast` })[0];
      this.weightValues.set(name, { source, stored: input, value });
      return value;
    }
    if (options.storeAs && !floatSource) {
      throw new UserError('invalid-argument', `Weight '${name}' is ${source.dtype}; storeAs applies only to floating-point weights.`);
    }
    const storedDtype: DType = options.storeAs ?? (source.dtype === 'bfloat16' || source.dtype === 'float64' ? 'float32' : source.dtype);
    const stored = this.register(freezeValue(name, storedDtype, source.shape), 'weight');
    this.initializerList.push({ kind: 'weight', value: stored, source });
    let value = stored;
    if (floatSource && storedDtype !== this.computeDtype) {
      [value] = this.node({
        op: 'Cast',
        inputs: [stored],
        outputs: [{ dtype: this.computeDtype, shape: source.shape }],
        attrs: { to: attribute.int(onnxDataType(this.computeDtype)) },
        name: `${name}/Cast`,
        outputName: `${name}/Cast`,
      });
    }
    this.weightValues.set(name, { source, stored, value });
    return value;
  }

  /**
   * Runs `fn` with `prefix` prepended to the initializer name of every weight it adds. An ensemble graph
   * holds several checkpoints whose tensors share diffusers names (`conv_in.weight` of every expert):
   * `g.weightNamespace('expert1.', () => unetPoint(...))` keeps them apart, while weights added twice
   * under one namespace are still shared.
   */
  weightNamespace<T>(prefix: string, fn: () => T): T {
    const previous = this.weightPrefix;
    this.weightPrefix = previous + prefix;
    try {
      return fn();
    } finally {
      this.weightPrefix = previous;
    }
  }

  /** A small constant held in memory and stored inline (shape vectors, scales, axes). */
  constant(tensor: Tensor, name?: string): Value {
    const base = name ?? this.scoped('Constant');
    const value = this.register(freezeValue(this.unique(base), tensor.dtype, tensor.shape), 'constant');
    this.initializerList.push({ kind: 'constant', value, tensor });
    return value;
  }

  /** A rank-0 constant; equal scalars are shared. */
  scalar(value: number, dtype: DType = this.computeDtype): Value {
    const key = `${dtype}:${Object.is(value, -0) ? '-0' : String(value)}`;
    const cached = this.scalarCache.get(key);
    if (cached) return cached;
    const constant = this.constant(scalarTensor(value, dtype), this.unique(`scalar/${dtype}/${value}`));
    this.scalarCache.set(key, constant);
    return constant;
  }

  /**
   * Appends a node. Every input must be a value of this graph; output values are named after the node
   * (`<scope>/<op>`, made unique with a `_n` suffix), with `:<index>` for the second output on.
   */
  node(spec: NodeSpec & { readonly outputName?: string }): Value[] {
    const name = this.unique(spec.name ?? this.scoped(spec.op));
    for (const [index, input] of spec.inputs.entries()) {
      if (input !== undefined && !this.owns(input)) {
        throw new UserError(
          'invalid-argument',
          `Input ${index} ${describeValue(input)} is not a value of graph '${this.name}': it is unknown here or comes from another graph.\nin ${describeNode(spec.op, name, spec.inputs)}`,
        );
      }
    }
    const outputs = spec.outputs.map((output, index) => {
      const outputName = index === 0 ? (spec.outputName ?? name) : `${name}:${index}`;
      return this.register(freezeValue(outputName, output.dtype, output.shape), `output of node '${name}'`);
    });
    this.nodeNames.add(name);
    this.nodeList.push(
      Object.freeze({
        op: spec.op,
        domain: spec.domain ?? '',
        name,
        inputs: Object.freeze([...spec.inputs]),
        outputs: Object.freeze(outputs),
        attrs: Object.freeze({ ...(spec.attrs ?? {}) }),
      }),
    );
    return outputs;
  }

  /** A node name under the current scope, not yet made unique. */
  scoped(label: string): string {
    return this.scopeStack.length > 0 ? `${this.scopePath}/${label}` : label;
  }

  private unique(base: string): string {
    if (!this.nodeNames.has(base) && !this.valueByName.has(base)) return base;
    // Remember where the suffix search ended, so a scope with thousands of nodes stays linear.
    for (let suffix = this.nextSuffix.get(base) ?? 1; ; suffix++) {
      const candidate = `${base}_${suffix}`;
      if (!this.nodeNames.has(candidate) && !this.valueByName.has(candidate)) {
        this.nextSuffix.set(base, suffix + 1);
        return candidate;
      }
    }
  }

  private register(value: Value, what: string): Value {
    if (!value.name) throw new UserError('invalid-argument', `A ${what} needs a non-empty name.`);
    const clash = this.valueByName.get(value.name);
    if (clash || this.nodeNames.has(value.name)) {
      throw new UserError(
        'invalid-argument',
        `Graph '${this.name}' already has a value named '${value.name}' (${describeValue(clash)}); cannot add ${what} ${describeValue(value)}.`,
      );
    }
    this.valueByName.set(value.name, value);
    return value;
  }

  private owns(value: Value): boolean {
    return this.valueByName.get(value.name) === value;
  }

  private requireOwn(value: Value, where: string): void {
    if (!this.owns(value)) {
      throw new UserError(
        'invalid-argument',
        `Value ${describeValue(value)} (${where}) is not a value of graph '${this.name}': it is unknown here or comes from another graph.`,
      );
    }
  }
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, index) => dim === b[index]);
}

/** A rank-0 tensor of `dtype` holding `value` (16-bit floats are encoded as IEEE half / bfloat16). */
export function scalarTensor(value: number, dtype: DType): Tensor {
  switch (dtype) {
    case 'float32':
      return { dtype, shape: [], data: Float32Array.of(value) };
    case 'float64':
      return { dtype, shape: [], data: Float64Array.of(value) };
    case 'float16':
      return { dtype, shape: [], data: Uint16Array.of(floatToHalf(value)) };
    case 'bfloat16':
      return { dtype, shape: [], data: Uint16Array.of(floatToBfloat16(value)) };
    case 'int64':
      return { dtype, shape: [], data: BigInt64Array.of(BigInt(value)) };
    case 'int32':
      return { dtype, shape: [], data: Int32Array.of(value) };
    case 'uint8':
    case 'bool':
      return { dtype, shape: [], data: Uint8Array.of(value) };
  }
}

/** TensorProto.DataType numbers (onnx.proto). */
const ONNX_DATA_TYPES: Readonly<Record<DType, number>> = {
  float32: 1,
  uint8: 2,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};

export function onnxDataType(dtype: DType): number {
  return ONNX_DATA_TYPES[dtype];
}

const DTYPES_BY_ONNX: ReadonlyMap<number, DType> = new Map(Object.entries(ONNX_DATA_TYPES).map(([dtype, type]) => [type, dtype as DType]));

/** The app dtype of an ONNX TensorProto data type; undefined for types the app has none for. */
export function dtypeOfOnnx(type: number): DType | undefined {
  return DTYPES_BY_ONNX.get(type);
}

/** Bytes a tensor of `dtype` and `shape` occupies as raw little-endian data. */
export function byteLengthOf(dtype: DType, shape: readonly number[]): number {
  return sizeOf(shape) * BYTES_PER_ELEMENT[dtype];
}
