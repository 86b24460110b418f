// β_t and ᾱ_t = ∏(1 − β_s) of the training noise process, bit-for-bit as diffusers 0.20.2 computes them
// with torch 1.13 on the CPU (the golden ᾱ table matches exactly). Two dtype details matter:
// - betas are float32: `torch.linspace(√βstart, √βend, T, dtype=float32) ** 2`; torch's CPU linspace
//   kernel fills 8-wide vectors as `base + k·step` with `base = start + step·i` (fused multiply-add in
//   the AVX2 build), switching to `end − step·(T − 1 − i)` from the vector that starts past T/2;
// - `torch.cumprod` on a float32 CPU tensor accumulates in float64 and rounds each prefix to float32.
// σ tables, DDIM/PNDM coefficients and DPM's α/σ/λ tables are all derived from this ᾱ.
import type { NoiseScheduleConfig } from './scheduler-config.ts';

const f32 = Math.fround;

/** Lanes of torch's CPU vector kernels (AVX2: 8 float32), which shape linspace's rounding. */
const VECTOR_LANES = 8;

/**
 * `torch.linspace(start, end, steps, dtype=torch.float32)` on the CPU, reproducing its rounding:
 * start/end/step are float32, step = (end − start) / (steps − 1); blocks of 2·8 elements use vector
 * arithmetic (`base + k·step`), the tail uses the scalar formula.
 */
export function torchLinspaceFloat32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 0) return out;
  const first = f32(start);
  const last = f32(end);
  if (steps === 1) {
    out[0] = first;
    return out;
  }
  const step = f32(f32(last - first) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  // The fused multiply-add of float32 inputs is exact in float64 (24 + ~31 bits), so one rounding remains.
  const fromStart = (index: number): number => f32(first + step * index);
  const fromEnd = (index: number): number => f32(last - step * (steps - index - 1));
  const vectorized = Math.floor(steps / (2 * VECTOR_LANES)) * 2 * VECTOR_LANES;
  for (let base = 0; base < vectorized; base += VECTOR_LANES) {
    const origin = base < halfway ? fromStart(base) : fromEnd(base);
    for (let lane = 0; lane < VECTOR_LANES; lane++) out[base + lane] = f32(origin + f32(lane * step));
  }
  for (let index = vectorized; index < steps; index++) out[index] = index < halfway ? fromStart(index) : fromEnd(index);
  return out;
}

/** β_t, float32, t = 0 … T−1 (diffusers' `betas`). */
export function betasOf(config: NoiseScheduleConfig): Float32Array {
  const steps = config.numTrainTimesteps;
  if (config.trainedBetas !== null) return Float32Array.from(config.trainedBetas);
  switch (config.betaSchedule) {
    case 'linear':
      return torchLinspaceFloat32(config.betaStart, config.betaEnd, steps);
    case 'scaled_linear': {
      const roots = torchLinspaceFloat32(Math.sqrt(config.betaStart), Math.sqrt(config.betaEnd), steps);
      return roots.map((root) => f32(root * root));
    }
    case 'squaredcos_cap_v2':
      return cosineBetas(steps);
  }
}

/** Nichol & Dhariwal's cosine schedule (diffusers' betas_for_alpha_bar, max β 0.999), float64 → float32. */
function cosineBetas(steps: number): Float32Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  const betas = new Float32Array(steps);
  for (let i = 0; i < steps; i++) betas[i] = Math.min(1 - alphaBar((i + 1) / steps) / alphaBar(i / steps), 0.999);
  return betas;
}

/** `torch.cumprod(1 − betas)` for float32: float64 running product, each prefix rounded to float32. */
export function cumulativeAlphas(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let product = 1;
  for (let i = 0; i < betas.length; i++) {
    product *= f32(1 - betas[i]!);
    out[i] = product;
  }
  return out;
}

/**
 * diffusers' rescale_zero_terminal_snr (Lin et al. 2023, Algorithm 1) in float32: shifts and scales √ᾱ so
 * that √ᾱ_{T−1} = 0 while √ᾱ_0 is kept, then returns the betas of the rescaled ᾱ.
 */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const roots = cumulativeAlphas(betas).map((alphaBar) => f32(Math.sqrt(alphaBar)));
  const first = roots[0]!;
  const last = roots[roots.length - 1]!;
  const scale = f32(first / f32(first - last));
  const rescaled = roots.map((root) => {
    const shifted = f32(f32(root - last) * scale);
    return f32(shifted * shifted);
  });
  const out = new Float32Array(betas.length);
  for (let i = 0; i < out.length; i++) {
    const alpha = i === 0 ? rescaled[0]! : f32(rescaled[i]! / rescaled[i - 1]!);
    out[i] = f32(1 - alpha);
  }
  return out;
}

/** ᾱ_t, float32, t = 0 … T−1 (diffusers' `alphas_cumprod`). */
export function alphasCumprodOf(config: NoiseScheduleConfig, options: { readonly rescaleZeroSnr?: boolean } = {}): Float32Array {
  const betas = betasOf(config);
  return cumulativeAlphas(options.rescaleZeroSnr ? rescaleZeroTerminalSnr(betas) : betas);
}
