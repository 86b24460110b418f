// An independent judge of demo-scene images (issue #12's caption accuracy): a deterministic analysis of
// the pixels that reads the scene back — background pattern and colour; each object's shape, colour,
// size and position — without any model, so it can judge the demo models' pictures fairly.
//
// It knows what the captions promise (the named colours, the shapes' outlines, the positions a quarter
// of the image apart) and is built to survive what a tiny diffusion model does to a picture: blur,
// noise and colour drift. In steps:
// 1. Every pixel goes to OKLab (a perceptual space where Euclidean distance tracks visible difference);
//    a noisy image also through a 3×3 median, which removes noise and keeps edges, for the masks.
// 2. The background is a segment in OKLab (from one tone of the stripes, checks or gradient to the
//    other; a point for a plain one), first fitted to the image border, then to everything that is not
//    an object. A pixel belongs to an object when it lies far from that segment.
// 3. Objects are the (at most two) largest connected components. Each one's colour is the mean of its
//    purest pixels (farthest from the background), named by the nearest named colour.
// 4. The shape is found by analysis through synthesis (see fitShapes): each pixel's share of object
//    colour is a soft map whose mass, centroid and spread fix, for each candidate shape, its size,
//    place and blur; the candidate whose blurred outline matches the map best is the shape. Size and
//    position come from that fit (half side against a threshold; the box centre's quarter of the image).
// 5. The background pattern follows from how the background's variation splits between rows and
//    columns (stripes: all in one; checks: in neither) and whether the row means fall on a line
//    (gradient); its colour is the named colour whose pattern has the nearest mean.
import { UserError } from '../common/errors.ts';
import {
  COLOUR_RGB,
  COLOURS,
  POSITIONS,
  SHAPES,
  TWO_OBJECT_LAYOUTS,
  secondTone,
  shapeSdf,
  type Background,
  type Colour,
  type Pattern,
  type Position,
  type Scene,
  type SceneObject,
  type Shape,
} from './scenes.ts';

type Lab = [number, number, number];

// --------------------------------------------------------------------------------------------------
// Colour.

const LINEAR = new Float64Array(256).map((_, i) => {
  const c = i / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

function linearOf(value: number): number {
  if (Number.isInteger(value) && value >= 0 && value <= 255) return LINEAR[value]!;
  const c = Math.min(1, Math.max(0, value / 255));
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** sRGB (0…255) to OKLab (Björn Ottosson's matrices). */
export function oklab(r: number, g: number, b: number): Lab {
  const lr = linearOf(r);
  const lg = linearOf(g);
  const lb = linearOf(b);
  const l = Math.cbrt(0.4122214708 * lr + 0.5363325363 * lg + 0.0514459929 * lb);
  const m = Math.cbrt(0.2119034982 * lr + 0.6806995451 * lg + 0.1073969566 * lb);
  const s = Math.cbrt(0.0883024619 * lr + 0.2817188376 * lg + 0.6299787005 * lb);
  return [
    0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s,
  ];
}

function distance(a: readonly number[], b: readonly number[]): number {
  return Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
}

const NAMED_LAB: readonly (readonly [Colour, Lab])[] = COLOURS.map((colour) => [colour, oklab(...COLOUR_RGB[colour])]);

/** The named colour nearest to an OKLab colour. */
export function nearestColour(lab: readonly number[]): Colour {
  let best: Colour = COLOURS[0];
  let bestDistance = Infinity;
  for (const [colour, named] of NAMED_LAB) {
    const d = distance(lab, named);
    if (d < bestDistance) {
      bestDistance = d;
      best = colour;
    }
  }
  return best;
}

/** Mean OKLab of a background of each named colour and pattern family, as the renderer draws it. */
const BACKGROUND_MEANS: ReadonlyMap<string, Lab> = (() => {
  const means = new Map<string, Lab>();
  for (const colour of COLOURS) {
    const base = COLOUR_RGB[colour];
    const tone = secondTone(colour);
    const at = (t: number) => oklab(...(base.map((v, c) => v + (tone[c]! - v) * t) as Lab));
    const average = (ts: readonly number[]): Lab => {
      const sum: Lab = [0, 0, 0];
      for (const t of ts) at(t).forEach((v, c) => (sum[c] += v / ts.length));
      return sum;
    };
    means.set(`${colour}:plain`, at(0));
    means.set(`${colour}:two-tone`, average([0, 1]));
    means.set(`${colour}:gradient`, average(Array.from({ length: 33 }, (_, i) => i / 32)));
  }
  return means;
})();

function backgroundColour(mean: Lab, pattern: Pattern): Colour {
  const family = pattern === 'plain' ? 'plain' : pattern === 'gradient' ? 'gradient' : 'two-tone';
  let best: Colour = COLOURS[0];
  let bestDistance = Infinity;
  for (const colour of COLOURS) {
    const d = distance(mean, BACKGROUND_MEANS.get(`${colour}:${family}`)!);
    if (d < bestDistance) {
      bestDistance = d;
      best = colour;
    }
  }
  return best;
}

// --------------------------------------------------------------------------------------------------
// Small numeric helpers.

/** The q-quantile (nearest rank) of the values, by quickselect on a copy. */
function quantile(values: ArrayLike<number>, q: number): number {
  const n = values.length;
  if (n === 0) return NaN;
  const a = Float64Array.from(values);
  const k = Math.min(n - 1, Math.max(0, Math.round(q * (n - 1))));
  let left = 0;
  let right = n - 1;
  while (left < right) {
    const pivot = a[(left + right) >> 1]!;
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return a[k]!;
}

/** The background as an OKLab segment from `a` to `b` (a point when a = b). */
interface BackgroundLine {
  readonly a: Lab;
  readonly b: Lab;
}

function closestOnSegment(p: Lab, line: BackgroundLine): Lab {
  const { a, b } = line;
  const e = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
  const ee = e[0]! * e[0]! + e[1]! * e[1]! + e[2]! * e[2]!;
  const t = ee > 1e-12 ? Math.min(1, Math.max(0, ((p[0] - a[0]) * e[0]! + (p[1] - a[1]) * e[1]! + (p[2] - a[2]) * e[2]!) / ee)) : 0;
  return [a[0] + e[0]! * t, a[1] + e[1]! * t, a[2] + e[2]! * t];
}

function segmentDistance(lab: Float32Array, i: number, line: BackgroundLine): number {
  const { a, b } = line;
  const ex = b[0] - a[0];
  const ey = b[1] - a[1];
  const ez = b[2] - a[2];
  const wx = lab[i]! - a[0];
  const wy = lab[i + 1]! - a[1];
  const wz = lab[i + 2]! - a[2];
  const ee = ex * ex + ey * ey + ez * ez;
  const t = ee > 1e-12 ? Math.min(1, Math.max(0, (wx * ex + wy * ey + wz * ez) / ee)) : 0;
  return Math.hypot(wx - ex * t, wy - ey * t, wz - ez * t);
}

/** Mean, principal axis (power iteration on the covariance) and projections of the chosen pixels. */
function principal(lab: Float32Array, pixels: ArrayLike<number>): { mean: Lab; axis: Lab; t: Float64Array } {
  const n = pixels.length;
  const mean: Lab = [0, 0, 0];
  for (let k = 0; k < n; k++) for (let c = 0; c < 3; c++) mean[c] += lab[pixels[k]! * 3 + c]! / n;
  const cov = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  for (let k = 0; k < n; k++) {
    const i = pixels[k]! * 3;
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) cov[r * 3 + c] += ((lab[i + r]! - mean[r]) * (lab[i + c]! - mean[c])) / n;
  }
  let axis: Lab = [0.6, 0.5, 0.4];
  for (let iteration = 0; iteration < 30; iteration++) {
    const next: Lab = [0, 0, 0];
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) next[r] += cov[r * 3 + c]! * axis[c];
    const norm = Math.hypot(...next);
    if (norm < 1e-15) break;
    axis = next.map((v) => v / norm) as Lab;
  }
  const t = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const i = pixels[k]! * 3;
    t[k] = (lab[i]! - mean[0]) * axis[0] + (lab[i + 1]! - mean[1]) * axis[1] + (lab[i + 2]! - mean[2]) * axis[2];
  }
  return { mean, axis, t };
}

/** The segment spanned by the chosen pixels along their principal axis, between two quantiles. */
function fitBackground(lab: Float32Array, pixels: ArrayLike<number>, low: number, high: number): BackgroundLine {
  const { mean, axis, t } = principal(lab, pixels);
  const t0 = quantile(t, low);
  const t1 = quantile(t, high);
  return { a: mean.map((v, c) => v + axis[c]! * t0) as Lab, b: mean.map((v, c) => v + axis[c]! * t1) as Lab };
}

// --------------------------------------------------------------------------------------------------
// Masks and components.

/** Per-channel 3×3 median of an interleaved 3-channel float image (edges replicate). */
function median3x3(source: Float32Array, size: number): Float32Array {
  const out = new Float32Array(source.length);
  for (let y = 0; y < size; y++) {
    const r0 = Math.max(0, y - 1) * size;
    const r1 = y * size;
    const r2 = Math.min(size - 1, y + 1) * size;
    for (let x = 0; x < size; x++) {
      const c0 = Math.max(0, x - 1);
      const c2 = Math.min(size - 1, x + 1);
      for (let c = 0; c < 3; c++) {
        let p0 = source[(r0 + c0) * 3 + c]!, p1 = source[(r0 + x) * 3 + c]!, p2 = source[(r0 + c2) * 3 + c]!;
        let p3 = source[(r1 + c0) * 3 + c]!, p4 = source[(r1 + x) * 3 + c]!, p5 = source[(r1 + c2) * 3 + c]!;
        let p6 = source[(r2 + c0) * 3 + c]!, p7 = source[(r2 + x) * 3 + c]!, p8 = source[(r2 + c2) * 3 + c]!;
        let t: number;
        // The 19 compare-exchanges of Paeth's median-of-9 network (Graphics Gems): p4 ends as the median.
        if (p1 > p2) (t = p1), (p1 = p2), (p2 = t);
        if (p4 > p5) (t = p4), (p4 = p5), (p5 = t);
        if (p7 > p8) (t = p7), (p7 = p8), (p8 = t);
        if (p0 > p1) (t = p0), (p0 = p1), (p1 = t);
        if (p3 > p4) (t = p3), (p3 = p4), (p4 = t);
        if (p6 > p7) (t = p6), (p6 = p7), (p7 = t);
        if (p1 > p2) (t = p1), (p1 = p2), (p2 = t);
        if (p4 > p5) (t = p4), (p4 = p5), (p5 = t);
        if (p7 > p8) (t = p7), (p7 = p8), (p8 = t);
        if (p0 > p3) p3 = p0;
        if (p5 > p8) p5 = p8;
        if (p4 > p7) (t = p4), (p4 = p7), (p7 = t);
        if (p3 > p6) p6 = p3;
        if (p1 > p4) p4 = p1;
        if (p2 > p5) p2 = p5;
        if (p4 > p7) p4 = p7;
        if (p4 > p2) (t = p4), (p4 = p2), (p2 = t);
        if (p6 > p4) p4 = p6;
        if (p4 > p2) p4 = p2;
        out[(r1 + x) * 3 + c] = p4;
      }
    }
  }
  return out;
}

/** Robust standard deviation of the pixel noise in OKLab lightness, from horizontal neighbours. */
function lightnessNoise(raw: Float32Array, size: number): number {
  const differences: number[] = [];
  for (let y = 0; y < size; y++) for (let x = 0; x + 1 < size; x++) differences.push(Math.abs(raw[(y * size + x + 1) * 3]! - raw[(y * size + x) * 3]!));
  // For Gaussian noise of deviation σ the difference has deviation σ√2, and its median |.| is 0.6745 of that.
  return quantile(differences, 0.5) / 0.6745 / Math.SQRT2;
}

/** 8-connected components of `mask` (1 = set): a label per pixel (0 = none) and each label's pixels. */
function components(mask: Uint8Array, width: number, height: number): { labels: Int32Array; members: number[][] } {
  const labels = new Int32Array(width * height);
  const members: number[][] = [];
  const stack: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = members.length + 1;
    const pixels: number[] = [];
    labels[start] = label;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop()!;
      pixels.push(p);
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const q = yy * width + xx;
          if (mask[q] && !labels[q]) {
            labels[q] = label;
            stack.push(q);
          }
        }
      }
    }
    members.push(pixels);
  }
  return { labels, members };
}

function dilate(mask: Uint8Array, size: number, radius: number): Uint8Array {
  let current = mask;
  for (let step = 0; step < radius; step++) {
    const next = new Uint8Array(current);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if (current[y * size + x]) continue;
        if ((x > 0 && current[y * size + x - 1]) || (x < size - 1 && current[y * size + x + 1]) || (y > 0 && current[(y - 1) * size + x]) || (y < size - 1 && current[(y + 1) * size + x])) {
          next[y * size + x] = 1;
        }
      }
    }
    current = next;
  }
  return current;
}

// --------------------------------------------------------------------------------------------------
// Shapes, by analysis through synthesis. A blurred object keeps its mass (the sum of its pixels'
// share of object colour) and its centroid, and its second moments grow by the blur's variance. So
// for each candidate shape, mass gives the size, the centroid the place, and the moments' excess the
// blur: the candidate's outline (the renderer's own SDF) drawn there, blurred that much, is compared
// with the object pixel by pixel, and the closest candidate names the shape. Blur blunts the points
// of a small star until no threshold of the image shows them, but the blurred template of a star
// still matches it better than a blurred circle does.

/** A shape's moments at half side r = 1: area, centroid offset from the box centre, central second moments. */
interface ShapeMoments {
  readonly area: number;
  readonly dx: number;
  readonly dy: number;
  readonly xx: number;
  readonly yy: number;
}

const SHAPE_MOMENTS: ReadonlyMap<Shape, ShapeMoments> = (() => {
  // Numerically, on a 240-pixel grid at r = 100 (pixel-area coverage as the renderer draws it).
  const r = 100;
  const side = 240;
  const moments = new Map<Shape, ShapeMoments>();
  for (const shape of SHAPES) {
    const sdf = shapeSdf(shape, side / 2, side / 2, r);
    let m = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let syy = 0;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const w = Math.min(1, Math.max(0, 0.5 - sdf(x + 0.5, y + 0.5)));
        if (w === 0) continue;
        const px = x + 0.5 - side / 2;
        const py = y + 0.5 - side / 2;
        m += w;
        sx += w * px;
        sy += w * py;
        sxx += w * px * px;
        syy += w * py * py;
      }
    }
    const cx = sx / m;
    const cy = sy / m;
    moments.set(shape, { area: m / (r * r), dx: cx / r, dy: cy / r, xx: (sxx / m - cx * cx) / (r * r), yy: (syy / m - cy * cy) / (r * r) });
  }
  return moments;
})();

/** Separable Gaussian blur of a `width` × `height` single-channel map, zero outside. */
function blurMap(map: Float64Array, width: number, height: number, sigma: number): Float64Array {
  if (sigma < 0.05) return map;
  const radius = Math.ceil(3 * sigma);
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let k = -radius; k <= radius; k++) sum += kernel[k + radius] = Math.exp(-(k * k) / (2 * sigma * sigma));
  for (let k = 0; k < kernel.length; k++) kernel[k]! /= sum;
  const across = new Float64Array(map.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 0;
      for (let k = -radius; k <= radius; k++) {
        const xx = x + k;
        if (xx >= 0 && xx < width) v += kernel[k + radius]! * map[y * width + xx]!;
      }
      across[y * width + x] = v;
    }
  }
  const out = new Float64Array(map.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 0;
      for (let k = -radius; k <= radius; k++) {
        const yy = y + k;
        if (yy >= 0 && yy < height) v += kernel[k + radius]! * across[yy * width + x]!;
      }
      out[y * width + x] = v;
    }
  }
  return out;
}

/** One candidate shape fitted to an object. */
export interface ShapeFit {
  readonly shape: Shape;
  /** Box centre and half side in image pixels. */
  readonly cx: number;
  readonly cy: number;
  readonly r: number;
  /** Blur deviation in pixels that explains the object's spread beyond the shape's. */
  readonly sigma: number;
  /** Mean squared difference between template and object, per unit of object mass. */
  readonly error: number;
}

/**
 * Fits every shape to `alpha` (each pixel's share of object colour, a `width` × `height` window whose
 * top-left pixel is (x0, y0) in the image) and returns the fits, best first.
 */
export function fitShapes(alpha: Float64Array, width: number, height: number, x0: number, y0: number, maxSigma: number): ShapeFit[] {
  let m = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const w = alpha[y * width + x]!;
      m += w;
      sx += w * (x + 0.5);
      sy += w * (y + 0.5);
    }
  }
  if (!(m > 1)) return [];
  const cx = sx / m;
  const cy = sy / m;
  let sxx = 0;
  let syy = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const w = alpha[y * width + x]!;
      sxx += w * (x + 0.5 - cx) ** 2;
      syy += w * (y + 0.5 - cy) ** 2;
    }
  }
  const spread = (sxx + syy) / m;
  const fits: ShapeFit[] = [];
  for (const shape of SHAPES) {
    const moments = SHAPE_MOMENTS.get(shape)!;
    const r = Math.sqrt(m / moments.area);
    const bx = cx - moments.dx * r;
    const by = cy - moments.dy * r;
    const sigma = Math.min(maxSigma, Math.sqrt(Math.max(0, (spread - (moments.xx + moments.yy) * r * r) / 2)));
    const sdf = shapeSdf(shape, bx, by, r);
    const template = new Float64Array(width * height);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) template[y * width + x] = Math.min(1, Math.max(0, 0.5 - sdf(x + 0.5, y + 0.5)));
    const blurred = blurMap(template, width, height, sigma);
    let error = 0;
    for (let k = 0; k < alpha.length; k++) error += (alpha[k]! - blurred[k]!) ** 2;
    fits.push({ shape, cx: bx + x0, cy: by + y0, r, sigma, error: error / m });
  }
  return fits.sort((a, b) => a.error - b.error);
}

// --------------------------------------------------------------------------------------------------
// The analysis.

export interface DetectedObject extends SceneObject {
  /** Mean OKLab of the object's purest pixels. */
  readonly lab: readonly [number, number, number];
  /** Every shape fitted to the object, best first (the first gives shape, size and position). */
  readonly fits: readonly ShapeFit[];
}

export interface DetectedScene {
  /** The (at most two) largest objects found, in reading order: left to right, or top to bottom. */
  readonly objects: readonly DetectedObject[];
  readonly background: Background;
  /** The background's mean OKLab and its tone contrast (the spread of its block means along its main axis, OKLab). */
  readonly backgroundLab: readonly [number, number, number];
  readonly backgroundContrast: number;
}

function checkImage(image: Uint8Array, size: number): void {
  if (!Number.isInteger(size) || size < 16) throw new UserError('invalid-argument', `The image side must be a whole number of at least 16 pixels, got ${size}.`);
  if (image.length !== size * size * 3) throw new UserError('invalid-argument', `A ${size}×${size} RGB image has ${size * size * 3} bytes, got ${image.length}.`, 'Pass 8-bit RGB, HWC, row-major.');
}

/** Objects closer to the background than this (OKLab distance) are not told from it; the nearest pair of a named colour and another's background is 0.108 away. */
const OBJECT_THRESHOLD = 0.05;

function positionOf(cx: number, cy: number, size: number): Position {
  const dx = cx - size / 2;
  const dy = cy - size / 2;
  if (Math.max(Math.abs(dx), Math.abs(dy)) < size / 8) return 'centre';
  if (Math.abs(dx) >= Math.abs(dy)) return dx < 0 ? 'left' : 'right';
  return dy < 0 ? 'top' : 'bottom';
}

/** Reads a scene from an RGB image (HWC, row-major, `size`² × 3 bytes). */
export function detectScene(image: Uint8Array, size: number): DetectedScene {
  checkImage(image, size);
  const n = size * size;
  const raw = new Float32Array(n * 3);
  // Rendered and generated images repeat colours a lot: convert each distinct one once.
  const converted = new Map<number, Lab>();
  for (let p = 0; p < n; p++) {
    const key = (image[p * 3]! << 16) | (image[p * 3 + 1]! << 8) | image[p * 3 + 2]!;
    let value = converted.get(key);
    if (value === undefined) converted.set(key, (value = oklab(image[p * 3]!, image[p * 3 + 1]!, image[p * 3 + 2]!)));
    raw[p * 3] = value[0];
    raw[p * 3 + 1] = value[1];
    raw[p * 3 + 2] = value[2];
  }
  // A renderer's image is clean and keeps its thin parts (a small star's points) unfiltered; a noisy one
  // goes through the median first. The noise is read from neighbours' lightness differences, which are
  // zero in flat regions of a clean image (the median of |ΔL| is 0 there).
  const noisy = lightnessNoise(raw, size) > 0.004;
  const lab = noisy ? median3x3(raw, size) : raw;
  const scale = size / 64;

  // The background, first from a border two pixels wide (objects stay ≥ 2 px inside at 64 px; the 10 %
  // of border pixels farthest from the border's median are left out in case one comes closer).
  const border: number[] = [];
  const band = Math.max(1, Math.round(2 * scale));
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (x < band || y < band || x >= size - band || y >= size - band) border.push(y * size + x);
  const borderMedian: Lab = [0, 1, 2].map((c) => quantile(border.map((p) => lab[p * 3 + c]!), 0.5)) as Lab;
  const borderDistance = border.map((p) => distance([lab[p * 3]!, lab[p * 3 + 1]!, lab[p * 3 + 2]!], borderMedian));
  const cut = quantile(borderDistance, 0.9);
  let line = fitBackground(
    lab,
    border.filter((_, k) => borderDistance[k]! <= cut),
    0.02,
    0.98,
  );
  const mask = new Uint8Array(n);
  const objectDistance = new Float32Array(n);
  // Twice: objects from the border's background, then the background from all that is not near an object.
  for (let round = 0; round < 2; round++) {
    for (let p = 0; p < n; p++) {
      objectDistance[p] = segmentDistance(lab, p * 3, line);
      mask[p] = objectDistance[p]! > OBJECT_THRESHOLD ? 1 : 0;
    }
    if (round === 1) break;
    const near = dilate(mask, size, Math.max(1, Math.round(2 * scale)));
    const rest: number[] = [];
    for (let p = 0; p < n; p++) if (!near[p]) rest.push(p);
    if (rest.length >= n / 4) line = fitBackground(lab, rest, 0.01, 0.99);
  }

  // Objects: the two largest components above a minimum area (noise specks are smaller).
  const { members } = components(mask, size, size);
  const minimumArea = Math.max(6, Math.round(16 * scale * scale));
  const chosen = members
    .map((pixels, k) => ({ pixels, label: k + 1 }))
    .filter((c) => c.pixels.length >= minimumArea)
    .sort((a, b) => b.pixels.length - a.pixels.length)
    .slice(0, 2);
  const objects: DetectedObject[] = [];
  const others = (label: number) => {
    const mask = new Uint8Array(n);
    for (const c of chosen) if (c.label !== label) for (const p of c.pixels) mask[p] = 1;
    return dilate(mask, size, 1);
  };
  for (const component of chosen) {
    // Colour: the mean of the purest 15 % of its pixels (farthest from the background), unfiltered; a
    // thin ring's middle is the only part that blur leaves near its colour.
    const sortedByDistance = [...component.pixels].sort((p, q) => objectDistance[q]! - objectDistance[p]!);
    const pure = sortedByDistance.slice(0, Math.max(4, Math.ceil(sortedByDistance.length * 0.15)));
    const objectLab: Lab = [0, 0, 0];
    const filteredLab: Lab = [0, 0, 0];
    for (const p of pure) {
      for (let c = 0; c < 3; c++) {
        objectLab[c] += raw[p * 3 + c]! / pure.length;
        filteredLab[c] += lab[p * 3 + c]! / pure.length;
      }
    }
    const colour = nearestColour(objectLab);
    // Each pixel's share of object colour: its offset from the nearest background colour, projected on
    // the direction from the background to the object's colour (signed, so the background's noise
    // averages out instead of adding mass). The full share is the named colour's distance when the
    // object is purer than that allows (a blurred small object never reaches its colour in the middle).
    const anchor = closestOnSegment(filteredLab, line);
    const direction = filteredLab.map((v, c) => v - anchor[c]!) as Lab;
    const observed = Math.hypot(...direction);
    if (observed < 1e-6) continue;
    const named = Math.hypot(...NAMED_LAB.find(([c]) => c === colour)![1].map((v, c) => v - anchor[c]!));
    const full = Math.max(observed, Math.min(named, observed * 1.6));
    const unit = direction.map((v) => v / observed) as Lab;
    let bx0 = size;
    let by0 = size;
    let bx1 = -1;
    let by1 = -1;
    for (const p of component.pixels) {
      const x = p % size;
      const y = (p - x) / size;
      bx0 = Math.min(bx0, x);
      bx1 = Math.max(bx1, x);
      by0 = Math.min(by0, y);
      by1 = Math.max(by1, y);
    }
    const pad = Math.max(2, Math.round(3 * scale));
    const wx0 = Math.max(0, bx0 - pad);
    const wy0 = Math.max(0, by0 - pad);
    const ww = Math.min(size - 1, bx1 + pad) - wx0 + 1;
    const wh = Math.min(size - 1, by1 + pad) - wy0 + 1;
    const excluded = others(component.label);
    const alpha = new Float64Array(ww * wh);
    for (let y = 0; y < wh; y++) {
      for (let x = 0; x < ww; x++) {
        const p = (y + wy0) * size + x + wx0;
        if (excluded[p]) continue;
        const pixel: Lab = [raw[p * 3]!, raw[p * 3 + 1]!, raw[p * 3 + 2]!];
        const base = closestOnSegment(pixel, line);
        const share = ((pixel[0] - base[0]) * unit[0] + (pixel[1] - base[1]) * unit[1] + (pixel[2] - base[2]) * unit[2]) / full;
        alpha[y * ww + x] = Math.min(1.25, Math.max(-0.25, share));
      }
    }
    const fits = fitShapes(alpha, ww, wh, wx0, wy0, 3 * scale);
    const best = fits[0];
    if (!best) continue;
    objects.push({
      shape: best.shape,
      colour,
      // Large objects are 24 px across at 64 px, small ones 14 (−6 %…+4 %): the boundary is near their geometric mean.
      size: best.r >= 9.2 * scale ? 'large' : 'small',
      position: positionOf(best.cx, best.cy, size),
      lab: objectLab,
      fits,
    });
  }
  objects.sort((a, b) => POSITIONS.indexOf(a.position) - POSITIONS.indexOf(b.position) || a.fits[0]!.cx - b.fits[0]!.cx || a.fits[0]!.cy - b.fits[0]!.cy);

  // The background: every pixel not within two pixels of an object.
  const covered = dilate(mask, size, Math.max(1, Math.round(2 * scale)));
  const rest: number[] = [];
  for (let p = 0; p < n; p++) if (!covered[p]) rest.push(p);
  const backgroundPixels = rest.length >= n / 8 ? rest : border;
  const { pattern, contrast } = backgroundPattern(lab, size, backgroundPixels);
  const mean: Lab = [0, 0, 0];
  for (const p of backgroundPixels) for (let c = 0; c < 3; c++) mean[c] += raw[p * 3 + c]! / backgroundPixels.length;
  return { objects, background: { pattern, colour: backgroundColour(mean, pattern) }, backgroundLab: mean, backgroundContrast: contrast };
}

/** Stripes vary along one axis only, checks along neither alone, a gradient along one axis in a line. */
function backgroundPattern(lab: Float32Array, size: number, pixels: readonly number[]): { pattern: Pattern; contrast: number } {
  const { t: projected } = principal(lab, pixels);
  const t = new Float64Array(size * size).fill(NaN);
  pixels.forEach((p, k) => (t[p] = projected[k]!));
  // The tones' spread, read on the means of blocks a half cell wide (stripes and checks fill whole
  // blocks, pixel noise averages out): plain when below the dimmest pattern's (yellow's tones are 0.057
  // apart) by a margin the leftover noise does not reach.
  const block = Math.max(2, Math.round(size / 16));
  const blockMeans: number[] = [];
  for (let by = 0; by + block <= size; by += block) {
    for (let bx = 0; bx + block <= size; bx += block) {
      let sum = 0;
      let k = 0;
      for (let y = by; y < by + block; y++) {
        for (let x = bx; x < bx + block; x++) {
          const v = t[y * size + x]!;
          if (Number.isNaN(v)) continue;
          sum += v;
          k++;
        }
      }
      if (k * 2 >= block * block) blockMeans.push(sum / k);
    }
  }
  const contrast = blockMeans.length >= 4 ? quantile(blockMeans, 0.95) - quantile(blockMeans, 0.05) : quantile(projected, 0.98) - quantile(projected, 0.02);
  if (contrast < 0.03) return { pattern: 'plain', contrast };
  let total = 0;
  let count = 0;
  let overall = 0;
  for (const p of pixels) overall += t[p]!;
  overall /= pixels.length;
  for (const p of pixels) {
    total += (t[p]! - overall) ** 2;
    count++;
  }
  total /= count;
  const lineMeans = (alongRows: boolean): { index: number; mean: number; count: number }[] => {
    const out: { index: number; mean: number; count: number }[] = [];
    for (let a = 0; a < size; a++) {
      let sum = 0;
      let k = 0;
      for (let b = 0; b < size; b++) {
        const v = alongRows ? t[a * size + b]! : t[b * size + a]!;
        if (Number.isNaN(v)) continue;
        sum += v;
        k++;
      }
      if (k >= size / 8) out.push({ index: a, mean: sum / k, count: k });
    }
    return out;
  };
  const share = (means: { mean: number; count: number }[]): number => {
    let weighted = 0;
    let weight = 0;
    for (const m of means) {
      weighted += m.count * (m.mean - overall) ** 2;
      weight += m.count;
    }
    return weight > 0 ? weighted / weight / total : 0;
  };
  const rows = lineMeans(true);
  const columns = lineMeans(false);
  const rowShare = share(rows);
  const columnShare = share(columns);
  const linear = (means: { index: number; mean: number }[]): number => {
    // R² of a straight line through the line means.
    const k = means.length;
    if (k < 3) return 0;
    const mx = means.reduce((s, m) => s + m.index, 0) / k;
    const my = means.reduce((s, m) => s + m.mean, 0) / k;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (const m of means) {
      sxy += (m.index - mx) * (m.mean - my);
      sxx += (m.index - mx) ** 2;
      syy += (m.mean - my) ** 2;
    }
    return syy > 0 ? (sxy * sxy) / (sxx * syy) : 0;
  };
  // Stripes and checks alternate: their values swing from one tone to the other several times along a
  // line (7 times across 8 cells; counted with hysteresis, a quarter of the spread either side of the
  // middle, so noise does not count). Variation without that structure — the soft blotches a small
  // model may leave on a plain background — reads as plain.
  const middle = (quantile(projected, 0.95) + quantile(projected, 0.05)) / 2;
  const band = contrast / 4;
  const swings = (values: Iterable<number>): number => {
    let state = 0;
    let count = 0;
    for (const v of values) {
      if (Number.isNaN(v)) continue;
      const side = v >= middle + band ? 1 : v <= middle - band ? -1 : 0;
      if (side === 0) continue;
      if (state !== 0 && side !== state) count++;
      state = side;
    }
    return count;
  };
  const alternates = (means: { mean: number }[]) => swings(means.map((m) => m.mean)) >= 3;
  if (rowShare >= 0.5 && rowShare >= columnShare) return { pattern: linear(rows) > 0.8 ? 'gradient' : alternates(rows) ? 'horizontal-stripes' : 'plain', contrast };
  if (columnShare >= 0.5) return { pattern: linear(columns) > 0.8 ? 'gradient' : alternates(columns) ? 'vertical-stripes' : 'plain', contrast };
  // Checks: most rows and most columns swing at least three times (of those at least half background:
  // two large objects one above the other leave the columns through them only a few cells).
  const swinging = (lines: Float64Array[]): boolean => {
    const open = lines.filter((line) => line.reduce((k, v) => k + (Number.isNaN(v) ? 0 : 1), 0) >= size / 2);
    return open.length < size / 8 || open.filter((line) => swings(line) >= 3).length >= open.length / 2;
  };
  const rowLines = Array.from({ length: size }, (_, a) => t.subarray(a * size, (a + 1) * size));
  const columnLines = Array.from({ length: size }, (_, a) => Float64Array.from({ length: size }, (_, b) => t[b * size + a]!));
  return { pattern: swinging(rowLines) && swinging(columnLines) ? 'checks' : 'plain', contrast };
}

// --------------------------------------------------------------------------------------------------
// Judging an image against the scene its caption asked for.

export interface Judgement {
  readonly shape: boolean;
  readonly colour: boolean;
  readonly size: boolean;
  readonly position: boolean;
  readonly background: boolean;
  /** As many objects found as asked for. */
  readonly count: boolean;
  readonly all: boolean;
  readonly detected: DetectedScene;
}

type ObjectAttribute = 'shape' | 'colour' | 'size' | 'position';
const OBJECT_ATTRIBUTES: readonly ObjectAttribute[] = ['shape', 'colour', 'size', 'position'];

/**
 * Whether an image shows the expected scene, attribute by attribute. An object attribute holds when
 * every expected object has it right; expected objects are matched to detected ones by the assignment
 * that gets the most attributes right (ties: the one whose places agree), so a scene with its two
 * objects found but swapped is judged on what each object looks like and is wrong only in position.
 * A missing object gets every attribute wrong; the background counts pattern and colour together.
 */
export function judgeImage(image: Uint8Array, size: number, expected: Scene): Judgement {
  const detected = detectScene(image, size);
  const wanted = expected.objects;
  const found = detected.objects;
  const score = (e: SceneObject, d: SceneObject | undefined): number => (d === undefined ? 0 : OBJECT_ATTRIBUTES.filter((a) => e[a] === d[a]).length);
  let assignment: (DetectedObject | undefined)[] = wanted.map((_, k) => found[k]);
  if (wanted.length === 2 && found.length >= 1) {
    const orders: (DetectedObject | undefined)[][] = [
      [found[0], found[1]],
      [found[1], found[0]],
    ];
    let bestScore = -1;
    for (const order of orders) {
      const total = score(wanted[0]!, order[0]) + score(wanted[1]!, order[1]);
      if (total > bestScore) {
        bestScore = total;
        assignment = order;
      }
    }
  } else if (wanted.length === 1 && found.length === 2) {
    assignment = [score(wanted[0]!, found[0]) >= score(wanted[0]!, found[1]) ? found[0] : found[1]];
  }
  const holds = (attribute: ObjectAttribute) => wanted.every((e, k) => assignment[k] !== undefined && assignment[k]![attribute] === e[attribute]);
  const result = {
    shape: holds('shape'),
    colour: holds('colour'),
    size: holds('size'),
    position: holds('position'),
    background: detected.background.pattern === expected.background.pattern && detected.background.colour === expected.background.colour,
    count: found.length === wanted.length,
  };
  return { ...result, all: Object.values(result).every(Boolean), detected };
}

/** The detected scene as a caption-able Scene, or undefined when it is not one (no object found, say). */
export function detectedAsScene(detected: DetectedScene): Scene | undefined {
  const objects = detected.objects.map(({ shape, colour, size, position }) => ({ shape, colour, size, position }));
  if (objects.length === 0) return undefined;
  if (objects.length === 2 && !TWO_OBJECT_LAYOUTS.some(([a, b]) => objects[0]!.position === a && objects[1]!.position === b)) return undefined;
  if (objects.some((o) => o.colour === detected.background.colour)) return undefined;
  return { objects, background: detected.background };
}

