// Reverse-mode gradient rules, one per ONNX op, written in standard ONNX ops (app/onnx/ops.ts) so the
// backward pass runs on every execution provider that runs the forward. A rule receives the gradients
// of its node's outputs and returns one gradient per input (undefined where no gradient is wanted or
// defined: integer inputs, shapes, axes, conditions). The walk that applies them is app/autodiff/backward.ts.
//
// Notation: x, w, … are the node's forward inputs, y its output, dy = ∂L/∂y, dx = ∂L/∂x. "unbroadcast"
// sums a gradient over the axes NumPy broadcasting expanded, back to the input's shape.
//
//   Add        dx = unbroadcast(dy)                    dw = unbroadcast(dy)
//   Sub        dx = unbroadcast(dy)                    dw = −unbroadcast(dy)
//   Mul        dx = unbroadcast(dy·w)                  dw = unbroadcast(dy·x)
//   Div        dx = unbroadcast(dy/w)                  dw = −unbroadcast(dy·y/w)
//   Pow        dx = dy·w·x^(w−1)                       dw = dy·y·ln x
//   Neg        dx = −dy              Identity  dx = dy              Cast  dx = Cast(dy, dtype of x)
//   Sqrt       dx = dy·0.5/y         Exp       dx = dy·y            Log   dx = dy/x
//   Sin        dx = dy·cos x         Cos       dx = −dy·sin x       Tanh  dx = dy·(1 − y²)
//   Sigmoid    dx = dy·y·(1 − y)     Relu      dx = dy·[x > 0]      Clip  dx = dy·[lo ≤ x ≤ hi]
//   SiLU       y = x·s, s = Sigmoid(x) (a Mul of a Sigmoid's input and output), one rule: dx = dy·(s + y·(1 − s))
//   Erf        dx = dy·2/√π·exp(−x²)
//   Gelu       dx = dy·(Φ(x) + x·φ(x)),  Φ(x) = ½(1 + erf(x/√2)),  φ(x) = exp(−x²/2)/√(2π)   (exact GELU)
//   Softmax    dx = y·(dy − Σ_axis dy·y)
//   ReduceSum  dx = expand(dy)       ReduceMean dx = expand(dy)/n   (n = elements reduced)
//   MatMul     dx = unbroadcast(dy·wᵀ)                 dw = unbroadcast(xᵀ·dy)   (batched over leading axes)
//   Gemm       y = α·A'·B' + β·C: the MatMul rule on A', B' (transposed back), dC = unbroadcast(β·dy)
//   Conv       dx = ConvTranspose(dy, w) (same strides, pads, dilations; output_padding restores x's size),
//              or for a frozen stride-1 filter the backward chose: dx = Conv(dy, w'), w' = w with input and
//              output channels swapped and flipped in space, pads k − 1 − p, computed as
//              reverse(Conv(reverse(dy), wᵀ)) with each axis's pads swapped (backward.ts, filter copies)
//              dw = Conv(xᵀ, dyᵀ) with strides ↔ dilations swapped, cropped to the kernel (N ↔ C swapped:
//              the batch becomes the reduction axis); 1×1 convolutions use MatMul for both.   db = Σ dy
//   LayerNormalization / InstanceNormalization (normalised over the axes A, x̂ = (x − μ)/σ):
//              dx = (1/σ)·(g − mean_A(g) − x̂·mean_A(g·x̂)),  g = dy·γ;   dγ = Σ dy·x̂;   dβ = Σ dy
//   MultiHeadAttention (com.microsoft; q, k, v [B, L, C], h heads, scale s): P = softmax(s·q·kᵀ) is
//              recomputed per head; dv = Pᵀ·do, dP = do·vᵀ, dS = P·(dP − Σ do·o) (Σ dP·P = Σ do·o per row), dq = dS·(s·k), dk = dSᵀ·(s·q)
//   Reshape / Squeeze / Unsqueeze: dx = reshape(dy, shape of x)      Transpose: inverse permutation
//   Concat     dx_i = Split(dy)      Split  dx = Concat(dy_i, zeros where an output has no gradient)
//   Slice      dx = Pad(dy) (unit steps)               Expand  dx = unbroadcast(dy)
//   Where      da = Where(c, dy, 0), db = Where(c, 0, dy), unbroadcast
//   Gather     dx = ScatterElements-add(zeros, indices, dy) on rows (axis 0; not ScatterND-add, whose CPU kernel races on repeated ids)
//   Resize     nearest, separable: dx = Rᴴᵀ·dy·Rᵂ with the 0/1 selection matrices R (any integer or
//              explicit output size; sums every output pixel into the input pixel it copied)
import { UserError } from '../common/errors.ts';
import { float32, type Tensor } from '../tensor/tensor.ts';
import type { Dim, Graph, Node, Value } from '../onnx/graph.ts';
import { describeNode, isFloat } from '../onnx/graph.ts';
import {
  add,
  cast,
  compare,
  and,
  concat,
  conv,
  convTranspose,
  cos,
  div,
  erf,
  exp,
  expand,
  log,
  matMul,
  mul,
  neg,
  pad,
  pow,
  reduceMean,
  reduceSum,
  reduceSumSquare,
  reshape,
  scatterElementsAdd,
  shape as shapeOf,
  sin,
  slice,
  softmax,
  split,
  sqrt,
  sub,
  transpose,
  unsqueeze,
  where,
} from '../onnx/ops.ts';

/** What a rule sees: its node, the gradients of its outputs, and the forward values it may reuse. */
export interface GradientContext {
  readonly g: Graph;
  readonly node: Node;
  /** ∂L/∂output_i, undefined for an output no gradient reaches. */
  readonly outputGradients: readonly (Value | undefined)[];
  /** Whether input i needs a gradient (it lies on a path from a trainable tensor to the loss). */
  needs(index: number): boolean;
  /** Forward input i as the backward pass may read it (a recomputed copy under activation checkpointing). */
  input(index: number): Value;
  /** Forward output i, likewise. */
  output(index: number): Value;
  /** The data of a constant initializer (axes, shapes, scales), or undefined for any other value. */
  constant(value: Value | undefined): Tensor | undefined;
  /** The forward node that produces a value, or undefined for inputs and initializers. */
  producer(value: Value | undefined): Node | undefined;
  /**
   * For a Conv the backward options chose (BackwardOptions.filterCopyBytes): its frozen filter with
   * input and output channels swapped (a copy folded at load); otherwise undefined.
   */
  swappedFilter(): Value | undefined;
}

export type GradientRule = (context: GradientContext) => readonly (Value | undefined)[];

function unsupported(context: GradientContext, problem: string): never {
  const { node } = context;
  throw new UserError('unsupported', `${problem}\nin ${describeNode(node.op, node.name, node.inputs)}`, 'Training graphs may only use ops and attributes the gradient table (app/autodiff/gradient-rules.ts) covers.');
}

function intAttribute(node: Node, name: string, fallback: number): number {
  const attr = node.attrs[name];
  return attr && attr.type === 'int' ? attr.value : fallback;
}

function intsAttribute(node: Node, name: string): readonly number[] | undefined {
  const attr = node.attrs[name];
  return attr && attr.type === 'ints' ? attr.value : undefined;
}

function stringAttribute(node: Node, name: string, fallback: string): string {
  const attr = node.attrs[name];
  return attr && attr.type === 'string' ? attr.value : fallback;
}

function floatAttribute(node: Node, name: string, fallback: number): number {
  const attr = node.attrs[name];
  return attr && attr.type === 'float' ? attr.value : fallback;
}

/** The shape of a value when every dimension is a known number. */
export function numericShape(value: Value): number[] | undefined {
  return value.shape && value.shape.every((dim) => typeof dim === 'number') ? (value.shape as number[]) : undefined;
}

function requireShape(context: GradientContext, value: Value, why: string): readonly Dim[] {
  if (!value.shape) unsupported(context, `The gradient needs the shape of ${value.name} (${why}), which was not inferred.`);
  return value.shape;
}

function constantInts(context: GradientContext, value: Value | undefined, what: string): number[] {
  const tensor = context.constant(value);
  if (!tensor || (tensor.dtype !== 'int64' && tensor.dtype !== 'int32')) unsupported(context, `The gradient needs ${what} as a constant initializer.`);
  const values: number[] = [];
  for (const v of tensor.data as Iterable<bigint | number>) values.push(Number(v));
  return values;
}

/** `x` reshaped to the shape of `like` (static when known, else read at run time). */
export function reshapeLike(g: Graph, x: Value, like: Value): Value {
  const known = numericShape(like);
  if (known) return known.length === (x.shape?.length ?? -1) && x.shape!.every((dim, i) => dim === known[i]) ? x : reshape(g, x, known);
  return g.node({ op: 'Reshape', inputs: [x, shapeOf(g, like)], outputs: [{ dtype: x.dtype, shape: like.shape }] })[0]!;
}

/** Sums `grad` over the axes broadcasting added or stretched, back to the shape of `target`. */
export function unbroadcast(g: Graph, grad: Value, target: Value): Value {
  if (!grad.shape || !target.shape) {
    throw new UserError('unsupported', `Cannot reduce the gradient ${grad.name} to ${target.name}: a shape was not inferred.`);
  }
  const gs = grad.shape;
  const ts = target.shape;
  const offset = gs.length - ts.length;
  const axes: number[] = [];
  for (let axis = 0; axis < gs.length; axis++) {
    if (axis < offset) axes.push(axis);
    else if (ts[axis - offset] === 1 && gs[axis] !== 1) axes.push(axis);
  }
  if (axes.length === 0 && offset === 0) return grad;
  const reduced = axes.length > 0 ? reduceSum(g, grad, axes, true) : grad;
  return reshapeLike(g, reduced, target);
}

function only(context: GradientContext): Value {
  const dy = context.outputGradients[0];
  if (!dy) unsupported(context, 'No gradient reached the output (internal error of the backward walk).');
  return dy;
}

/** [the gradient for input 0] when it is needed. */
function unary(context: GradientContext, formula: (dy: Value, x: Value, y: Value) => Value): (Value | undefined)[] {
  if (!context.needs(0)) return [undefined];
  return [formula(only(context), context.input(0), context.output(0))];
}

function swapLast(g: Graph, x: Value): Value {
  const rank = x.shape?.length ?? 0;
  if (rank < 2) throw new UserError('unsupported', `MatMul gradients need operands of rank 2 or more; ${x.name} has rank ${rank}.`);
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return transpose(g, x, perm);
}

/** dY·Bᵀ for a 2-D B, as onnxruntime's FusedMatMul (com.microsoft; contrib kernels on CPU, CUDA, WebGPU). */
function fusedMatMulTransB(g: Graph, dy: Value, b: Value): Value {
  const shape = dy.shape && b.shape ? [...dy.shape.slice(0, -1), b.shape[0]!] : undefined;
  return g.node({ op: 'FusedMatMul', domain: 'com.microsoft', inputs: [dy, b], outputs: [{ dtype: dy.dtype, shape }], attrs: { transB: { type: 'int', value: 1 } } })[0]!;
}

/** dA = dY·Bᵀ and dB = Aᵀ·dY for Y = A·B, each reduced over broadcast batch axes. */
function matMulGradients(g: Graph, dy: Value, a: Value, b: Value, needA: boolean, needB: boolean): [Value | undefined, Value | undefined] {
  let da: Value | undefined;
  if (needA) {
    // A 2-D B is a weight (linear layers: B = Wᵀ, folded by onnxruntime into one initializer). dY·Bᵀ as
    // FusedMatMul(transB) reads that same initializer, where MatMul(dY, Transpose(B)) would be folded
    // into a second, transposed copy of every frozen linear weight.
    da = b.shape?.length === 2 && (dy.shape?.length ?? 0) >= 2 ? unbroadcast(g, fusedMatMulTransB(g, dy, b), a) : unbroadcast(g, matMul(g, dy, swapLast(g, b)), a);
  }
  let db: Value | undefined;
  if (needB) {
    const bRank = b.shape?.length ?? 0;
    const aRank = a.shape?.length ?? 0;
    const k = a.shape?.[aRank - 1];
    const n = dy.shape?.[(dy.shape?.length ?? 1) - 1];
    if (bRank === 2 && aRank > 2 && typeof k === 'number' && typeof n === 'number') {
      // A weight shared by every row: fold the batch axes into one GEMM instead of summing B products.
      db = matMul(g, transpose(g, reshape(g, a, [-1, k]), [1, 0]), reshape(g, dy, [-1, n]));
    } else {
      db = unbroadcast(g, matMul(g, swapLast(g, a), dy), b);
    }
  }
  return [da, db];
}

function elementwise(ctx: GradientContext, gradA: (dy: Value) => Value, gradB: (dy: Value) => Value): (Value | undefined)[] {
  const { g } = ctx;
  const dy = only(ctx);
  return [ctx.needs(0) ? unbroadcast(g, gradA(dy), ctx.input(0)) : undefined, ctx.needs(1) ? unbroadcast(g, gradB(dy), ctx.input(1)) : undefined];
}

/** Whether a constant initializer holds only ones (GroupNorm's unit InstanceNormalization scale). */
function isConstantOnes(ctx: GradientContext, value: Value | undefined): boolean {
  const tensor = value ? ctx.constant(value) : undefined;
  if (!tensor || tensor.dtype !== 'float32') return false;
  return (tensor.data as Float32Array).every((v) => v === 1);
}

/**
 * The axes a normalisation op averages over, and its ε. With c = x − μ and r = 1/σ (σ = √(var + ε),
 * the biased variance, as the forward kernels compute them), x̂ = c·r and the textbook
 * dx = r·(g − mean(g) − x̂·mean(g·x̂)) is evaluated as dx = g·r − c·(mean(g·c)·r³) − mean(g)·r: the
 * per-row factors are small tensors, so the full-size passes are c, g·c and the four of the last line
 * (x̂ itself is never materialised; a constant unit scale, GroupNorm's, is not multiplied in).
 */
function normalisationGradients(ctx: GradientContext, axes: readonly number[], epsilon: number, parameterShape: 'trailing' | 'channel'): (Value | undefined)[] {
  const { g } = ctx;
  const dy = only(ctx);
  const x = ctx.input(0);
  const scale = ctx.input(1);
  const rank = requireShape(ctx, x, 'normalisation').length;
  const xs = numericShape(x);
  const count = xs ? axes.reduce((product, axis) => product * xs[axis]!, 1) : undefined;
  // Recompute the statistics.
  const centered = sub(g, x, reduceMean(g, x, axes, true));
  const variance = count === undefined ? reduceMean(g, mul(g, centered, centered), axes, true) : mul(g, reduceSumSquare(g, centered, axes, true), 1 / count);
  const inverse = div(g, 1, sqrt(g, add(g, variance, epsilon)));
  // Per-channel parameters [C] broadcast as [C, 1, …] (InstanceNormalization); LayerNormalization's
  // scale already has the trailing shape.
  const broadcastable = (p: Value) => (parameterShape === 'channel' ? unsqueeze(g, p, Array.from({ length: rank - 2 }, (_, i) => i + 1)) : p);
  const parameterAxes = parameterShape === 'channel' ? [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)] : Array.from({ length: rank - ((scale.shape?.length) ?? 1) }, (_, i) => i);
  const sumToParameter = (v: Value, p: Value) => reshapeLike(g, reduceSum(g, v, parameterAxes, false), p);
  let dx: Value | undefined;
  if (ctx.needs(0)) {
    const gx = isConstantOnes(ctx, ctx.node.inputs[1]) ? dy : mul(g, dy, broadcastable(scale));
    const projection = mul(g, reduceMean(g, mul(g, gx, centered), axes, true), mul(g, inverse, mul(g, inverse, inverse)));
    dx = sub(g, sub(g, mul(g, gx, inverse), mul(g, centered, projection)), mul(g, reduceMean(g, gx, axes, true), inverse));
  }
  const dScale = ctx.needs(1) ? sumToParameter(mul(g, dy, mul(g, centered, inverse)), scale) : undefined;
  const bias = ctx.node.inputs[2];
  const dBias = bias && ctx.needs(2) ? sumToParameter(dy, ctx.input(2)) : undefined;
  return [dx, dScale, dBias];
}

/** ∂L/∂W of Y = Conv(X, W) (group 1) as a convolution of X with dY over the batch axis. */
function convWeightGradient(ctx: GradientContext, x: Value, w: Value, dy: Value, strides: number[], pads: number[], dilations: number[]): Value {
  const { g } = ctx;
  const ws = numericShape(w)!;
  const spatial = ws.length - 2;
  const kernel = ws.slice(2);
  if (kernel.every((k) => k === 1) && strides.every((s) => s === 1) && pads.every((p) => p === 0)) {
    // 1×1: dW[m, c] = Σ_{n,p} dY[n, m, p]·X[n, c, p] — one batched GEMM, then the sum over n.
    const [m, c] = [ws[0]!, ws[1]!];
    const perImage = matMul(g, reshape(g, dy, [0, m, -1]), transpose(g, reshape(g, x, [0, c, -1]), [0, 2, 1])); // [N, M, C]
    return reshape(g, reduceSum(g, perImage, [0], false), ws);
  }
  const swap = Array.from({ length: ws.length }, (_, i) => (i === 0 ? 1 : i === 1 ? 0 : i));
  // Xᵀ [C, N, …] convolved with dYᵀ [M, N, …] as the kernel gives [C, M, …]: the batch is summed by the
  // convolution's channel reduction. Strides and dilations trade places; the output may overhang the
  // kernel at the end (when the forward dropped trailing input), so it is cropped.
  const result = conv(g, transpose(g, x, swap), transpose(g, dy, swap), undefined, { strides: dilations, dilations: strides, pads });
  const cropped = result.shape && result.shape.slice(2).every((dim, i) => dim === kernel[i]) ? result : slice(g, result, new Array<number>(spatial).fill(0), kernel, Array.from({ length: spatial }, (_, i) => i + 2));
  return transpose(g, cropped, swap);
}

/**
 * Whether the input gradient of this Conv can be a Conv with its filter swapped and reversed (the rule's
 * swappedFilter branch): one group, explicit pads of at most k − 1, stride and dilation 1, a spatial
 * kernel (1×1 ones use MatMul), static shapes. Whether its filter is frozen is the backward's question.
 */
export function convInputGradientAsConv(node: Node): boolean {
  const ws = node.inputs[1] && numericShape(node.inputs[1]);
  if (node.op !== 'Conv' || node.domain !== '' || !ws || ws.length < 3 || !numericShape(node.outputs[0]!)) return false;
  const kernel = ws.slice(2);
  const spatial = kernel.length;
  const ones = (name: string) => (intsAttribute(node, name) ?? []).every((v) => v === 1);
  const pads = intsAttribute(node, 'pads') ?? new Array<number>(2 * spatial).fill(0);
  return (
    intAttribute(node, 'group', 1) === 1 &&
    stringAttribute(node, 'auto_pad', 'NOTSET') === 'NOTSET' &&
    ones('strides') &&
    ones('dilations') &&
    !kernel.every((k) => k === 1) &&
    pads.every((p, i) => p <= kernel[i % spatial]! - 1)
  );
}

function convRule(ctx: GradientContext): (Value | undefined)[] {
  const { g, node } = ctx;
  const dy = only(ctx);
  const x = ctx.input(0);
  const w = ctx.input(1);
  const xs = numericShape(x);
  const ws = numericShape(w);
  const ys = numericShape(dy);
  if (!xs || !ws || !ys) unsupported(ctx, 'Conv gradients need static shapes of x, the weight and the output.');
  const spatial = xs.length - 2;
  if (intAttribute(node, 'group', 1) !== 1) unsupported(ctx, 'Conv with group > 1 has no gradient rule.');
  const autoPad = stringAttribute(node, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET') unsupported(ctx, `Conv with auto_pad ${autoPad} has no gradient rule (give explicit pads).`);
  const strides = [...(intsAttribute(node, 'strides') ?? new Array<number>(spatial).fill(1))];
  const dilations = [...(intsAttribute(node, 'dilations') ?? new Array<number>(spatial).fill(1))];
  const pads = [...(intsAttribute(node, 'pads') ?? new Array<number>(2 * spatial).fill(0))];
  const pointwise = ws.slice(2).every((k) => k === 1) && strides.every((s) => s === 1) && pads.every((p) => p === 0);
  let dx: Value | undefined;
  if (ctx.needs(0)) {
    if (pointwise) {
      // dX[n, c, p] = Σ_m W[m, c]·dY[n, m, p]
      const [m, c] = [ws[0]!, ws[1]!];
      dx = reshape(g, matMul(g, transpose(g, reshape(g, w, [m, c]), [1, 0]), reshape(g, dy, [0, m, -1])), xs);
    } else {
      const outputPadding = Array.from({ length: spatial }, (_, axis) => {
        const produced = strides[axis]! * (ys[axis + 2]! - 1) + dilations[axis]! * (ws[axis + 2]! - 1) + 1 - pads[axis]! - pads[axis + spatial]!;
        return xs[axis + 2]! - produced;
      });
      if (outputPadding.some((p, axis) => p < 0 || p >= Math.max(strides[axis]!, dilations[axis]!))) {
        unsupported(ctx, `Conv gradient: cannot restore the input size with output_padding [${outputPadding.join(', ')}].`);
      }
      const swapped = ctx.swappedFilter();
      if (swapped) {
        // Stride 1: dx = Conv(dy, w') with w' the swapped filter reversed in space, pads k − 1 − p; the
        // reversal moved onto the data (reverse dy, convolve, reverse back), which swaps each axis's pads.
        const axes = Array.from({ length: spatial }, (_, i) => i + 2);
        const reverse = (value: Value) => slice(g, value, axes.map(() => -1), axes.map(() => -Number.MAX_SAFE_INTEGER), axes, axes.map(() => -1));
        const kernel = (i: number) => ws[(i % spatial) + 2]! - 1;
        const flippedPads = pads.map((_, i) => kernel(i) - pads[i < spatial ? i + spatial : i - spatial]!);
        dx = reverse(conv(g, reverse(dy), swapped, undefined, { pads: flippedPads }));
      } else {
        dx = convTranspose(g, dy, w, { strides, pads, dilations, outputPadding });
      }
    }
  }
  const dw = ctx.needs(1) ? convWeightGradient(ctx, x, w, dy, strides, pads, dilations) : undefined;
  const db = node.inputs[2] && ctx.needs(2) ? reduceSum(g, dy, [0, ...Array.from({ length: spatial }, (_, i) => i + 2)], false) : undefined;
  return [dx, dw, db];
}

/** The 0/1 matrix [out, in] whose row o selects the input index nearest-resize copies to output o. */
function nearestSelection(ctx: GradientContext, inputSize: number, outputSize: number, scale: number | undefined): Value {
  const node = ctx.node;
  const mode = stringAttribute(node, 'coordinate_transformation_mode', 'half_pixel');
  const nearest = stringAttribute(node, 'nearest_mode', 'round_prefer_floor');
  const data = new Float32Array(outputSize * inputSize);
  const ratio = scale ?? outputSize / inputSize;
  for (let o = 0; o < outputSize; o++) {
    let source: number;
    if (mode === 'asymmetric') source = o / ratio;
    else if (mode === 'half_pixel') source = (o + 0.5) / ratio - 0.5;
    else unsupported(ctx, `Resize with coordinate_transformation_mode '${mode}' has no gradient rule.`);
    let index: number;
    if (nearest === 'floor') index = Math.floor(source);
    else if (nearest === 'ceil') index = Math.ceil(source);
    else if (nearest === 'round_prefer_floor') index = source % 1 === 0.5 ? Math.floor(source) : Math.round(source);
    else index = Math.round(source);
    index = Math.min(Math.max(index, 0), inputSize - 1);
    data[o * inputSize + index] = 1;
  }
  return ctx.g.constant(float32([outputSize, inputSize], data));
}

function resizeRule(ctx: GradientContext): (Value | undefined)[] {
  const { g, node } = ctx;
  if (!ctx.needs(0)) return [undefined];
  if (stringAttribute(node, 'mode', 'nearest') !== 'nearest') unsupported(ctx, 'Only nearest Resize has a gradient rule.');
  const dy = only(ctx);
  const x = ctx.input(0);
  const xs = numericShape(x);
  const ys = numericShape(dy);
  if (!xs || !ys || xs.length !== 4) unsupported(ctx, 'Resize gradients need static 4-D shapes.');
  if (xs[0] !== ys[0] || xs[1] !== ys[1]) unsupported(ctx, 'Resize gradients support spatial resizing only.');
  const scales = node.inputs[2] ? ctx.constant(node.inputs[2]) : undefined;
  const scaleOf = (axis: number) => (scales ? (scales.data as Float32Array)[axis] : undefined);
  // dX = Rᴴᵀ · dY · Rᵂ: row o of R selects the input pixel output o copied.
  const rows = nearestSelection(ctx, xs[2]!, ys[2]!, scaleOf(2));
  const columns = nearestSelection(ctx, xs[3]!, ys[3]!, scaleOf(3));
  return [matMul(g, matMul(g, transpose(g, rows, [1, 0]), dy), columns)];
}

function multiHeadAttentionRule(ctx: GradientContext): (Value | undefined)[] {
  const { g, node } = ctx;
  if (node.inputs.length > 3 && node.inputs.slice(3).some((input) => input !== undefined)) {
    unsupported(ctx, 'MultiHeadAttention with bias, masks or past key/values has no gradient rule.');
  }
  const dOut = only(ctx);
  const heads = intAttribute(node, 'num_heads', 0);
  const q = ctx.input(0);
  const k = ctx.input(1);
  const v = ctx.input(2);
  const channels = q.shape?.[2];
  if (typeof channels !== 'number' || heads < 1) unsupported(ctx, 'MultiHeadAttention gradients need q [B, L, C] with a known C.');
  const width = channels / heads;
  const scale = floatAttribute(node, 'scale', 1 / Math.sqrt(width));
  const split = (x: Value) => transpose(g, reshape(g, x, [0, 0, heads, width]), [0, 2, 1, 3]); // [B, h, L, d]
  const merge = (x: Value) => reshape(g, transpose(g, x, [0, 2, 1, 3]), [0, 0, channels]);
  // The scale multiplies q and k ([B, L, C]), never the scores ([B, h, Lq, Lk]: the large tensors).
  const scaledQ = split(mul(g, q, scale));
  const kh = split(k);
  const vh = split(v);
  const probabilities = softmax(g, matMul(g, scaledQ, transpose(g, kh, [0, 1, 3, 2])), -1); // [B, h, Lq, Lk]
  const dOutHeads = split(dOut);
  const dv = ctx.needs(2) ? merge(matMul(g, transpose(g, probabilities, [0, 1, 3, 2]), dOutHeads)) : undefined;
  let dq: Value | undefined;
  let dk: Value | undefined;
  if (ctx.needs(0) || ctx.needs(1)) {
    const dProbabilities = matMul(g, dOutHeads, transpose(g, vh, [0, 1, 3, 2]));
    // ∂L/∂(scores before the scale) / scale. Σ_j dP_ij·P_ij = Σ_j P_ij·(do_i·v_j) = do_i·o_i (o: the
    // attention's output per head), a sum over [B, h, L, d] instead of a product and a sum over the scores.
    const rowSums = reduceSum(g, mul(g, dOutHeads, split(ctx.output(0))), [-1], true);
    const dScores = mul(g, probabilities, sub(g, dProbabilities, rowSums));
    if (ctx.needs(0)) dq = merge(matMul(g, dScores, split(mul(g, k, scale))));
    if (ctx.needs(1)) dk = merge(matMul(g, transpose(g, dScores, [0, 1, 3, 2]), scaledQ));
  }
  return [dq, dk, dv];
}

function reduceRule(mean: boolean): GradientRule {
  return (ctx) => {
    const { g, node } = ctx;
    if (!ctx.needs(0)) return [undefined];
    const dy = only(ctx);
    const x = ctx.input(0);
    const rank = requireShape(ctx, x, 'reduction').length;
    const axesInput = node.inputs[1];
    const axes = axesInput ? constantInts(ctx, axesInput, 'the reduced axes').map((axis) => (axis < 0 ? axis + rank : axis)) : Array.from({ length: rank }, (_, i) => i);
    const keep = intAttribute(node, 'keepdims', 1) === 1;
    const kept = keep ? dy : unsqueeze(g, dy, [...axes].sort((a, b) => a - b));
    let dx = g.node({ op: 'Expand', inputs: [kept, shapeOf(g, x)], outputs: [{ dtype: dy.dtype, shape: x.shape }] })[0]!;
    if (mean) {
      const xs = numericShape(x);
      if (!xs) unsupported(ctx, 'ReduceMean gradients need the static shape of the input.');
      const count = axes.reduce((product, axis) => product * xs[axis]!, 1);
      dx = div(g, dx, count);
    }
    return [dx];
  };
}

/**
 * y = x·s with s = Sigmoid(x) (SiLU, as app/onnx/layers.ts builds it) as one rule: the Mul and Sigmoid
 * rules apart cost six full-size passes (dy·s, dy·x, 1 − s, s·(1 − s), the product, the sum); together
 * dx = dy·(s + y·(1 − s)) = dy·(s + y − y·s) costs four, and s gets no gradient from this Mul (its
 * Sigmoid node is then skipped unless s has other consumers). Undefined when the node is another Mul.
 */
function siluRule(ctx: GradientContext): (Value | undefined)[] | undefined {
  const { g, node } = ctx;
  const [a, b] = node.inputs;
  if (!a || !b || a.name === b.name || !a.shape || !b.shape || a.shape.length !== b.shape.length || a.shape.some((dim, i) => dim !== b.shape![i])) return undefined;
  const sigmoidOf = (s: Value, x: Value) => {
    const producer = ctx.producer(s);
    return producer?.op === 'Sigmoid' && !producer.domain && producer.inputs[0]?.name === x.name;
  };
  const at = sigmoidOf(b, a) ? 0 : sigmoidOf(a, b) ? 1 : -1;
  if (at < 0) return undefined;
  if (!ctx.needs(at)) return [undefined, undefined];
  const s = ctx.input(1 - at);
  const y = ctx.output(0);
  const dx = mul(g, only(ctx), add(g, s, sub(g, y, mul(g, y, s))));
  return at === 0 ? [dx, undefined] : [undefined, dx];
}

const ERF_SLOPE = 2 / Math.sqrt(Math.PI);
const INV_SQRT_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** The table. Keys are `op` for the default domain and `domain:op` otherwise. */
export const GRADIENT_RULES: Readonly<Record<string, GradientRule>> = {
  Add: (ctx) => elementwise(ctx, (dy) => dy, (dy) => dy),
  Sub: (ctx) => elementwise(ctx, (dy) => dy, (dy) => neg(ctx.g, dy)),
  Mul: (ctx) => siluRule(ctx) ?? elementwise(ctx, (dy) => mul(ctx.g, dy, ctx.input(1)), (dy) => mul(ctx.g, dy, ctx.input(0))),
  Div: (ctx) => elementwise(ctx, (dy) => div(ctx.g, dy, ctx.input(1)), (dy) => neg(ctx.g, div(ctx.g, mul(ctx.g, dy, ctx.output(0)), ctx.input(1)))),
  Pow: (ctx) =>
    elementwise(
      ctx,
      (dy) => mul(ctx.g, dy, mul(ctx.g, ctx.input(1), pow(ctx.g, ctx.input(0), sub(ctx.g, ctx.input(1), 1)))),
      (dy) => mul(ctx.g, dy, mul(ctx.g, ctx.output(0), log(ctx.g, ctx.input(0)))),
    ),
  Neg: (ctx) => unary(ctx, (dy) => neg(ctx.g, dy)),
  Identity: (ctx) => unary(ctx, (dy) => dy),
  Cast: (ctx) => unary(ctx, (dy, x) => cast(ctx.g, dy, x.dtype)),
  Sqrt: (ctx) => unary(ctx, (dy, _x, y) => div(ctx.g, mul(ctx.g, dy, 0.5), y)),
  Exp: (ctx) => unary(ctx, (dy, _x, y) => mul(ctx.g, dy, y)),
  Log: (ctx) => unary(ctx, (dy, x) => div(ctx.g, dy, x)),
  Sin: (ctx) => unary(ctx, (dy, x) => mul(ctx.g, dy, cos(ctx.g, x))),
  Cos: (ctx) => unary(ctx, (dy, x) => neg(ctx.g, mul(ctx.g, dy, sin(ctx.g, x)))),
  Tanh: (ctx) => unary(ctx, (dy, _x, y) => mul(ctx.g, dy, sub(ctx.g, 1, mul(ctx.g, y, y)))),
  Sigmoid: (ctx) => unary(ctx, (dy, _x, y) => mul(ctx.g, dy, mul(ctx.g, y, sub(ctx.g, 1, y)))),
  Relu: (ctx) => unary(ctx, (dy, x) => where(ctx.g, compare(ctx.g, 'Greater', x, 0), dy, 0)),
  Clip: (ctx) => {
    const { g, node } = ctx;
    const [, low, high] = node.inputs;
    return unary(ctx, (dy, x) => {
      let inside: Value | undefined;
      if (low) inside = compare(g, 'GreaterOrEqual', x, ctx.input(1));
      if (high) {
        const below = compare(g, 'LessOrEqual', x, ctx.input(2));
        inside = inside ? and(g, inside, below) : below;
      }
      return inside ? where(g, inside, dy, 0) : dy;
    });
  },
  Erf: (ctx) => unary(ctx, (dy, x) => mul(ctx.g, dy, mul(ctx.g, exp(ctx.g, neg(ctx.g, mul(ctx.g, x, x))), ERF_SLOPE))),
  Gelu: (ctx) => {
    if (stringAttribute(ctx.node, 'approximate', 'none') !== 'none') unsupported(ctx, "Only exact Gelu (approximate 'none') has a gradient rule.");
    return unary(ctx, (dy, x) => {
      const { g } = ctx;
      const cdf = mul(g, add(g, erf(g, mul(g, x, INV_SQRT_2)), 1), 0.5);
      const density = mul(g, exp(g, mul(g, mul(g, x, x), -0.5)), INV_SQRT_2PI);
      return mul(g, dy, add(g, cdf, mul(g, x, density)));
    });
  },
  Softmax: (ctx) =>
    unary(ctx, (dy, _x, y) => {
      const axis = intAttribute(ctx.node, 'axis', -1);
      return mul(ctx.g, y, sub(ctx.g, dy, reduceSum(ctx.g, mul(ctx.g, dy, y), [axis], true)));
    }),
  ReduceSum: reduceRule(false),
  ReduceMean: reduceRule(true),
  MatMul: (ctx) => matMulGradients(ctx.g, only(ctx), ctx.input(0), ctx.input(1), ctx.needs(0), ctx.needs(1)),
  Gemm: (ctx) => {
    const { g, node } = ctx;
    const alpha = floatAttribute(node, 'alpha', 1);
    const beta = floatAttribute(node, 'beta', 1);
    const transA = intAttribute(node, 'transA', 0) === 1;
    const transB = intAttribute(node, 'transB', 0) === 1;
    const dy = alpha === 1 ? only(ctx) : mul(g, only(ctx), alpha);
    const a = transA ? transpose(g, ctx.input(0), [1, 0]) : ctx.input(0);
    const b = transB ? transpose(g, ctx.input(1), [1, 0]) : ctx.input(1);
    let [da, db] = matMulGradients(g, dy, a, b, ctx.needs(0), ctx.needs(1));
    if (da && transA) da = transpose(g, da, [1, 0]);
    if (db && transB) db = transpose(g, db, [1, 0]);
    const c = node.inputs[2];
    const dc = c && ctx.needs(2) ? unbroadcast(g, beta === 1 ? only(ctx) : mul(g, only(ctx), beta), ctx.input(2)) : undefined;
    return [da, db, dc];
  },
  Conv: convRule,
  Resize: resizeRule,
  LayerNormalization: (ctx) => {
    const rank = requireShape(ctx, ctx.input(0), 'LayerNormalization').length;
    const first = intAttribute(ctx.node, 'axis', -1);
    const start = first < 0 ? first + rank : first;
    if (ctx.node.outputs.length > 1) unsupported(ctx, 'LayerNormalization with its Mean/InvStdDev outputs has no gradient rule.');
    return normalisationGradients(ctx, Array.from({ length: rank - start }, (_, i) => start + i), floatAttribute(ctx.node, 'epsilon', 1e-5), 'trailing');
  },
  InstanceNormalization: (ctx) => {
    const rank = requireShape(ctx, ctx.input(0), 'InstanceNormalization').length;
    return normalisationGradients(ctx, Array.from({ length: rank - 2 }, (_, i) => i + 2), floatAttribute(ctx.node, 'epsilon', 1e-5), 'channel');
  },
  'com.microsoft:MultiHeadAttention': multiHeadAttentionRule,
  Reshape: (ctx) => unary(ctx, (dy, x) => reshapeLike(ctx.g, dy, x)),
  Squeeze: (ctx) => unary(ctx, (dy, x) => reshapeLike(ctx.g, dy, x)),
  Unsqueeze: (ctx) => unary(ctx, (dy, x) => reshapeLike(ctx.g, dy, x)),
  Flatten: (ctx) => unary(ctx, (dy, x) => reshapeLike(ctx.g, dy, x)),
  Transpose: (ctx) =>
    unary(ctx, (dy, x) => {
      const rank = requireShape(ctx, x, 'Transpose').length;
      const perm = intsAttribute(ctx.node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
      const inverse = new Array<number>(rank);
      perm.forEach((axis, index) => (inverse[axis] = index));
      return transpose(ctx.g, dy, inverse);
    }),
  Expand: (ctx) => unary(ctx, (dy, x) => unbroadcast(ctx.g, dy, x)),
  Concat: (ctx) => {
    const { g, node } = ctx;
    const dy = only(ctx);
    const axis = intAttribute(node, 'axis', 0);
    const parts = node.inputs.map((_, i) => ctx.input(i));
    const rank = requireShape(ctx, parts[0]!, 'Concat').length;
    const at = axis < 0 ? axis + rank : axis;
    const sizes = parts.map((part) => part.shape?.[at]);
    if (sizes.some((size) => typeof size !== 'number')) unsupported(ctx, 'Concat gradients need the static size of every input along the axis.');
    const pieces = split(g, dy, sizes as number[], at);
    return pieces.map((piece, i) => (ctx.needs(i) ? piece : undefined));
  },
  Split: (ctx) => {
    const { g, node } = ctx;
    if (!ctx.needs(0)) return [undefined];
    const axis = intAttribute(node, 'axis', 0);
    const pieces = node.outputs.map((output, i) => {
      const gradient = ctx.outputGradients[i];
      if (gradient) return gradient;
      const shape = numericShape(output);
      if (!shape) unsupported(ctx, 'Split gradients need static output shapes where an output has no gradient.');
      return expand(g, g.scalar(0, output.dtype), shape);
    });
    return [concat(g, pieces, axis)];
  },
  Slice: (ctx) => {
    const { g, node } = ctx;
    if (!ctx.needs(0)) return [undefined];
    const dy = only(ctx);
    const x = ctx.input(0);
    const xs = numericShape(x);
    if (!xs) unsupported(ctx, 'Slice gradients need the static shape of the input.');
    const starts = constantInts(ctx, node.inputs[1], 'the Slice starts');
    const ends = constantInts(ctx, node.inputs[2], 'the Slice ends');
    const axes = node.inputs[3] ? constantInts(ctx, node.inputs[3], 'the Slice axes') : starts.map((_, i) => i);
    const steps = node.inputs[4] ? constantInts(ctx, node.inputs[4], 'the Slice steps') : starts.map(() => 1);
    if (steps.some((step) => step !== 1)) unsupported(ctx, 'Slice gradients support unit steps only.');
    const pads = new Array<number>(2 * xs.length).fill(0);
    axes.forEach((axisValue, i) => {
      const axis = axisValue < 0 ? axisValue + xs.length : axisValue;
      const dim = xs[axis]!;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
      const begin = clamp(starts[i]!);
      const end = Math.max(clamp(ends[i]!), begin);
      pads[axis] = begin;
      pads[axis + xs.length] = dim - end;
    });
    return [pad(g, dy, pads)];
  },
  Where: (ctx) => {
    const { g } = ctx;
    const dy = only(ctx);
    const condition = ctx.input(0);
    return [
      undefined,
      ctx.needs(1) ? unbroadcast(g, where(g, condition, dy, 0), ctx.input(1)) : undefined,
      ctx.needs(2) ? unbroadcast(g, where(g, condition, 0, dy), ctx.input(2)) : undefined,
    ];
  },
  Gather: (ctx) => {
    const { g, node } = ctx;
    if (!ctx.needs(0)) return [undefined, undefined];
    if (intAttribute(node, 'axis', 0) !== 0) unsupported(ctx, 'Gather gradients support axis 0 only.');
    const data = ctx.input(0);
    const indices = ctx.input(1);
    const dy = only(ctx);
    const ds = numericShape(data);
    if (!ds) unsupported(ctx, 'Gather gradients need the static shape of the gathered tensor.');
    // Rows of the table: each id's row gets the sum of dy's rows at that id, in the ids' order. onnxruntime's
    // CPU ScatterND-add splits the updates over threads and loses adds where two threads hit one row (a
    // repeated token id, every batch); ScatterElements splits over columns instead, so it is exact.
    const row = ds.slice(1).reduce((a, b) => a * b, 1);
    const zeros = expand(g, g.scalar(0, data.dtype), [ds[0]!, row]);
    const index = indices.dtype === 'int64' ? indices : cast(g, indices, 'int64');
    const ids = expand(g, reshape(g, index, [-1, 1]), [1, row]);
    const summed = scatterElementsAdd(g, zeros, ids, reshape(g, dy, [-1, row]));
    return [reshape(g, summed, ds), undefined];
  },
};

/** The key of a node in the table. */
export function ruleKey(node: Node): string {
  return node.domain ? `${node.domain}:${node.op}` : node.op;
}

/** Whether gradients can flow through a value of this dtype at all (integers, bools and shapes cannot). */
export function isDifferentiable(value: Value): boolean {
  return isFloat(value.dtype);
}

