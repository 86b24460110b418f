// One function per ONNX operator the SD family needs. Each takes the Graph first, checks dtypes and
// ranks (errors print the node and its inputs) and infers the output shape where that is cheap.
// Semantics are those of the ONNX operator specs at the opset in app/onnx/opset.ts.
import type { DType, Tensor } from '../tensor/tensor.ts';
import { int64 } from '../tensor/tensor.ts';
import type { Attribute, Dim, Graph, Value } from './graph.ts';
import { attribute, describeValue, invalidNode, isFloat, onnxDataType } from './graph.ts';
import { broadcastShapes, convOutputDim, matMulShape, normalizeAxis, reshapeShape, scaledDim, sliceDim, unknownDim } from './shapes.ts';

/** A value, or a plain number that becomes a scalar constant of the other operand's dtype. */
export type Operand = Value | number;

function fail(g: Graph, op: string, inputs: readonly (Value | undefined)[], problem: string): never {
  throw invalidNode(op, g.scoped(op), inputs, problem);
}

/** Catches a missing (undefined) input before anything reads it, naming its position. */
function present(g: Graph, op: string, inputs: readonly (Value | undefined)[]): void {
  inputs.forEach((input, index) => {
    if (input === undefined || input === null) fail(g, op, inputs, `${op} is missing input ${index}.`);
  });
}

function requireFloat(g: Graph, op: string, inputs: readonly Value[]): void {
  present(g, op, inputs);
  for (const input of inputs) {
    if (!isFloat(input.dtype)) fail(g, op, inputs, `${op} needs floating-point inputs; ${describeValue(input)} is ${input.dtype}.`);
  }
}

function requireSameDtype(g: Graph, op: string, inputs: readonly Value[]): void {
  present(g, op, inputs);
  const dtype = inputs[0].dtype;
  for (const input of inputs) {
    if (input.dtype !== dtype) fail(g, op, inputs, `${op} needs inputs of one dtype; got ${inputs.map((v) => v.dtype).join(' and ')}.`);
  }
}

function requireRank(g: Graph, op: string, inputs: readonly (Value | undefined)[], value: Value, ranks: readonly number[], role: string): void {
  if (value.shape && !ranks.includes(value.shape.length)) {
    fail(g, op, inputs, `${op} needs ${role} of rank ${ranks.join(' or ')}; ${describeValue(value)} has rank ${value.shape.length}.`);
  }
}

function single(g: Graph, op: string, inputs: readonly (Value | undefined)[], dtype: DType, shape: readonly Dim[] | undefined, attrs?: Record<string, Attribute>): Value {
  return g.node({ op, inputs, outputs: [{ dtype, shape }], attrs })[0];
}

function operands(g: Graph, op: string, a: Operand, b: Operand): [Value, Value] {
  if (typeof a === 'number' && typeof b === 'number') fail(g, op, [], `${op} needs at least one Value operand, got two numbers.`);
  const values = [a, b].map((operand) => (typeof operand === 'number' ? undefined : operand));
  [a, b].forEach((operand, index) => {
    if (operand === undefined || operand === null) fail(g, op, values, `${op} is missing input ${index}.`);
  });
  const left = typeof a === 'number' ? g.scalar(a, (b as Value).dtype) : a;
  const right = typeof b === 'number' ? g.scalar(b, left.dtype) : b;
  return [left, right];
}

function broadcastOp(g: Graph, op: string, a: Operand, b: Operand): Value {
  const inputs = operands(g, op, a, b);
  requireSameDtype(g, op, inputs);
  let shape: Dim[] | undefined;
  if (inputs[0].shape && inputs[1].shape) {
    shape = broadcastShapes([inputs[0].shape, inputs[1].shape]);
    if (!shape) fail(g, op, inputs, `${op} cannot broadcast these shapes.`);
  }
  return single(g, op, inputs, inputs[0].dtype, shape);
}

export const add = (g: Graph, a: Operand, b: Operand): Value => broadcastOp(g, 'Add', a, b);
export const sub = (g: Graph, a: Operand, b: Operand): Value => broadcastOp(g, 'Sub', a, b);
export const mul = (g: Graph, a: Operand, b: Operand): Value => broadcastOp(g, 'Mul', a, b);
export const div = (g: Graph, a: Operand, b: Operand): Value => broadcastOp(g, 'Div', a, b);

/** ONNX Pow allows an exponent of another dtype; we keep one dtype for clarity. */
export const pow = (g: Graph, a: Operand, b: Operand): Value => broadcastOp(g, 'Pow', a, b);

function floatUnary(g: Graph, op: string, x: Value): Value {
  requireFloat(g, op, [x]);
  return single(g, op, [x], x.dtype, x.shape);
}

export const sqrt = (g: Graph, x: Value): Value => floatUnary(g, 'Sqrt', x);
export const sigmoid = (g: Graph, x: Value): Value => floatUnary(g, 'Sigmoid', x);
export const tanh = (g: Graph, x: Value): Value => floatUnary(g, 'Tanh', x);
export const erf = (g: Graph, x: Value): Value => floatUnary(g, 'Erf', x);
export const sin = (g: Graph, x: Value): Value => floatUnary(g, 'Sin', x);
export const cos = (g: Graph, x: Value): Value => floatUnary(g, 'Cos', x);
export const exp = (g: Graph, x: Value): Value => floatUnary(g, 'Exp', x);
export const log = (g: Graph, x: Value): Value => floatUnary(g, 'Log', x);
export const relu = (g: Graph, x: Value): Value => floatUnary(g, 'Relu', x);

export function neg(g: Graph, x: Value): Value {
  present(g, 'Neg', [x]);
  return single(g, 'Neg', [x], x.dtype, x.shape);
}

export function identity(g: Graph, x: Value): Value {
  present(g, 'Identity', [x]);
  return single(g, 'Identity', [x], x.dtype, x.shape);
}

/**
 * Exact GELU, 0.5·x·(1 + erf(x/√2)), as PyTorch's F.gelu(approximate='none') used by diffusers' GELU
 * and GEGLU. The opset-20 Gelu op (approximate='none') runs as one kernel on onnxruntime's CPU provider.
 */
export function gelu(g: Graph, x: Value): Value {
  requireFloat(g, 'Gelu', [x]);
  return single(g, 'Gelu', [x], x.dtype, x.shape, { approximate: attribute.string('none') });
}

/** Softmax along `axis` (opset 13+: a single axis, not the flattened 2-D of older opsets). */
export function softmax(g: Graph, x: Value, axis = -1): Value {
  requireFloat(g, 'Softmax', [x]);
  if (x.shape && normalizeAxis(axis, x.shape.length) === undefined) fail(g, 'Softmax', [x], `Softmax axis ${axis} is out of range.`);
  return single(g, 'Softmax', [x], x.dtype, x.shape, { axis: attribute.int(axis) });
}

function axesConstant(g: Graph, axes: readonly number[]): Value {
  return g.constant(int64([axes.length], axes));
}

function reducedShape(shape: readonly Dim[] | undefined, axes: readonly number[], keepdims: boolean): Dim[] | undefined {
  if (!shape) return undefined;
  const rank = shape.length;
  const reduced = new Set(axes.map((axis) => normalizeAxis(axis, rank)));
  const result: Dim[] = [];
  for (const [index, dim] of shape.entries()) {
    if (!reduced.has(index)) result.push(dim);
    else if (keepdims) result.push(1);
  }
  return result;
}

function reduce(g: Graph, op: string, x: Value, axes: readonly number[], keepdims: boolean): Value {
  if (axes.length === 0) fail(g, op, [x], `${op} needs at least one axis (an empty list would mean "all axes" or "no-op").`);
  if (x.shape) {
    for (const axis of axes) {
      if (normalizeAxis(axis, x.shape.length) === undefined) fail(g, op, [x], `${op} axis ${axis} is out of range.`);
    }
  }
  const inputs = [x, axesConstant(g, axes)];
  return single(g, op, inputs, x.dtype, reducedShape(x.shape, axes, keepdims), { keepdims: attribute.int(keepdims ? 1 : 0) });
}

/** Mean over `axes` (opset 18: axes is an input). */
export function reduceMean(g: Graph, x: Value, axes: readonly number[], keepdims = true): Value {
  requireFloat(g, 'ReduceMean', [x]);
  return reduce(g, 'ReduceMean', x, axes, keepdims);
}

export function reduceSum(g: Graph, x: Value, axes: readonly number[], keepdims = true): Value {
  return reduce(g, 'ReduceSum', x, axes, keepdims);
}

/** Σ x² over `axes` (opset 18: axes is an input). */
export function reduceSumSquare(g: Graph, x: Value, axes: readonly number[], keepdims = true): Value {
  requireFloat(g, 'ReduceSumSquare', [x]);
  return reduce(g, 'ReduceSumSquare', x, axes, keepdims);
}

export function matMul(g: Graph, a: Value, b: Value): Value {
  const inputs = [a, b];
  requireFloat(g, 'MatMul', inputs);
  requireSameDtype(g, 'MatMul', inputs);
  let shape: Dim[] | undefined;
  if (a.shape && b.shape) {
    shape = matMulShape(a.shape, b.shape);
    if (!shape) fail(g, 'MatMul', inputs, 'MatMul shapes do not agree: the last axis of A must equal the second-to-last of B.');
  }
  return single(g, 'MatMul', inputs, a.dtype, shape);
}

export interface GemmOptions {
  readonly transA?: boolean;
  readonly transB?: boolean;
  readonly alpha?: number;
  readonly beta?: number;
}

/** alpha·A'·B' + beta·C on 2-D A and B (C broadcasts to the result). */
export function gemm(g: Graph, a: Value, b: Value, c?: Value, options: GemmOptions = {}): Value {
  const inputs = c ? [a, b, c] : [a, b];
  requireFloat(g, 'Gemm', inputs);
  requireSameDtype(g, 'Gemm', inputs);
  requireRank(g, 'Gemm', inputs, a, [2], 'A');
  requireRank(g, 'Gemm', inputs, b, [2], 'B');
  let shape: Dim[] | undefined;
  if (a.shape && b.shape) {
    const [m, ka] = options.transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
    const [kb, n] = options.transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
    if (typeof ka === 'number' && typeof kb === 'number' && ka !== kb) fail(g, 'Gemm', inputs, `Gemm inner dims differ: ${ka} vs ${kb}.`);
    shape = [m, n];
  }
  const attrs: Record<string, Attribute> = {};
  if (options.transA) attrs.transA = attribute.int(1);
  if (options.transB) attrs.transB = attribute.int(1);
  if (options.alpha !== undefined) attrs.alpha = attribute.float(options.alpha);
  if (options.beta !== undefined) attrs.beta = attribute.float(options.beta);
  return single(g, 'Gemm', inputs, a.dtype, shape, attrs);
}

export interface ConvOptions {
  /** One number for every spatial axis, or one per axis. Default 1. */
  readonly strides?: number | readonly number[];
  /**
   * Zero padding: one number for every side; one per spatial axis (same at both ends); or ONNX's
   * [begin_0, begin_1, …, end_0, end_1, …]. Default 0.
   */
  readonly pads?: number | readonly number[];
  readonly dilations?: number | readonly number[];
  readonly group?: number;
}

function perAxis(value: number | readonly number[] | undefined, spatial: number, fallback: number): number[] {
  if (value === undefined) return new Array<number>(spatial).fill(fallback);
  if (typeof value === 'number') return new Array<number>(spatial).fill(value);
  return [...value];
}

/** N-D convolution, x [N, C, …spatial], weight [M, C/group, …kernel], bias [M]. */
export function conv(g: Graph, x: Value, weight: Value, bias?: Value, options: ConvOptions = {}): Value {
  const inputs = bias ? [x, weight, bias] : [x, weight];
  requireFloat(g, 'Conv', inputs);
  requireSameDtype(g, 'Conv', inputs);
  const rank = x.shape?.length ?? weight.shape?.length;
  if (rank === undefined) fail(g, 'Conv', inputs, 'Conv needs the rank of x or of the weight.');
  if (rank < 3) fail(g, 'Conv', inputs, `Conv needs x of rank 3 or more, got rank ${rank}.`);
  requireRank(g, 'Conv', inputs, x, [rank], 'x');
  requireRank(g, 'Conv', inputs, weight, [rank], 'a weight of the same rank as x');
  if (bias) requireRank(g, 'Conv', inputs, bias, [1], 'bias');
  const spatial = rank - 2;
  const group = options.group ?? 1;
  const strides = perAxis(options.strides, spatial, 1);
  const dilations = perAxis(options.dilations, spatial, 1);
  let pads = perAxis(options.pads, spatial, 0);
  if (pads.length === spatial) pads = [...pads, ...pads];
  if (strides.length !== spatial || dilations.length !== spatial || pads.length !== 2 * spatial) {
    fail(g, 'Conv', inputs, `Conv options need ${spatial} strides/dilations and ${spatial} or ${2 * spatial} pads.`);
  }
  const [channels, inPerGroup, outChannels] = [x.shape?.[1], weight.shape?.[1], weight.shape?.[0]];
  if (typeof channels === 'number' && typeof inPerGroup === 'number' && channels !== inPerGroup * group) {
    fail(g, 'Conv', inputs, `Conv x has ${channels} channels but the weight expects ${inPerGroup} per group × ${group} groups.`);
  }
  if (typeof outChannels === 'number' && outChannels % group !== 0) {
    fail(g, 'Conv', inputs, `Conv output channels ${outChannels} are not divisible by group ${group}.`);
  }
  const biasSize = bias?.shape?.[0];
  if (typeof biasSize === 'number' && typeof outChannels === 'number' && biasSize !== outChannels) {
    fail(g, 'Conv', inputs, `Conv bias has ${biasSize} entries for ${outChannels} output channels.`);
  }
  let shape: Dim[] | undefined;
  if (x.shape && weight.shape) {
    shape = [x.shape[0], weight.shape[0]];
    for (let axis = 0; axis < spatial; axis++) {
      const dim = convOutputDim(x.shape[axis + 2], weight.shape[axis + 2], strides[axis], pads[axis], pads[axis + spatial], dilations[axis]);
      if (typeof dim === 'number' && dim < 1) fail(g, 'Conv', inputs, `Conv output would be empty along spatial axis ${axis}.`);
      shape.push(dim);
    }
  }
  const attrs: Record<string, Attribute> = {
    strides: attribute.ints(strides),
    pads: attribute.ints(pads),
    dilations: attribute.ints(dilations),
    group: attribute.int(group),
  };
  if (weight.shape && weight.shape.slice(2).every((dim) => typeof dim === 'number')) {
    attrs.kernel_shape = attribute.ints(weight.shape.slice(2) as number[]);
  }
  return single(g, 'Conv', inputs, x.dtype, shape, attrs);
}

/** LayerNormalization (opset 17) over the axes from `axis` to the last; scale/bias of those trailing dims. */
export function layerNorm(g: Graph, x: Value, scale: Value, bias?: Value, options: { readonly axis?: number; readonly epsilon?: number } = {}): Value {
  const inputs = bias ? [x, scale, bias] : [x, scale];
  requireFloat(g, 'LayerNormalization', inputs);
  requireSameDtype(g, 'LayerNormalization', inputs);
  const axis = options.axis ?? -1;
  if (x.shape && normalizeAxis(axis, x.shape.length) === undefined) fail(g, 'LayerNormalization', inputs, `LayerNormalization axis ${axis} is out of range.`);
  return single(g, 'LayerNormalization', inputs, x.dtype, x.shape, {
    axis: attribute.int(axis),
    epsilon: attribute.float(options.epsilon ?? 1e-5),
  });
}

/** InstanceNormalization over the spatial axes of x [N, C, …], scale and bias [C]. */
export function instanceNormalization(g: Graph, x: Value, scale: Value, bias: Value, epsilon = 1e-5): Value {
  const inputs = [x, scale, bias];
  requireFloat(g, 'InstanceNormalization', inputs);
  requireSameDtype(g, 'InstanceNormalization', inputs);
  if (x.shape && x.shape.length < 3) fail(g, 'InstanceNormalization', inputs, 'InstanceNormalization needs x of rank 3 or more.');
  return single(g, 'InstanceNormalization', inputs, x.dtype, x.shape, { epsilon: attribute.float(epsilon) });
}

/**
 * Reshape to `shape`: numbers (0 copies the input dim, -1 is inferred), symbolic names (the input's
 * dim of that name at the same index → 0, otherwise the one inferred dim → -1), or an int64 Value.
 */
export function reshape(g: Graph, x: Value, shape: readonly Dim[] | Value): Value {
  present(g, 'Reshape', [x]);
  if (isValue(shape)) {
    if (shape.dtype !== 'int64') fail(g, 'Reshape', [x, shape], 'Reshape needs an int64 shape.');
    const rank = shape.shape?.[0];
    const outShape = typeof rank === 'number' ? Array.from({ length: rank }, () => unknownDim()) : undefined;
    return single(g, 'Reshape', [x, shape], x.dtype, outShape);
  }
  let inferred = shape.filter((dim) => dim === -1).length;
  const codes = shape.map((dim, index) => {
    if (typeof dim === 'number') return dim;
    if (x.shape?.[index] === dim) return 0;
    inferred++;
    return -1;
  });
  if (inferred > 1) {
    fail(g, 'Reshape', [x], `Reshape to [${shape.join(', ')}] leaves ${inferred} dims to infer; at most one may be -1 or a new symbolic name.`);
  }
  if (x.shape?.every((dim) => typeof dim === 'number')) {
    const dims = x.shape as readonly number[];
    const inputSize = dims.reduce((a, b) => a * b, 1);
    const fixed = codes.reduce((a, code, index) => (code === -1 ? a : a * (code === 0 ? (dims[index] ?? NaN) : code)), 1);
    const fits = codes.includes(-1) ? fixed > 0 && inputSize % fixed === 0 : inputSize === fixed;
    if (!fits) fail(g, 'Reshape', [x], `Reshape cannot turn ${inputSize} elements into [${shape.join(', ')}].`);
  }
  const outShape = reshapeShape(x.shape, codes).map((dim, index) => (typeof shape[index] === 'string' ? shape[index] : dim));
  return single(g, 'Reshape', [x, g.constant(int64([codes.length], codes))], x.dtype, outShape);
}

export function transpose(g: Graph, x: Value, perm: readonly number[]): Value {
  present(g, 'Transpose', [x]);
  if (x.shape) {
    const sorted = [...perm].sort((a, b) => a - b);
    if (perm.length !== x.shape.length || sorted.some((axis, index) => axis !== index)) {
      fail(g, 'Transpose', [x], `Transpose perm [${perm.join(', ')}] is not a permutation of the ${x.shape.length} axes.`);
    }
  }
  const shape = x.shape ? perm.map((axis) => (x.shape as readonly Dim[])[axis]) : undefined;
  return single(g, 'Transpose', [x], x.dtype, shape, { perm: attribute.ints(perm) });
}

export function concat(g: Graph, values: readonly Value[], axis: number): Value {
  present(g, 'Concat', values);
  if (values.length === 0) throw invalidNode('Concat', g.scoped('Concat'), [], 'Concat needs at least one input.');
  requireSameDtype(g, 'Concat', values);
  let shape: Dim[] | undefined;
  if (values.every((value) => value.shape)) {
    const shapes = values.map((value) => value.shape as readonly Dim[]);
    const rank = shapes[0].length;
    const at = normalizeAxis(axis, rank);
    if (at === undefined || shapes.some((s) => s.length !== rank)) fail(g, 'Concat', values, `Concat needs inputs of one rank and axis ${axis} in range.`);
    shape = [...shapes[0]];
    let total: Dim = 0;
    for (const s of shapes) {
      for (let i = 0; i < rank; i++) {
        if (i !== at && typeof s[i] === 'number' && typeof shape[i] === 'number' && s[i] !== shape[i]) {
          fail(g, 'Concat', values, `Concat inputs differ along axis ${i}, which is not the concat axis ${axis}.`);
        }
      }
      total = typeof total === 'number' && typeof s[at] === 'number' ? total + (s[at] as number) : unknownDim();
    }
    shape[at] = total;
  }
  return single(g, 'Concat', values, values[0].dtype, shape, { axis: attribute.int(axis) });
}

/** Splits x along `axis` into pieces of the given sizes (opset 13+: sizes as an input). */
export function split(g: Graph, x: Value, sizes: readonly number[], axis: number): Value[] {
  present(g, 'Split', [x]);
  const at = x.shape ? normalizeAxis(axis, x.shape.length) : undefined;
  if (x.shape && at === undefined) fail(g, 'Split', [x], `Split axis ${axis} is out of range.`);
  const dim = at === undefined ? undefined : x.shape?.[at];
  const total = sizes.reduce((a, b) => a + b, 0);
  if (typeof dim === 'number' && dim !== total) fail(g, 'Split', [x], `Split sizes [${sizes.join(', ')}] add up to ${total}, not ${dim}.`);
  const outputs = sizes.map((size) => {
    if (!x.shape || at === undefined) return { dtype: x.dtype };
    const shape = [...x.shape];
    shape[at] = size;
    return { dtype: x.dtype, shape };
  });
  return g.node({ op: 'Split', inputs: [x, g.constant(int64([sizes.length], sizes))], outputs, attrs: { axis: attribute.int(axis) } });
}

/** Slice with constant starts/ends (INT64 max for "to the end"), optional axes and steps. */
export function slice(g: Graph, x: Value, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Value {
  present(g, 'Slice', [x]);
  const count = starts.length;
  if (ends.length !== count || (axes && axes.length !== count) || (steps && steps.length !== count)) {
    fail(g, 'Slice', [x], 'Slice needs starts, ends, axes and steps of one length.');
  }
  const axisList = axes ?? Array.from({ length: count }, (_, i) => i);
  const stepList = steps ?? new Array<number>(count).fill(1);
  if (stepList.some((step) => step === 0)) fail(g, 'Slice', [x], 'Slice steps cannot be 0.');
  let shape: Dim[] | undefined;
  if (x.shape) {
    shape = [...x.shape];
    for (let i = 0; i < count; i++) {
      const at = normalizeAxis(axisList[i], shape.length);
      if (at === undefined) fail(g, 'Slice', [x], `Slice axis ${axisList[i]} is out of range.`);
      shape[at] = sliceDim(shape[at], starts[i], ends[i], stepList[i]);
    }
  }
  const clampInt64 = (values: readonly number[]) => values.map((v) => (v >= Number.MAX_SAFE_INTEGER ? 2n ** 63n - 1n : v <= -Number.MAX_SAFE_INTEGER ? -(2n ** 63n) : BigInt(v)));
  const inputs = [
    x,
    g.constant(int64([count], clampInt64(starts))),
    g.constant(int64([count], clampInt64(ends))),
    g.constant(int64([count], axisList)),
    g.constant(int64([count], stepList)),
  ];
  return single(g, 'Slice', inputs, x.dtype, shape);
}

/**
 * Nearest-neighbour upsampling of the spatial axes of x [N, C, H, W] by an integer `scale`, matching
 * PyTorch's F.interpolate(scale_factor=scale, mode='nearest'): source index = floor(dst / scale), i.e.
 * coordinate_transformation_mode 'asymmetric' with nearest_mode 'floor'.
 */
export function resizeNearest(g: Graph, x: Value, scale = 2): Value {
  requireFloat(g, 'Resize', [x]);
  const rank = x.shape?.length ?? 4;
  if (rank < 3) fail(g, 'Resize', [x], 'Resize needs x of rank 3 or more ([N, C, …spatial]).');
  const scales = new Float32Array(rank).fill(scale);
  scales[0] = 1;
  scales[1] = 1;
  const scaleValue = g.constant({ dtype: 'float32', shape: [rank], data: scales });
  const shape = x.shape?.map((dim, index) => (index < 2 ? dim : scaledDim(dim, scale)));
  return single(g, 'Resize', [x, undefined, scaleValue], x.dtype, shape, {
    mode: attribute.string('nearest'),
    coordinate_transformation_mode: attribute.string('asymmetric'),
    nearest_mode: attribute.string('floor'),
  });
}

/**
 * Nearest-neighbour resize of x [N, C, H, W] to the spatial size of `like` [*, *, H', W'], matching
 * PyTorch's F.interpolate(size=like.shape[2:], mode='nearest'): source index = floor(dst · in / out).
 * diffusers' U-Net upsamplers take this explicit size (`upsample_size`, the next skip's size) so that
 * latents not divisible by 2^levels (odd sizes after a stride-2 conv) line up with their skips.
 */
export function resizeNearestLike(g: Graph, x: Value, like: Value): Value {
  requireFloat(g, 'Resize', [x]);
  present(g, 'Resize', [x, like]);
  const rank = x.shape?.length ?? 4;
  if (rank < 3) fail(g, 'Resize', [x], 'Resize needs x of rank 3 or more ([N, C, …spatial]).');
  if (like.shape && like.shape.length !== rank) fail(g, 'Resize', [x, like], `Resize to the size of a tensor needs one of rank ${rank}; got rank ${like.shape.length}.`);
  const sizes = concat(g, [shape(g, x, 0, 2), shape(g, like, 2)], 0);
  const outShape = x.shape && like.shape ? x.shape.map((dim, index) => (index < 2 ? dim : like.shape![index]!)) : undefined;
  return single(g, 'Resize', [x, undefined, undefined, sizes], x.dtype, outShape, {
    mode: attribute.string('nearest'),
    coordinate_transformation_mode: attribute.string('asymmetric'),
    nearest_mode: attribute.string('floor'),
  });
}

export function cast(g: Graph, x: Value, dtype: DType): Value {
  present(g, 'Cast', [x]);
  if (x.dtype === dtype) return x;
  return single(g, 'Cast', [x], dtype, x.shape, { to: attribute.int(onnxDataType(dtype)) });
}

/** Elementwise cond ? a : b, with broadcasting. */
export function where(g: Graph, condition: Value, a: Operand, b: Operand): Value {
  present(g, 'Where', [condition]);
  const [left, right] = operands(g, 'Where', a, b);
  const inputs = [condition, left, right];
  if (condition.dtype !== 'bool') fail(g, 'Where', inputs, `Where needs a bool condition, got ${condition.dtype}.`);
  requireSameDtype(g, 'Where', [left, right]);
  let shape: Dim[] | undefined;
  if (condition.shape && left.shape && right.shape) {
    shape = broadcastShapes([condition.shape, left.shape, right.shape]);
    if (!shape) fail(g, 'Where', inputs, 'Where cannot broadcast these shapes.');
  }
  return single(g, 'Where', inputs, left.dtype, shape);
}

/** Broadcasts x to `shape` (NumPy rules: the result may have more axes; 1s keep x's dims). */
export function expand(g: Graph, x: Value, shape: readonly number[] | Value): Value {
  present(g, 'Expand', [x]);
  if (isValue(shape)) {
    if (shape.dtype !== 'int64') fail(g, 'Expand', [x, shape], 'Expand needs an int64 shape.');
    const rank = shape.shape?.[0];
    const outShape = typeof rank === 'number' ? Array.from({ length: rank }, () => unknownDim()) : undefined;
    return single(g, 'Expand', [x, shape], x.dtype, outShape);
  }
  const outShape = x.shape ? broadcastShapes([x.shape, shape]) : undefined;
  if (x.shape && !outShape) fail(g, 'Expand', [x], `Expand cannot broadcast to [${shape.join(', ')}].`);
  return single(g, 'Expand', [x, g.constant(int64([shape.length], shape))], x.dtype, outShape);
}

/** The shape of x as an int64 vector; `start`/`end` select axes (opset 15). */
export function shape(g: Graph, x: Value, start?: number, end?: number): Value {
  present(g, 'Shape', [x]);
  const attrs: Record<string, Attribute> = {};
  if (start !== undefined) attrs.start = attribute.int(start);
  if (end !== undefined) attrs.end = attribute.int(end);
  let length: Dim = unknownDim();
  if (x.shape) {
    const rank = x.shape.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    length = Math.max(0, clamp(end ?? rank) - clamp(start ?? 0));
  }
  return single(g, 'Shape', [x], 'int64', [length], attrs);
}

/** Gathers entries of x along `axis` at int64/int32 `indices`; result shape x[:axis] + indices + x[axis+1:]. */
export function gather(g: Graph, x: Value, indices: Value, axis = 0): Value {
  present(g, 'Gather', [x, indices]);
  const inputs = [x, indices];
  if (indices.dtype !== 'int64' && indices.dtype !== 'int32') fail(g, 'Gather', inputs, `Gather needs int64 or int32 indices, got ${indices.dtype}.`);
  let outShape: Dim[] | undefined;
  if (x.shape && indices.shape) {
    const at = normalizeAxis(axis, x.shape.length);
    if (at === undefined) fail(g, 'Gather', inputs, `Gather axis ${axis} is out of range.`);
    outShape = [...x.shape.slice(0, at), ...indices.shape, ...x.shape.slice(at + 1)];
  }
  return single(g, 'Gather', inputs, x.dtype, outShape, { axis: attribute.int(axis) });
}

export function unsqueeze(g: Graph, x: Value, axes: readonly number[]): Value {
  present(g, 'Unsqueeze', [x]);
  let outShape: Dim[] | undefined;
  if (x.shape) {
    const rank = x.shape.length + axes.length;
    const positions = new Set(axes.map((axis) => normalizeAxis(axis, rank)));
    if (positions.has(undefined) || positions.size !== axes.length) fail(g, 'Unsqueeze', [x], `Unsqueeze axes [${axes.join(', ')}] are out of range or repeated.`);
    const rest = [...x.shape];
    outShape = Array.from({ length: rank }, (_, index) => (positions.has(index) ? 1 : (rest.shift() as Dim)));
  }
  return single(g, 'Unsqueeze', [x, axesConstant(g, axes)], x.dtype, outShape);
}

export function squeeze(g: Graph, x: Value, axes: readonly number[]): Value {
  present(g, 'Squeeze', [x]);
  let outShape: Dim[] | undefined;
  if (x.shape) {
    const rank = x.shape.length;
    const positions = new Set(axes.map((axis) => normalizeAxis(axis, rank)));
    for (const at of positions) {
      if (at === undefined) fail(g, 'Squeeze', [x], `Squeeze axes [${axes.join(', ')}] are out of range.`);
      const dim = x.shape[at];
      if (typeof dim === 'number' && dim !== 1) fail(g, 'Squeeze', [x], `Squeeze axis ${at} has size ${dim}, not 1.`);
    }
    outShape = x.shape.filter((_, index) => !positions.has(index));
  }
  return single(g, 'Squeeze', [x, axesConstant(g, axes)], x.dtype, outShape);
}

/** [start, start + delta, …) below `limit`; all three rank-0 values of one dtype. */
export function range(g: Graph, start: Operand, limit: Operand, delta: Operand, dtype: DType = 'int64'): Value {
  const toValue = (operand: Operand) => (typeof operand === 'number' ? g.scalar(operand, dtype) : operand);
  const inputs = [toValue(start), toValue(limit), toValue(delta)];
  requireSameDtype(g, 'Range', inputs);
  let length: Dim = unknownDim();
  if (typeof start === 'number' && typeof limit === 'number' && typeof delta === 'number') {
    length = Math.max(Math.ceil((limit - start) / delta), 0);
  }
  return single(g, 'Range', inputs, inputs[0].dtype, [length]);
}

function isValue(candidate: readonly Dim[] | readonly number[] | Value): candidate is Value {
  return !Array.isArray(candidate);
}

/** A float32 tensor constant (a convenience for scale/bias vectors built in code). */
export function floatConstant(g: Graph, shape: readonly number[], values: readonly number[] | Float32Array): Value {
  const tensor: Tensor = { dtype: 'float32', shape: [...shape], data: Float32Array.from(values) };
  return g.constant(tensor);
}

/**
 * The transposed convolution ("fractionally strided"; the gradient of Conv with respect to its input):
 * x [N, M, …spatial], weight [M, C/group, …kernel] (Conv's own weight layout) → [N, C, …]. Output size
 * per axis: stride·(in − 1) + outputPadding + dilation·(k − 1) + 1 − padBegin − padEnd.
 */
export function convTranspose(g: Graph, x: Value, weight: Value, options: ConvOptions & { readonly outputPadding?: readonly number[] } = {}): Value {
  const inputs = [x, weight];
  requireFloat(g, 'ConvTranspose', inputs);
  requireSameDtype(g, 'ConvTranspose', inputs);
  const rank = x.shape?.length ?? weight.shape?.length;
  if (rank === undefined || rank < 3) fail(g, 'ConvTranspose', inputs, 'ConvTranspose needs x of a known rank of 3 or more.');
  const spatial = rank - 2;
  const group = options.group ?? 1;
  const strides = perAxis(options.strides, spatial, 1);
  const dilations = perAxis(options.dilations, spatial, 1);
  let pads = perAxis(options.pads, spatial, 0);
  if (pads.length === spatial) pads = [...pads, ...pads];
  const outputPadding = options.outputPadding ? [...options.outputPadding] : new Array<number>(spatial).fill(0);
  let shape: Dim[] | undefined;
  if (x.shape && weight.shape) {
    const out = weight.shape[1];
    shape = [x.shape[0], typeof out === 'number' ? out * group : unknownDim()];
    for (let axis = 0; axis < spatial; axis++) {
      const input = x.shape[axis + 2];
      const kernel = weight.shape[axis + 2];
      shape.push(
        typeof input === 'number' && typeof kernel === 'number'
          ? strides[axis] * (input - 1) + outputPadding[axis] + dilations[axis] * (kernel - 1) + 1 - pads[axis] - pads[axis + spatial]
          : unknownDim(),
      );
    }
  }
  const attrs: Record<string, Attribute> = {
    strides: attribute.ints(strides),
    pads: attribute.ints(pads),
    dilations: attribute.ints(dilations),
    group: attribute.int(group),
    output_padding: attribute.ints(outputPadding),
  };
  if (weight.shape && weight.shape.slice(2).every((dim) => typeof dim === 'number')) attrs.kernel_shape = attribute.ints(weight.shape.slice(2) as number[]);
  return single(g, 'ConvTranspose', inputs, x.dtype, shape, attrs);
}

/** Zero padding (mode 'constant'): `pads` is ONNX's [begin_0, …, begin_{r−1}, end_0, …, end_{r−1}]. */
export function pad(g: Graph, x: Value, pads: readonly number[]): Value {
  present(g, 'Pad', [x]);
  const rank = x.shape?.length;
  if (rank !== undefined && pads.length !== 2 * rank) fail(g, 'Pad', [x], `Pad needs ${2 * rank} pads for rank ${rank}, got ${pads.length}.`);
  const shape = x.shape?.map((dim, axis) => (typeof dim === 'number' ? dim + pads[axis] + pads[axis + (rank as number)] : pads[axis] === 0 && pads[axis + (rank as number)] === 0 ? dim : unknownDim()));
  return single(g, 'Pad', [x, g.constant(int64([pads.length], pads))], x.dtype, shape, { mode: attribute.string('constant') });
}

/**
 * ScatterElements along axis 0 with reduction 'add' (opset 16): a copy of `data` where updates[i, j] is
 * added at [indices[i, j], j]; repeated indices accumulate. Unlike ScatterND-add, onnxruntime's CPU kernel
 * never lets two threads add into one element (each work unit owns its output columns and walks the
 * indices in order), so the sums are exact and the same on every run.
 */
export function scatterElementsAdd(g: Graph, data: Value, indices: Value, updates: Value): Value {
  const inputs = [data, indices, updates];
  present(g, 'ScatterElements', inputs);
  if (indices.dtype !== 'int64') fail(g, 'ScatterElements', inputs, `ScatterElements needs int64 indices, got ${indices.dtype}.`);
  requireSameDtype(g, 'ScatterElements', [data, updates]);
  return single(g, 'ScatterElements', inputs, data.dtype, data.shape, { axis: attribute.int(0), reduction: attribute.string('add') });
}

/** Elementwise comparison (Greater, Less, GreaterOrEqual, LessOrEqual, Equal) → bool, with broadcasting. */
export function compare(g: Graph, op: 'Greater' | 'Less' | 'GreaterOrEqual' | 'LessOrEqual' | 'Equal', a: Operand, b: Operand): Value {
  const inputs = operands(g, op, a, b);
  requireSameDtype(g, op, inputs);
  let shape: Dim[] | undefined;
  if (inputs[0].shape && inputs[1].shape) {
    shape = broadcastShapes([inputs[0].shape, inputs[1].shape]);
    if (!shape) fail(g, op, inputs, `${op} cannot broadcast these shapes.`);
  }
  return single(g, op, inputs, 'bool', shape);
}

/** Logical and of two bool tensors, with broadcasting. */
export function and(g: Graph, a: Value, b: Value): Value {
  const inputs = [a, b];
  present(g, 'And', inputs);
  if (a.dtype !== 'bool' || b.dtype !== 'bool') fail(g, 'And', inputs, 'And needs bool inputs.');
  const shape = a.shape && b.shape ? broadcastShapes([a.shape, b.shape]) : undefined;
  return single(g, 'And', inputs, 'bool', shape);
}
