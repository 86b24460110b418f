// Cheap static shape inference for the ops in app/onnx/ops.ts. Dims are numbers or symbolic names;
// a result the rules cannot pin down becomes a fresh symbolic name ('?' + a counter), never a guess.
//
// A dim computed from symbolic ones by a fixed formula gets a name spelling that formula
// ('ceil(height/2)', '10*height*width'): the same formula of the same symbols gives the same name, so
// two values with equal names have equal sizes. The saved model declares every intermediate shape
// (model-proto.ts), and onnxruntime's memory planner reuses a dead buffer only for an output whose
// declared shape matches it dim for dim (PlannerImpl::FindReusableTensor, allocation_planner.cc). Its
// own inference loses symbolic spatial dims at the first Conv, after which no buffer is reused and
// every freed one stays on a free list that each later output scans: session creation grew with the
// square of the node count (20 s for the 7,788-node AFA graph of the tiny golden models).
import type { Dim } from './graph.ts';

let unknownCounter = 0;

/** A symbolic dim that stands for "not inferred"; unique so two unknowns are never treated as equal. */
export function unknownDim(): string {
  unknownCounter++;
  return `?${unknownCounter}`;
}

/** Multidirectional (NumPy) broadcasting as in ONNX Add/Mul/Where; undefined when shapes are incompatible. */
export function broadcastShapes(shapes: readonly (readonly Dim[])[]): Dim[] | undefined {
  const rank = Math.max(0, ...shapes.map((shape) => shape.length));
  const result: Dim[] = [];
  for (let axis = 0; axis < rank; axis++) {
    let dim: Dim = 1;
    for (const shape of shapes) {
      const offset = rank - shape.length;
      if (axis < offset) continue;
      const other = shape[axis - offset];
      if (other === 1) continue;
      if (dim === 1) dim = other;
      else if (dim !== other) {
        if (typeof dim === 'number' && typeof other === 'number') return undefined;
        // A symbolic dim against a size: the size wins (the symbol must be it or 1 at run time).
        if (typeof other === 'number') dim = other;
      }
    }
    result.push(dim);
  }
  return result;
}

export function normalizeAxis(axis: number, rank: number): number | undefined {
  const normalized = axis < 0 ? axis + rank : axis;
  return normalized >= 0 && normalized < rank ? normalized : undefined;
}

/** True for a fresh '?n' dim: a size nothing is known about, equal to no other dim. */
export function isUnknownDim(dim: Dim): boolean {
  return typeof dim === 'string' && dim.startsWith('?');
}

/** A symbolic dim as an operand of a longer formula: names stay bare, formulas get parentheses. */
function operand(dim: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(dim) ? dim : `(${dim})`;
}

/** Output size of a convolution along one axis (ONNX Conv, explicit pads): floor((in + pads − d·(k−1) − 1) / stride) + 1. */
export function convOutputDim(input: Dim, kernel: Dim, stride: number, padBegin: number, padEnd: number, dilation: number): Dim {
  if (typeof kernel !== 'number' || isUnknownDim(input)) return unknownDim();
  const shift = padBegin + padEnd - dilation * (kernel - 1) - 1;
  if (typeof input === 'number') return Math.floor((input + shift) / stride) + 1;
  if (stride === 1) return shift === -1 ? input : `${operand(input)}${shift + 1 > 0 ? '+' : '-'}${Math.abs(shift + 1)}`;
  // The usual downsampling (k3 s2 p1, k2 s2 p0): floor((in − 1) / s) + 1 = ceil(in / s).
  if (shift === -1) return `ceil(${operand(input)}/${stride})`;
  return `floor((${operand(input)}${shift >= 0 ? '+' : '-'}${Math.abs(shift)})/${stride})+1`;
}

/** Size of a nearest-neighbour resize along one axis: floor(in · scale). */
export function scaledDim(input: Dim, scale: number): Dim {
  if (typeof input === 'number') return Math.floor(input * scale);
  if (isUnknownDim(input)) return unknownDim();
  if (scale === 1) return input;
  return Number.isInteger(scale) ? `${scale}*${operand(input)}` : `floor(${operand(input)}*${scale})`;
}

/**
 * coefficient × the product of `factors` as one dim: a number when there are no symbols, otherwise a
 * name with the factors sorted (multiplication commutes, so every order gives the same name).
 */
export function productDim(coefficient: number, factors: readonly Dim[]): Dim {
  let numeric = coefficient;
  const symbols: string[] = [];
  for (const factor of factors) {
    if (typeof factor === 'number') numeric *= factor;
    else if (isUnknownDim(factor)) return unknownDim();
    else symbols.push(factor);
  }
  if (numeric === 0) return 0;
  if (symbols.length === 0) return numeric;
  if (!Number.isInteger(numeric) || numeric < 0) return unknownDim();
  const named = symbols.map(operand).sort();
  if (numeric === 1 && named.length === 1) return symbols[0]!;
  return [...(numeric === 1 ? [] : [String(numeric)]), ...named].join('*');
}

export function multiplyDims(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  return productDim(1, [a, b]);
}

/**
 * ONNX Reshape (allowzero = 0): 0 copies the input dim at the same index, -1 takes what is left. A
 * leftover made of the input's symbolic dims that the target does not already use is resolved too, so
 * [batch, 4, 8] → [0, -1] infers [batch, 32] and [batch, 4, 8] → [-1, 32] infers [batch, 32].
 */
export function reshapeShape(input: readonly Dim[] | undefined, target: readonly number[]): Dim[] {
  const result: Dim[] = target.map((dim, index) => {
    if (dim === 0) return input && index < input.length ? input[index] : unknownDim();
    return dim;
  });
  const inferIndex = target.indexOf(-1);
  if (inferIndex < 0) return result;
  if (!input) {
    result[inferIndex] = unknownDim();
    return result;
  }
  let numeric = 1;
  const symbols: string[] = [];
  for (const dim of input) {
    if (typeof dim === 'number') numeric *= dim;
    else symbols.push(dim);
  }
  for (const [index, dim] of result.entries()) {
    if (index === inferIndex) continue;
    if (typeof dim === 'number') {
      numeric /= dim;
    } else {
      const at = symbols.indexOf(dim);
      if (at < 0) {
        result[inferIndex] = unknownDim();
        return result;
      }
      symbols.splice(at, 1);
    }
  }
  result[inferIndex] = symbols.length === 0 && !Number.isInteger(numeric) ? unknownDim() : productDim(numeric, symbols);
  return result;
}

/** NumPy matmul: 1-D operands are promoted and the promoted axis dropped; batch axes broadcast. */
export function matMulShape(a: readonly Dim[], b: readonly Dim[]): Dim[] | undefined {
  if (a.length === 0 || b.length === 0) return undefined;
  const left = a.length === 1 ? [1, a[0]] : a;
  const right = b.length === 1 ? [b[0], 1] : b;
  const inner = [left[left.length - 1], right[right.length - 2]];
  if (typeof inner[0] === 'number' && typeof inner[1] === 'number' && inner[0] !== inner[1]) return undefined;
  const batch = broadcastShapes([left.slice(0, -2), right.slice(0, -2)]);
  if (!batch) return undefined;
  const result = [...batch];
  if (a.length > 1) result.push(left[left.length - 2]);
  if (b.length > 1) result.push(right[right.length - 1]);
  return result;
}

/** Elements selected by Slice along one axis of size `dim` (ONNX clamping rules). */
export function sliceDim(dim: Dim, start: number, end: number, step: number): Dim {
  if (typeof dim !== 'number') {
    // Counting from the start with non-negative bounds does not need the size (unless the end runs past it).
    if (step > 0 && start >= 0 && end >= 0 && end < 2 ** 31 - 1) return Math.max(0, Math.ceil((end - start) / step));
    return unknownDim();
  }
  const clamp = (value: number, low: number, high: number) => Math.min(Math.max(value, low), high);
  let begin = start < 0 ? start + dim : start;
  let finish = end < 0 ? end + dim : end;
  if (step > 0) {
    begin = clamp(begin, 0, dim);
    finish = clamp(finish, 0, dim);
    return Math.max(0, Math.ceil((finish - begin) / step));
  }
  begin = clamp(begin, 0, dim - 1);
  finish = clamp(finish, -1, dim - 1);
  return Math.max(0, Math.ceil((begin - finish) / -step));
}
