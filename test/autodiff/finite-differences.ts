// Checks gradients from app/autodiff against central finite differences, both computed by onnxruntime
// from the same graph: loss = Σ output·R (R a fixed random tensor, so every output element gets its own
// upstream gradient), analytic ∂loss/∂x from the appended backward pass, numeric
// (loss(x + h·e_i) − loss(x − h·e_i)) / 2h for sampled elements i.
//
// Precision: graphs are built in float64 where onnxruntime's CPU provider has float64 kernels (then
// h = 1e-6 and the truncation and rounding error of the difference quotient are ~1e-9 relative). Ops
// with float32-only kernels (Conv, ConvTranspose, InstanceNormalization, Gelu, Erf, Resize,
// MultiHeadAttention) are checked with float64 inputs cast to float32 around the op and the loss summed in
// float64: then the op's own rounding (~6e-8 relative) divided by h dominates, so h = 1e-2·scale and the
// tolerance is 2e-3 relative (+ an absolute floor of 1e-4 of the largest gradient) — see each test's note.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Graph, type Value } from '../../app/onnx/graph.ts';
import { cast, mul, reduceSum } from '../../app/onnx/ops.ts';
import { saveModel } from '../../app/onnx/serialize.ts';
import { ModelSession } from '../../app/runtime/onnx-runtime.ts';
import { appendBackward, type BackwardOptions } from '../../app/autodiff/backward.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';

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
}

/** A small deterministic generator (mulberry32) for test data. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
  const g = new Graph('gradient_check');
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
  const trainable = specs.filter((spec) => !spec.fixed).map((spec) => g.value(spec.name)!);
  const { gradients } = appendBackward(g, loss, trainable, options.backward?.(g));
  g.output(loss, 'loss');
  for (const value of trainable) g.output(gradients.get(value.name)!, `grad_${value.name}`);

  const dir = mkdtempSync(join(tmpdir(), 'afa-gradcheck-'));
  try {
    const saved = saveModel(g, { dir, modelFile: 'model.onnx', weightsFile: 'weights.bin' });
    const session = await ModelSession.create(saved.modelPath, { intraOpThreads: 1 });
    try {
      const analytic = await session.run(feeds);
      const lossAt = async (name: string, index: number, delta: number) => {
        const base = feeds[name]!.data as Float64Array;
        const moved = Float64Array.from(base);
        moved[index] = moved[index]! + delta;
        const result = await session.run({ ...feeds, [name]: { dtype: 'float64', shape: feeds[name]!.shape, data: moved } }, ['loss']);
        return (result.loss!.data as Float64Array)[0]!;
      };
      let worstRatio = 0;
      let worstAbsolute = 0;
      let checked = 0;
      const problems: string[] = [];
      for (const spec of specs) {
        if (spec.fixed) continue;
        const gradient = analytic[`grad_${spec.name}`]!;
        const grad = Float64Array.from(gradient.data as Float64Array | Float32Array);
        assert.deepEqual(gradient.shape, [...spec.shape], `gradient of ${spec.name} has the input's shape`);
        const count = grad.length;
        const wanted = Math.min(count, options.samples ?? 24);
        const picks = new Set<number>();
        while (picks.size < wanted) picks.add(wanted === count ? picks.size : Math.floor(next() * count));
        const largest = grad.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const h = (options.step ?? (options.precision === 'float64' ? 1e-6 : 1e-2)) * (spec.scale ?? 1);
        const rtol = options.rtol ?? (options.precision === 'float64' ? 1e-5 : 2e-3);
        const atol = options.atol ?? (options.precision === 'float64' ? 1e-7 : 1e-4) * Math.max(largest, 1e-3);
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
