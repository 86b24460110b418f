// Plain TypeScript reference implementations of the ops, written from the PyTorch / ONNX definitions and
// independent of app/onnx, so op tests compare onnxruntime's results with something computed another way.
// Arrays are row-major; shapes are number[].
import assert from 'node:assert/strict';

/** mulberry32: a small seeded PRNG, so every test draws the same "random" shapes and values. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(random: () => number, size: number, scale = 1): Float32Array {
  return Float32Array.from({ length: size }, () => (random() * 2 - 1) * scale);
}

export function randomInt(random: () => number, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

export const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function strides(shape: readonly number[]): number[] {
  const result = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) result[i] = result[i + 1] * shape[i + 1];
  return result;
}

/** Largest |a - b| / (|b| + 1): relative error with an absolute floor near zero. */
export function maxError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'length');
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i] - expected[i]) / (Math.abs(expected[i]) + 1);
    if (!(error <= worst)) worst = Number.isNaN(error) ? Infinity : error;
  }
  return worst;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5, what = 'values'): void {
  const error = maxError(actual, expected);
  assert.ok(error <= tolerance, `${what}: max relative error ${error.toExponential(2)} exceeds ${tolerance}`);
}

/** NumPy broadcasting of a binary function. */
export function broadcast(a: Float32Array, aShape: readonly number[], b: Float32Array, bShape: readonly number[], fn: (x: number, y: number) => number): { data: Float32Array; shape: number[] } {
  const rank = Math.max(aShape.length, bShape.length);
  const pad = (shape: readonly number[]) => [...new Array<number>(rank - shape.length).fill(1), ...shape];
  const [pa, pb] = [pad(aShape), pad(bShape)];
  const shape = pa.map((dim, i) => Math.max(dim, pb[i]));
  const [sa, sb, so] = [strides(pa), strides(pb), strides(shape)];
  const data = new Float32Array(product(shape));
  for (let index = 0; index < data.length; index++) {
    let ia = 0;
    let ib = 0;
    for (let axis = 0; axis < rank; axis++) {
      const coordinate = Math.floor(index / so[axis]) % shape[axis];
      if (pa[axis] !== 1) ia += coordinate * sa[axis];
      if (pb[axis] !== 1) ib += coordinate * sb[axis];
    }
    data[index] = fn(a[ia], b[ib]);
  }
  return { data, shape };
}

/** PyTorch F.conv2d with zero padding [top, left, bottom, right], stride, dilation and groups. */
export function conv2d(
  x: Float32Array,
  [n, c, h, w]: readonly number[],
  weight: Float32Array,
  [m, cg, kh, kw]: readonly number[],
  bias: Float32Array | undefined,
  { stride = [1, 1], pads = [0, 0, 0, 0], dilation = [1, 1], groups = 1 }: { stride?: number[]; pads?: number[]; dilation?: number[]; groups?: number } = {},
): { data: Float32Array; shape: number[] } {
  const oh = Math.floor((h + pads[0] + pads[2] - dilation[0] * (kh - 1) - 1) / stride[0]) + 1;
  const ow = Math.floor((w + pads[1] + pads[3] - dilation[1] * (kw - 1) - 1) / stride[1]) + 1;
  const out = new Float32Array(n * m * oh * ow);
  const perGroup = m / groups;
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < m; o++) {
      const group = Math.floor(o / perGroup);
      for (let y = 0; y < oh; y++) {
        for (let xo = 0; xo < ow; xo++) {
          let sum = bias ? bias[o] : 0;
          for (let ci = 0; ci < cg; ci++) {
            const channel = group * cg + ci;
            for (let ky = 0; ky < kh; ky++) {
              const iy = y * stride[0] - pads[0] + ky * dilation[0];
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = xo * stride[1] - pads[1] + kx * dilation[1];
                if (ix < 0 || ix >= w) continue;
                sum += x[((b * c + channel) * h + iy) * w + ix] * weight[((o * cg + ci) * kh + ky) * kw + kx];
              }
            }
          }
          out[((b * m + o) * oh + y) * ow + xo] = sum;
        }
      }
    }
  }
  void c;
  return { data: out, shape: [n, m, oh, ow] };
}

/** Batched matmul of a [..., m, k] and b [k, n] or [..., k, n] with equal batch dims. */
export function matmul(a: Float32Array, aShape: readonly number[], b: Float32Array, bShape: readonly number[]): { data: Float32Array; shape: number[] } {
  const [m, k] = aShape.slice(-2);
  const n = bShape[bShape.length - 1];
  const batch = product(aShape.slice(0, -2));
  const bBatched = bShape.length > 2;
  const out = new Float32Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let q = 0; q < k; q++) sum += a[(p * m + i) * k + q] * b[(bBatched ? p * k * n : 0) + q * n + j];
        out[(p * m + i) * n + j] = sum;
      }
    }
  }
  return { data: out, shape: [...aShape.slice(0, -2), m, n] };
}

/** PyTorch nn.GroupNorm: groups over channels, biased variance, per-channel affine. */
export function groupNorm(x: Float32Array, shape: readonly number[], groups: number, scale?: Float32Array, bias?: Float32Array, eps = 1e-5): Float32Array {
  const [n, c] = shape;
  const spatial = product(shape.slice(2));
  const per = (c / groups) * spatial;
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let group = 0; group < groups; group++) {
      const start = (b * groups + group) * per;
      let mean = 0;
      for (let i = 0; i < per; i++) mean += x[start + i];
      mean /= per;
      let variance = 0;
      for (let i = 0; i < per; i++) variance += (x[start + i] - mean) ** 2;
      variance /= per;
      const inv = 1 / Math.sqrt(variance + eps);
      for (let i = 0; i < per; i++) {
        const channel = group * (c / groups) + Math.floor(i / spatial);
        out[start + i] = (x[start + i] - mean) * inv * (scale ? scale[channel] : 1) + (bias ? bias[channel] : 0);
      }
    }
  }
  return out;
}

/** PyTorch nn.LayerNorm over the last `normalized` elements of each row. */
export function layerNorm(x: Float32Array, normalized: number, scale: Float32Array, bias: Float32Array | undefined, eps = 1e-5): Float32Array {
  const out = new Float32Array(x.length);
  for (let start = 0; start < x.length; start += normalized) {
    let mean = 0;
    for (let i = 0; i < normalized; i++) mean += x[start + i];
    mean /= normalized;
    let variance = 0;
    for (let i = 0; i < normalized; i++) variance += (x[start + i] - mean) ** 2;
    variance /= normalized;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < normalized; i++) out[start + i] = (x[start + i] - mean) * inv * scale[i] + (bias ? bias[i] : 0);
  }
  return out;
}

/** Softmax along `axis` of a tensor of `shape`. */
export function softmax(x: Float32Array, shape: readonly number[], axis: number): Float32Array {
  const at = axis < 0 ? axis + shape.length : axis;
  const size = shape[at];
  const inner = product(shape.slice(at + 1));
  const outer = product(shape.slice(0, at));
  const out = new Float32Array(x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at0 = o * size * inner + i;
      let max = -Infinity;
      for (let j = 0; j < size; j++) max = Math.max(max, x[at0 + j * inner]);
      let sum = 0;
      for (let j = 0; j < size; j++) sum += Math.exp(x[at0 + j * inner] - max);
      for (let j = 0; j < size; j++) out[at0 + j * inner] = Math.exp(x[at0 + j * inner] - max) / sum;
    }
  }
  return out;
}

/** PyTorch F.interpolate(scale_factor=s, mode='nearest') on [N, C, H, W]: src = floor(dst / s). */
export function resizeNearest(x: Float32Array, [n, c, h, w]: readonly number[], scale: number): { data: Float32Array; shape: number[] } {
  const [oh, ow] = [Math.floor(h * scale), Math.floor(w * scale)];
  const out = new Float32Array(n * c * oh * ow);
  for (let p = 0; p < n * c; p++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        const sy = Math.min(Math.floor(y / scale), h - 1);
        const sx = Math.min(Math.floor(xo / scale), w - 1);
        out[(p * oh + y) * ow + xo] = x[(p * h + sy) * w + sx];
      }
    }
  }
  return { data: out, shape: [n, c, oh, ow] };
}

/** F.interpolate(size=(oh, ow), mode='nearest'): source index floor(dst · in / out) (PyTorch's scale = in / out). */
export function resizeNearestTo(x: Float32Array, [n, c, h, w]: readonly number[], oh: number, ow: number): { data: Float32Array; shape: number[] } {
  const out = new Float32Array(n * c * oh * ow);
  for (let p = 0; p < n * c; p++) {
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++) {
        const sy = Math.min(Math.floor((y * h) / oh), h - 1);
        const sx = Math.min(Math.floor((xo * w) / ow), w - 1);
        out[(p * oh + y) * ow + xo] = x[(p * h + sy) * w + sx];
      }
    }
  }
  return { data: out, shape: [n, c, oh, ow] };
}

/** erf by Abramowitz–Stegun 7.1.26 is too coarse for 1e-5; use the series / continued fraction instead. */
export function erf(x: number): number {
  const t = Math.abs(x);
  if (t < 2.5) {
    // Maclaurin series: erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1)).
    let term = t;
    let sum = t;
    for (let n = 1; n < 80; n++) {
      term *= (-t * t) / n;
      sum += term / (2 * n + 1);
      if (Math.abs(term) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc, accurate for t ≥ 2.5.
  let fraction = 0;
  for (let n = 60; n >= 1; n--) fraction = (n / 2) / (t + fraction);
  const erfc = Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + fraction);
  return Math.sign(x) * (1 - erfc);
}

export const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Permutes the axes of x. */
export function transpose(x: Float32Array, shape: readonly number[], perm: readonly number[]): { data: Float32Array; shape: number[] } {
  const outShape = perm.map((axis) => shape[axis]);
  const inStrides = strides(shape);
  const outStrides = strides(outShape);
  const out = new Float32Array(x.length);
  for (let index = 0; index < x.length; index++) {
    let source = 0;
    for (let axis = 0; axis < perm.length; axis++) {
      const coordinate = Math.floor(index / outStrides[axis]) % outShape[axis];
      source += coordinate * inStrides[perm[axis]];
    }
    out[index] = x[source];
  }
  return { data: out, shape: outShape };
}
