// MagicFusion's Saliency-aware Noise Blending (SNB): Zhao, Zheng, Wang, Lan, Yang, "MagicFusion: Boosting
// Text-to-Image Generation Performance by Fusing Diffusion Models", ICCV 2023 (arXiv 2303.13126), §3;
// formulas and defaults as the authors' implementation runs them (MagicFusion/MagicFusion.github.io,
// ldm/models/diffusion/ddim.py `p_sample_ddim`, commit 326fd76; README "fusion_selection"). The paper's
// finding: the classifier-free guidance response ε_c − ε_u of a model is large where that model "cares"
// (its salient regions), so each pixel can trust the model whose response is relatively stronger there.
//
// Per denoising step, for each model m ∈ {A ("general" in the paper), B ("expert")}, with guidance g:
//   ε̃_m = ε_u,m + g·(ε_c,m − ε_u,m)                          guided noise, [1, C, h, w] (float32, as diffusers)
//   r_m  = |g·(ε_c,m − ε_u,m)|                                 guidance response
//   s_m  = mean_C( resize_bilinear_h×w( avgpool_4×4,s1,p1(r_m) ) )   smoothing: AvgPool2d(4, stride 1,
//          padding 1, zero padding counted) gives (h−1)×(w−1); bilinear (align_corners = False) back to h×w
//   S_m  = softmax over the h·w pixels of (κ_m · s_m)          the saliency map, a distribution over pixels
//   M    = [S_B > S_A]                                         per pixel; ties keep A (torch.argmax)
//   ε    = M ? ε̃_B : ε̃_A                                      (official: torch.gather of the argmax)
// κ_A, κ_B are the paper's k_g, k_e (Eq. 4; README: "v2 and v3 correspond to kg and ke"), both 1 in every
// published example. Comparing per-model softmaxes rather than raw responses is what "aligns the two
// noise spaces": each map is normalised by its own model's total response.
//
// Scheduling ("early steps use one model's prediction for layout"): the official sampler uses only the
// general model's ε̃ while t > fusion_start (merge_mode 1, e.g. 850 of 1000: the first 15 % of a uniform
// DDIM schedule lays out the image), or blends first and then uses it alone (merge_mode 2, e.g. SNB for
// t > 600). Here both are fractions of the step count: steps before `fusionStart` and from `fusionEnd` on
// use the `leadModel` alone, so a denoiser need not run the other U-Net there.
//
// Deviations, on purpose: the official code takes model B's response against model A's unconditional
// prediction (`e_e - e_t_uncond0`); the paper's formula — each model's own ε_c − ε_u — is used here. It
// resizes with torchvision Resize(64) (square 64×64 latents only); here back to h×w for any size. The
// saliency is evaluated in float64 (only its comparison matters); ε̃ is float32 exactly as guidance.ts.
// `mask: 'soft'` (M = S_B / (S_A + S_B), ε = ε̃_A + M·(ε̃_B − ε̃_A)) is an option of the studio, not the paper.
//
// Why plain TypeScript on the host rather than ONNX nodes after the two U-Nets: the work is O(h·w·C·16)
// per step (≈ 0.3 M operations at 64×64, under a millisecond) against two U-Net evaluations; the phase
// depends on the step index, which a graph would need as an extra input; and keeping the two U-Nets as
// separate graphs lets the denoiser skip model B entirely during the layout steps.
import { UserError } from '../common/errors.ts';
import { applyGuidance } from '../pipeline/guidance.ts';
import type { Tensor } from '../tensor/tensor.ts';

export interface MagicFusionSettings {
  /** κ_A (paper k_g): sharpness of model A's saliency softmax; default 1. */
  readonly kappaA?: number;
  /** κ_B (paper k_e); default 1. */
  readonly kappaB?: number;
  /** Fraction of the steps (from the first) that use only the lead model; default 0.15 (official 850 of 1000). */
  readonly fusionStart?: number;
  /** Fraction of the steps after which only the lead model is used again; default 1 (blend to the end). */
  readonly fusionEnd?: number;
  /** The model that lays out the image outside the blending steps; default 'a' (the first member). */
  readonly leadModel?: 'a' | 'b';
  /** 'hard' (the paper: per-pixel choice) or 'soft' (S_B / (S_A + S_B) weights); default 'hard'. */
  readonly mask?: 'hard' | 'soft';
}

export const MAGIC_FUSION_DEFAULTS = Object.freeze({
  kappaA: 1,
  kappaB: 1,
  fusionStart: 0.15,
  fusionEnd: 1,
  leadModel: 'a',
  mask: 'hard',
} as const satisfies Required<MagicFusionSettings>);

/** Which predictions a step uses: one model alone ('a' or 'b') or the saliency blend of both. */
export type MagicFusionPhase = 'a' | 'b' | 'blend';

export interface MagicFusionStepResult {
  /** The guided noise prediction to hand to the sampler, [1, C, h, w]. */
  readonly noise: Tensor<'float32'>;
  readonly phase: MagicFusionPhase;
  /** Blend steps only: where model B's prediction is used, [1, 1, h, w] in [0, 1] (hard: 0 or 1). */
  readonly mask?: Tensor<'float32'>;
}

/** Validates settings and fills in the defaults. */
export function resolveMagicFusionSettings(settings: MagicFusionSettings = {}): Required<MagicFusionSettings> {
  const resolved = { ...MAGIC_FUSION_DEFAULTS, ...stripUndefined(settings) };
  for (const key of ['kappaA', 'kappaB'] as const) {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new UserError('invalid-argument', `MagicFusion ${key} must be a number above 0; got ${value}.`, 'The paper uses 1.');
    }
  }
  for (const key of ['fusionStart', 'fusionEnd'] as const) {
    const value = resolved[key];
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
      throw new UserError('invalid-argument', `MagicFusion ${key} must be a fraction of the steps between 0 and 1; got ${value}.`);
    }
  }
  if (resolved.fusionStart > resolved.fusionEnd) {
    throw new UserError('invalid-argument', `MagicFusion starts blending (${resolved.fusionStart}) after it stops (${resolved.fusionEnd}).`, 'fusionStart must not exceed fusionEnd.');
  }
  if (resolved.leadModel !== 'a' && resolved.leadModel !== 'b') throw new UserError('invalid-argument', `MagicFusion leadModel must be 'a' or 'b'; got '${String(resolved.leadModel)}'.`);
  if (resolved.mask !== 'hard' && resolved.mask !== 'soft') throw new UserError('invalid-argument', `MagicFusion mask must be 'hard' or 'soft'; got '${String(resolved.mask)}'.`);
  return resolved;
}

/** The phase of 0-based step `index` of `total`: the lead model alone outside [fusionStart, fusionEnd). */
export function magicFusionPhase(index: number, total: number, settings: MagicFusionSettings = {}): MagicFusionPhase {
  if (!Number.isInteger(total) || total < 1 || !Number.isInteger(index) || index < 0 || index >= total) {
    throw new RangeError(`magicFusionPhase: step ${index} of ${total} does not exist`);
  }
  const { fusionStart, fusionEnd, leadModel } = resolveMagicFusionSettings(settings);
  const progress = index / total;
  return progress < fusionStart || progress >= fusionEnd ? leadModel : 'blend';
}

/**
 * One SNB step. `predictionA` / `predictionB` are each model's U-Net output for the guided batch,
 * [2, C, h, w] ordered [uncond, cond]; outside the blending steps the model that is not used may be
 * omitted. Returns ε for the sampler, [1, C, h, w].
 */
export function magicFusionStep(
  predictionA: Tensor<'float32'> | undefined,
  predictionB: Tensor<'float32'> | undefined,
  guidance: number,
  step: { readonly index: number; readonly total: number },
  settings: MagicFusionSettings = {},
): MagicFusionStepResult {
  const resolved = resolveMagicFusionSettings(settings);
  const phase = magicFusionPhase(step.index, step.total, resolved);
  const need = (prediction: Tensor<'float32'> | undefined, model: 'A' | 'B'): Tensor<'float32'> => {
    if (!prediction) throw new Error(`MagicFusion step ${step.index} (${phase}) needs model ${model}'s prediction`);
    checkGuidedBatch(prediction, model);
    return prediction;
  };
  if (phase !== 'blend') return { noise: applyGuidance(need(phase === 'a' ? predictionA : predictionB, phase === 'a' ? 'A' : 'B'), guidance), phase };
  const [a, b] = [need(predictionA, 'A'), need(predictionB, 'B')];
  if (a.shape.join() !== b.shape.join()) throw new Error(`MagicFusion: model A predicts [${a.shape.join(', ')}], model B [${b.shape.join(', ')}]`);
  const [epsA, epsB] = [applyGuidance(a, guidance), applyGuidance(b, guidance)];
  const saliencyA = noiseSaliency(a, guidance, resolved.kappaA);
  const saliencyB = noiseSaliency(b, guidance, resolved.kappaB);
  const [, channels, height, width] = a.shape as [number, number, number, number];
  const pixels = height * width;
  const mask = new Float32Array(pixels);
  for (let p = 0; p < pixels; p++) {
    mask[p] = resolved.mask === 'hard' ? (saliencyB[p]! > saliencyA[p]! ? 1 : 0) : saliencyB[p]! / (saliencyA[p]! + saliencyB[p]!);
  }
  const noise = new Float32Array(channels * pixels);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < pixels; p++) {
      const i = c * pixels + p;
      const m = mask[p]!;
      if (resolved.mask === 'hard') noise[i] = m === 1 ? epsB.data[i]! : epsA.data[i]!;
      else noise[i] = epsA.data[i]! + Math.fround(m * Math.fround(epsB.data[i]! - epsA.data[i]!));
    }
  }
  return {
    noise: { dtype: 'float32', shape: [1, channels, height, width], data: noise },
    phase,
    mask: { dtype: 'float32', shape: [1, 1, height, width], data: mask },
  };
}

/**
 * S = softmax over pixels of κ·mean_C(bilinear(avgpool(|g·(ε_c − ε_u)|))) for a guided prediction
 * [2, C, h, w] ([uncond, cond]); returns the h·w probabilities (float64, summing to 1).
 */
export function noiseSaliency(prediction: Tensor<'float32'>, guidance: number, kappa: number): Float64Array {
  checkGuidedBatch(prediction, 'the');
  const [, channels, height, width] = prediction.shape as [number, number, number, number];
  const pixels = height * width;
  const g = Math.fround(guidance);
  const smoothed = new Float64Array(pixels);
  const response = new Float64Array(pixels);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < pixels; p++) {
      const uncond = prediction.data[c * pixels + p]!;
      const cond = prediction.data[(channels + c) * pixels + p]!;
      response[p] = Math.abs(Math.fround(g * Math.fround(cond - uncond)));
    }
    const resized = resizeBilinear(averagePool4x4(response, height, width), height - 1, width - 1, height, width);
    for (let p = 0; p < pixels; p++) smoothed[p]! += resized[p]! / channels;
  }
  return softmax(smoothed, kappa);
}

/** torch AvgPool2d(kernel 4, stride 1, padding 1, count_include_pad=True): [h, w] → [h − 1, w − 1]. */
export function averagePool4x4(input: Float64Array, height: number, width: number): Float64Array {
  const [outHeight, outWidth] = [height - 1, width - 1];
  const out = new Float64Array(outHeight * outWidth);
  for (let i = 0; i < outHeight; i++) {
    for (let j = 0; j < outWidth; j++) {
      let sum = 0;
      for (let di = 0; di < 4; di++) {
        const y = i - 1 + di;
        if (y < 0 || y >= height) continue;
        for (let dj = 0; dj < 4; dj++) {
          const x = j - 1 + dj;
          if (x >= 0 && x < width) sum += input[y * width + x]!;
        }
      }
      out[i * outWidth + j] = sum / 16;
    }
  }
  return out;
}

/** torch F.interpolate(mode='bilinear', align_corners=False) of one [h, w] plane. */
export function resizeBilinear(input: Float64Array, inHeight: number, inWidth: number, outHeight: number, outWidth: number): Float64Array {
  const source = (dst: number, inSize: number, outSize: number): [number, number, number] => {
    const position = Math.max((dst + 0.5) * (inSize / outSize) - 0.5, 0);
    const low = Math.min(Math.floor(position), inSize - 1);
    const high = Math.min(low + 1, inSize - 1);
    return [low, high, position - low];
  };
  const out = new Float64Array(outHeight * outWidth);
  for (let i = 0; i < outHeight; i++) {
    const [y0, y1, fy] = source(i, inHeight, outHeight);
    for (let j = 0; j < outWidth; j++) {
      const [x0, x1, fx] = source(j, inWidth, outWidth);
      const top = input[y0 * inWidth + x0]! * (1 - fx) + input[y0 * inWidth + x1]! * fx;
      const bottom = input[y1 * inWidth + x0]! * (1 - fx) + input[y1 * inWidth + x1]! * fx;
      out[i * outWidth + j] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

function softmax(values: Float64Array, kappa: number): Float64Array {
  let max = -Infinity;
  for (const value of values) max = Math.max(max, kappa * value);
  const out = new Float64Array(values.length);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += out[i] = Math.exp(kappa * values[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

function checkGuidedBatch(prediction: Tensor<'float32'>, model: string): void {
  const [batch, , height, width] = prediction.shape;
  if (prediction.shape.length !== 4 || batch !== 2) {
    throw new UserError(
      'invalid-argument',
      `MagicFusion needs ${model === 'the' ? 'a' : `model ${model}'s`} prediction for [unconditional, conditional] (batch 2); got shape [${prediction.shape.join(', ')}].`,
      'MagicFusion blends by the classifier-free guidance response: use a guidance scale above 1.',
    );
  }
  if (height! < 2 || width! < 2) throw new UserError('invalid-argument', `MagicFusion needs latents of at least 2×2; got ${height}×${width}.`);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
