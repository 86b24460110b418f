// Checks gradients from app/autodiff against central finite differences, both computed by onnxruntime
// from the same graph: loss = Σ output·R (R a fixed random tensor, so every output element gets its own
// upstream gradient), analytic ∂loss/∂x from the appended backward pass, numeric
// (loss(x + h·e_i) − loss(x − h·e_i)) / 2h for sampled elements i.
//
// Precision:
// - 'float64': the graph computes in float64 (onnxruntime's CPU provider has float64 kernels for those
//   ops); per-element central differences with h = 1e-6: truncation and rounding error ~1e-9 relative,
//   so the tolerance is 1e-5 relative + 1e-7 of the largest gradient.
// - 'float32': for ops with float32-only kernels (Conv, ConvTranspose, InstanceNormalization, Gelu, Erf,
//   Resize, MultiHeadAttention) and whole modules: float64 inputs cast to float32 around the computation,
//   the loss summed in float64. A per-element quotient would be dominated by float32 rounding (~6e-8 of
//   the loss, divided by h), so these compare directional derivatives ⟨∂L/∂x, v⟩ along random directions
//   v with a 5-point stencil (h = 1e-2, truncation O(h⁴)); tolerance 2e-3 relative + 1e-4 of ‖∂L/∂x‖·√n
//   (the size of a directional derivative along a unit-variance direction).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Graph, type GraphOptions, type Value } from '../../app/onnx/graph.ts';
import { cast, mul, reduceSum } from '../../app/onnx/ops.ts';
import { saveModel } from '../../app/onnx/serialize.ts';
import { ModelSession } from '../../app/runtime/onnx-runtime.ts';
import { appendBackward, type BackwardOptions } from '../../app/autodiff/backward.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { rng } from '../onnx/reference.ts';

export interface InputSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** Not differentiated (e.g. a condition or indices); given data. */
  readonly fixed?: Tensor;
  /** Scale of the random values (default 1); positive-only inputs (Sqrt, Log) set `positive`. */
  readonly scale?: number;
  readonly positive?: boolean;
}

export interface CheckOptions {
  /** float64 graph, or float32 op(s) with float64 inputs/loss around them. */
  readonly precision: 'float64' | 'float32';
  /** Elements checked per input (random sample; all when the input is smaller). */
  readonly samples?: number;
  readonly step?: number;
  readonly rtol?: number;
  readonly atol?: number;
  readonly seed?: number;
  readonly backward?: (g: Graph) => BackwardOptions;
  /** Builder options (e.g. `isParameter` to check module weights: they are fed as float32 inputs). */
  readonly graph?: GraphOptions;
  /** Parameters (module weights) checked per test: the first `parameterSamples` of them, in build order. */
  readonly parameterSamples?: number;
}

/** The seeded generator of the op tests (mulberry32). */
export const random = rng;

export function normal(next: () => number): number {
  return Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export interface GradientReport {
  /** Worst |analytic − numeric| / (atol + rtol·|numeric|) over every checked element (≤ 1 passes). */
  readonly worstRatio: number;
  readonly worstAbsolute: number;
  readonly checked: number;
}

/**
 * Builds `build(g, inputs)` (a float value), differentiates Σ output·R with respect to every non-fixed
 * input and compares with finite differences. Returns the worst error; asserts it is within tolerance.
 */
export async function checkGradients(
  build: (g: Graph, inputs: Record<string, Value>) => Value,
  specs: readonly InputSpec[],
  options: CheckOptions,
): Promise<GradientReport> {
  const next = random(options.seed ?? 1234);
  const g = new Graph('gradient_check', options.graph);
  const values: Record<string, Value> = {};
  const feeds: Record<string, Tensor> = {};
  for (const spec of specs) {
    if (spec.fixed) {
      values[spec.name] = g.input(spec.name, spec.fixed.dtype, spec.shape);
      feeds[spec.name] = spec.fixed;
      continue;
    }
    const data = new Float64Array(size(spec.shape));
    for (let i = 0; i < data.length; i++) {
      const v = normal(next) * (spec.scale ?? 1);
      data[i] = spec.positive ? Math.abs(v) + 0.5 : v;
    }
    feeds[spec.name] = { dtype: 'float64', shape: [...spec.shape], data };
    const input = g.input(spec.name, 'float64', spec.shape);
    values[spec.name] = options.precision === 'float64' ? input : cast(g, input, 'float32');
  }
  let output = build(g, values);
  if (output.dtype !== 'float64') output = cast(g, output, 'float64');
  const outputShape = output.shape!.map((dim) => dim as number);
  const weights = new Float64Array(size(outputShape));
  for (let i = 0; i < weights.length; i++) weights[i] = normal(next);
  const rank = outputShape.length;
  const weighted = mul(g, output, g.constant({ dtype: 'float64', shape: outputShape, data: weights }));
  const loss = rank === 0 ? weighted : reduceSum(g, weighted, Array.from({ length: rank }, (_, i) => i), false);
  // Module weights turned into inputs: fed float32 at their stored values, checked like the inputs.
  const parameters = g.parameters.slice(0, options.parameterSamples ?? g.parameters.length);
  const allSpecs: InputSpec[] = [...specs];
  for (const parameter of g.parameters) {
    const data = Float32Array.from(parameter.source.read().data as Float32Array);
    feeds[parameter.value.name] = { dtype: 'float32', shape: [...parameter.source.shape], data };
  }
  for (const parameter of parameters) {
    // Directions scaled like the weights themselves (a unit step on a 0.02-sized weight leaves the linear regime).
    const values = feeds[parameter.value.name]!.data as Float32Array;
    const rms = Math.sqrt(values.reduce((sum, v) => sum + v * v, 0) / Math.max(values.length, 1));
    allSpecs.push({ name: parameter.value.name, shape: parameter.source.shape, scale: Math.max(rms, 1e-3) });
  }
  const trainable = allSpecs.filter((spec) => !spec.fixed).map((spec) => g.value(spec.name)!);
  const { gradients } = appendBackward(g, loss, trainable, options.backward?.(g));
  g.output(loss, 'loss');
  // Σ|output·R|: bounds how much float32 rounding of the outputs can move the loss (the noise floor of a quotient).
  const absolute = g.node({ op: 'Abs', inputs: [weighted], outputs: [{ dtype: 'float64', shape: weighted.shape }] })[0]!;
  g.output(rank === 0 ? absolute : reduceSum(g, absolute, Array.from({ length: rank }, (_, i) => i), false), 'magnitude');
  for (const value of trainable) g.output(gradients.get(value.name)!, `grad_${value.name}`);

  const dir = mkdtempSync(join(tmpdir(), 'afa-gradcheck-'));
  try {
    const saved = saveModel(g, { dir, modelFile: 'model.onnx', weightsFile: 'weights.bin' });
    const session = await ModelSession.create(saved.modelPath, { intraOpThreads: 1 });
    try {
      const analytic = await session.run(feeds);
      const lossAt = async (name: string, index: number, delta: number) => {
        const base = feeds[name]!;
        const moved = base.dtype === 'float32' ? Float32Array.from(base.data as Float32Array) : Float64Array.from(base.data as Float64Array);
        moved[index] = moved[index]! + delta;
        const result = await session.run({ ...feeds, [name]: { dtype: base.dtype, shape: base.shape, data: moved } as Tensor }, ['loss']);
        return (result.loss!.data as Float64Array)[0]!;
      };
      const magnitude = (analytic.magnitude!.data as Float64Array)[0]!;
      const lossAlong = async (name: string, direction: Float64Array, delta: number) => {
        const base = feeds[name]!;
        const moved = base.dtype === 'float32' ? Float32Array.from(base.data as Float32Array) : Float64Array.from(base.data as Float64Array);
        for (let i = 0; i < moved.length; i++) moved[i] = moved[i]! + delta * direction[i]!;
        const result = await session.run({ ...feeds, [name]: { dtype: base.dtype, shape: base.shape, data: moved } as Tensor }, ['loss']);
        return (result.loss!.data as Float64Array)[0]!;
      };
      let worstRatio = 0;
      let worstAbsolute = 0;
      let checked = 0;
      const problems: string[] = [];
      for (const spec of allSpecs) {
        if (spec.fixed) continue;
        const gradient = analytic[`grad_${spec.name}`]!;
        const grad = Float64Array.from(gradient.data as Float64Array | Float32Array);
        assert.deepEqual(gradient.shape, [...spec.shape], `gradient of ${spec.name} has the input's shape`);
        if (options.precision === 'float32') {
          // Directional derivatives along random directions v: ⟨∂L/∂x, v⟩ against a 5-point stencil
          // (truncation O(h⁴)); summing over every element keeps the quotient well above float32 noise.
          const directions = options.samples === undefined ? 3 : Math.max(1, Math.round(options.samples / 4));
          const h = options.step ?? 1e-2;
          const rtol = options.rtol ?? 2e-3;
          for (let d = 0; d < directions; d++) {
            const direction = Float64Array.from(grad, () => normal(next) * (spec.scale ?? 1));
            const analyticValue = grad.reduce((sum, value, i) => sum + value * direction[i]!, 0);
            const at = async (delta: number) => lossAlong(spec.name, direction, delta);
            const numeric = (-(await at(2 * h)) + 8 * (await at(h)) - 8 * (await at(-h)) + (await at(-2 * h))) / (12 * h);
            const scale = Math.sqrt(grad.reduce((sum, value) => sum + value * value, 0) * grad.length);
            // Floor: each float32 output carries a relative rounding error of ~1e-7 (a few float32 ulps) after a module's
            // chain of ops, so the loss moves by ~1e-7·Σ|y·R| without any signal; the stencil amplifies
            // that by 18/12h.
            const noise = (1e-7 * magnitude * 18) / (12 * h);
            const atol = options.atol ?? Math.max(1e-4 * Math.max(scale, 1e-6), noise);
            const error = Math.abs(analyticValue - numeric);
            const ratio = error / (atol + rtol * Math.abs(numeric));
            checked++;
            worstAbsolute = Math.max(worstAbsolute, error);
            worstRatio = Math.max(worstRatio, ratio);
            if (ratio > 1 && problems.length < 5) problems.push(`${spec.name} along direction ${d}: analytic ${analyticValue} vs numeric ${numeric}`);
          }
          continue;
        }
        const count = grad.length;
        const wanted = Math.min(count, options.samples ?? 24);
        const picks = new Set<number>();
        while (picks.size < wanted) picks.add(wanted === count ? picks.size : Math.floor(next() * count));
        const largest = grad.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const h = (options.step ?? 1e-6) * (spec.scale ?? 1);
        const rtol = options.rtol ?? 1e-5;
        const atol = options.atol ?? 1e-7 * Math.max(largest, 1e-3);
        for (const index of picks) {
          const numeric = ((await lossAt(spec.name, index, h)) - (await lossAt(spec.name, index, -h))) / (2 * h);
          const error = Math.abs(grad[index]! - numeric);
          const ratio = error / (atol + rtol * Math.abs(numeric));
          checked++;
          worstAbsolute = Math.max(worstAbsolute, error);
          worstRatio = Math.max(worstRatio, ratio);
          if (ratio > 1 && problems.length < 5) problems.push(`${spec.name}[${index}]: analytic ${grad[index]} vs numeric ${numeric}`);
        }
      }
      assert.ok(problems.length === 0, `gradients differ from finite differences:\n${problems.join('\n')}`);
      return { worstRatio, worstAbsolute, checked };
    } finally {
      await session.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
