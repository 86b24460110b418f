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
import type { Backend } from '../../app/runtime/onnx-runtime.ts';

export interface ProviderTolerance {
  readonly backend: Backend;
  /** Multiplies every float output's manifest atol. */
  readonly atolFactor: number;
  /** Smallest per-channel difference allowed for 8-bit PNG outputs. */
  readonly pixelAtol: number;
  /** Why the rule is what it is (printed by the runner). */
  readonly basis: string;
}

const CPU: Omit<ProviderTolerance, 'backend'> = { atolFactor: 1, pixelAtol: 1, basis: "the manifest's tolerances as written" };

/**
 * Measured with WebGPU on SwiftShader (onnxruntime-node 1.30, attention as standard ops, see
 * app/runtime/explicit-attention.ts), every case but training: the largest error relative to the
 * manifest's atol was 3.3× (afa/forward/t999 agg maps), U-Nets 1.5–1.7×, text encoders and VAE < 0.1×,
 * PNGs within 1 level. 10× leaves room for hardware GPUs' own reduction orders; a provider that
 * computes in reduced precision (TF32 matmuls, fp16) needs its own rule here, not a larger factor.
 */
const GPU: Omit<ProviderTolerance, 'backend'> = {
  atolFactor: 10,
  pixelAtol: 1,
  basis: "10 × the manifest's atol (GPU kernels sum float32 in another order; measured ≤ 3.3× on WebGPU)",
};

export function providerTolerance(backend: Backend): ProviderTolerance {
  return { backend, ...(backend === 'cpu' ? CPU : GPU) };
}

/** The atol an output is held to on this provider (0 stays 0: exact outputs stay exact). */
export function scaledAtol(atol: number, tolerance: ProviderTolerance): number {
  return atol * tolerance.atolFactor;
}
