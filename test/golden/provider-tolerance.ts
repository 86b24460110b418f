// How closely a provider must reproduce the golden outputs. The manifest's atol/rtol were measured
// against PyTorch on the CPU (see the golden README, "Tolerances"); onnxruntime's CPU kernels meet them
// as written. A GPU provider runs other kernels: different summation order in convolutions and matmuls
// (tiled, split-K), fused multiply-adds, its own exp/tanh/erf, so its float32 rounding differs by a
// bounded factor from the CPU's. One rule per provider, applied to every output alike — never a
// per-case adjustment:
//   tensor / value / tensor_set / same_as-with-atol:  allowed = atolFactor · atol + rtol · |expected|
//   png (8-bit pixels):                               allowed = max(manifest atol, pixelAtol) levels
// Exact outputs (atol 0: token ids, integer timesteps) stay exact on every provider; they never come
// from a session.
// Graphs computing in float16 (`--precision fp16`) round every activation to 11 significant bits
// instead of 24, an error no factor on a float32 atol describes. The manifest measured, per output, how
// far float32 rounding moves it (`observed.fp32_vs_fp64_max_abs`: the same computation in float32 and
// float64, through every layer, step and sampler of the case). float16's unit roundoff is 2^13 times
// float32's, so a float16 graph may move each output 2^13 times as far:
//   allowed = max(atolFactor · atol, 2^13 · observed.fp32_vs_fp64_max_abs) + rtol · |expected|
// Outputs without that measurement keep the float32 rule; 8-bit PNGs get float16's own pixel rule.
import type { StoredFloat } from '../../app/onnx/graph.ts';
import type { Backend } from '../../app/runtime/onnx-runtime.ts';

export interface ProviderTolerance {
  readonly backend: Backend;
  readonly computeDtype: StoredFloat;
  /**
   * The compute dtype's unit roundoff over float32's: 1 in float32, 2^13 in float16. An output may be
   * this many times the manifest's measured float32-vs-float64 difference off.
   */
  readonly roundoffRatio: number;
  /** Multiplies every float output's manifest atol. */
  readonly atolFactor: number;
  /** Smallest per-channel difference allowed for 8-bit PNG outputs. */
  readonly pixelAtol: number;
  /** Why the rule is what it is (printed by the runner). */
  readonly basis: string;
}

const CPU: Omit<ProviderTolerance, 'backend' | 'computeDtype' | 'roundoffRatio'> = { atolFactor: 1, pixelAtol: 1, basis: "the manifest's tolerances as written" };

/**
 * Measured with WebGPU on SwiftShader (onnxruntime-node 1.30, attention as standard ops, see
 * app/runtime/explicit-attention.ts), every case but training: the largest error relative to the
 * manifest's atol was 3.3× (afa/forward/t999 agg maps), U-Nets 1.5–1.7×, text encoders and VAE < 0.1×,
 * PNGs within 1 level. 10× leaves room for hardware GPUs' own reduction orders; a provider that
 * computes in reduced precision (TF32 matmuls, fp16) needs its own rule here, not a larger factor.
 */
const GPU: Omit<ProviderTolerance, 'backend' | 'computeDtype' | 'roundoffRatio'> = {
  atolFactor: 10,
  pixelAtol: 1,
  basis: "10 × the manifest's atol (GPU kernels sum float32 in another order; measured ≤ 3.3× on WebGPU)",
};

/** float16's unit roundoff (2^-11) over float32's (2^-24). */
export const FLOAT16_ROUNDOFF_RATIO = 2 ** 13;

/**
 * Pixel rule for float16 graphs. Measured with `--precision fp16` on the CPU (onnxruntime runs a float16
 * graph there with float32 kernels between float16 tensors, so every activation is rounded as a GPU's
 * would be): the 247 float outputs of the 26 cases that ran moved 690–5400 times their float32-vs-float64
 * difference, i.e. at most 0.66 of the 2^13 allowance (the largest: the AFA pipeline's last weight map
 * at point 22, after 10 DDIM steps); its PNG was up to 6 levels off, the SD pipeline's 1. 12 levels keeps
 * a margin of 2, as the tensors have 1.5 or more.
 */
export const FLOAT16_PIXEL_ATOL = 12;

export function providerTolerance(backend: Backend, computeDtype: StoredFloat = 'float32'): ProviderTolerance {
  const base = backend === 'cpu' ? CPU : GPU;
  if (computeDtype === 'float32') return { backend, computeDtype, roundoffRatio: 1, ...base };
  return {
    backend,
    computeDtype,
    roundoffRatio: FLOAT16_ROUNDOFF_RATIO,
    atolFactor: base.atolFactor,
    pixelAtol: Math.max(base.pixelAtol, FLOAT16_PIXEL_ATOL),
    basis: `float16 compute: ${base.basis}, or 2^13 × the manifest's measured float32-vs-float64 difference of each output; PNGs within ${FLOAT16_PIXEL_ATOL} levels`,
  };
}

/**
 * The atol an output is held to on this provider (0 stays 0: exact outputs stay exact). `entry` is the
 * manifest entry whose `observed.fp32_vs_fp64_max_abs` a reduced-precision rule scales.
 */
export function scaledAtol(atol: number, tolerance: ProviderTolerance, entry?: { readonly observed?: unknown }): number {
  const scaled = atol * tolerance.atolFactor;
  if (atol === 0 || tolerance.roundoffRatio === 1) return scaled;
  return Math.max(scaled, tolerance.roundoffRatio * measuredFloat32Error(entry));
}

/** The manifest's float32-vs-float64 difference of an output (0 when it has none). */
export function measuredFloat32Error(entry: { readonly observed?: unknown } | undefined): number {
  const observed = entry?.observed;
  if (typeof observed !== 'object' || observed === null) return 0;
  const value = (observed as Record<string, unknown>).fp32_vs_fp64_max_abs;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}
