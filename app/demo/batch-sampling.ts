// Many prompts at once through the denoiser a recipe resolves to (app/ensemble/recipe-target.ts), for
// the reproduction's measures. At the demo's 8×8 latents one U-Net call costs about the same for 2 rows
// as for 16 (per-operator overhead dominates), so running N images as one batch of 2N rows is what
// makes hundreds of generations per method fit in minutes (measured in docs/reproduction.md).
//
// The arithmetic is the pipeline's (app/pipeline/text-to-image.ts) image by image: the same seeded
// initial noise (initialNoise), each image's [uncond, cond] rows side by side so classifier-free
// guidance is the pipeline's applyGuidance on that pair, MagicFusion's own magicFusionStep on each
// image's pair of predictions, and DDIM with η = 0 — whose step is elementwise with per-step scalars,
// so stepping N latents at once is stepping each alone. Stochastic samplers would draw their noise per
// image seed and are not offered here. The only difference from generateImage is onnxruntime's
// batched kernels (float32 rounding of the order of 1e-6; test/demo/reproduction.test.ts compares).
import { EngineError, throwIfCancelled } from '../common/errors.ts';
import { EnsembleDenoiser, type EnsembleConditioning } from '../ensemble/ensemble-denoiser.ts';
import { magicFusionPhase, magicFusionStep } from '../ensemble/magic-fusion.ts';
import { MagicFusionDenoiser } from '../ensemble/recipe-target.ts';
import type { Conditioning, Denoiser, LatentDecoder, StepContext } from '../pipeline/denoiser.ts';
import { applyGuidance } from '../pipeline/guidance.ts';
import { ModelDenoiser, type ModelConditioning } from '../pipeline/model-denoiser.ts';
import { imageToRgbInSlices, type RgbImage } from '../pipeline/preview.ts';
import { initialNoise } from '../pipeline/text-to-image.ts';
import { createScheduler } from '../schedulers/registry.ts';
import type { SchedulerOverrides } from '../schedulers/scheduler-config.ts';
import type { Tensor } from '../tensor/tensor.ts';

/** The denoisers a recipe resolves to; others (a registered custom method) are refused. */
export type BatchableDenoiser = ModelDenoiser | EnsembleDenoiser | MagicFusionDenoiser;

export function asBatchable(denoiser: Denoiser<Conditioning>, method: string): BatchableDenoiser {
  if (denoiser instanceof ModelDenoiser || denoiser instanceof EnsembleDenoiser || denoiser instanceof MagicFusionDenoiser) return denoiser;
  throw new EngineError(`The ${method} method's denoiser cannot run a batch of prompts here.`);
}

/** Concatenates float32 tensors of equal shape but for `axis`. */
export function concatTensors(tensors: readonly Tensor<'float32'>[], axis: number): Tensor<'float32'> {
  const first = tensors[0]!;
  const outer = first.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inners = tensors.map((t) => t.data.length / outer);
  const total = inners.reduce((a, b) => a + b, 0);
  const data = new Float32Array(outer * total);
  for (let o = 0; o < outer; o++) {
    let offset = o * total;
    tensors.forEach((t, k) => {
      data.set(t.data.subarray(o * inners[k]!, (o + 1) * inners[k]!), offset);
      offset += inners[k]!;
    });
  }
  const shape = [...first.shape];
  shape[axis] = tensors.reduce((sum, t) => sum + t.shape[axis]!, 0);
  return { dtype: 'float32', shape, data };
}

/** Rows [start, start + count) of a [B, ...] tensor. */
export function rows(tensor: Tensor<'float32'>, start: number, count: number): Tensor<'float32'> {
  const size = tensor.data.length / tensor.shape[0]!;
  return { dtype: 'float32', shape: [count, ...tensor.shape.slice(1)], data: tensor.data.slice(start * size, (start + count) * size) };
}

/** Each row twice, in place: [x1, x1, x2, x2, …] — image i's [uncond, cond] pair at rows 2i, 2i + 1. */
function pairRows(latents: Tensor<'float32'>): Tensor<'float32'> {
  const [n, ...rest] = latents.shape as [number, ...number[]];
  const size = latents.data.length / n;
  const data = new Float32Array(latents.data.length * 2);
  for (let i = 0; i < n; i++) {
    const row = latents.data.subarray(i * size, (i + 1) * size);
    data.set(row, 2 * i * size);
    data.set(row, (2 * i + 1) * size);
  }
  return { dtype: 'float32', shape: [2 * n, ...rest], data };
}

/** Prompt conditioning of a batch, per model of the method (MagicFusion has two). */
export interface BatchConditioning {
  readonly guided: boolean;
  readonly parts: readonly Conditioning[];
}

async function encodeWith(denoiser: ModelDenoiser | EnsembleDenoiser, prompts: readonly string[], negative: string, guided: boolean): Promise<Conditioning> {
  const parts: Tensor<'float32'>[] = [];
  for (const prompt of prompts) parts.push((await denoiser.encodePrompts(prompt, negative, guided)).embeddings);
  // ModelConditioning stacks rows on axis 0 ([B, 77, H]); EnsembleConditioning on axis 1 ([K, B, 77, D]).
  const stacked: ModelConditioning | EnsembleConditioning = { guided, embeddings: concatTensors(parts, denoiser instanceof EnsembleDenoiser ? 1 : 0) };
  return stacked;
}

export async function encodeBatch(denoiser: BatchableDenoiser, prompts: readonly string[], negative: string, guided: boolean): Promise<BatchConditioning> {
  if (denoiser instanceof MagicFusionDenoiser) {
    // MagicFusion blends guided predictions: even the ε measure runs it guided (at scale 1).
    return { guided: true, parts: [await encodeWith(denoiser.a, prompts, negative, true), await encodeWith(denoiser.b, prompts, negative, true)] };
  }
  return { guided, parts: [await encodeWith(denoiser, prompts, negative, guided)] };
}

/**
 * ε for N latents [N, 4, h, w] at one timestep: guided (scale `step.guidance`) when the conditioning is,
 * else the conditional prediction. For MagicFusion, `step` decides the phase (which model, or the blend).
 */
export async function predictBatch(denoiser: BatchableDenoiser, latents: Tensor<'float32'>, timestep: number, conditioning: BatchConditioning, step: StepContext): Promise<Tensor<'float32'>> {
  const n = latents.shape[0]!;
  if (!conditioning.guided) {
    const d = denoiser as ModelDenoiser | EnsembleDenoiser;
    return d.predictNoise(latents, timestep, conditioning.parts[0] as ModelConditioning & EnsembleConditioning, step);
  }
  const paired = pairRows(latents);
  const out = new Float32Array(latents.data.length);
  const size = latents.data.length / n;
  if (denoiser instanceof MagicFusionDenoiser) {
    const phase = magicFusionPhase(step.index, step.total, denoiser.settings);
    const a = phase === 'b' ? undefined : await denoiser.a.predictNoise(paired, timestep, conditioning.parts[0] as ModelConditioning);
    const b = phase === 'a' ? undefined : await denoiser.b.predictNoise(paired, timestep, conditioning.parts[1] as ModelConditioning);
    for (let i = 0; i < n; i++) {
      const noise = magicFusionStep(a && rows(a, 2 * i, 2), b && rows(b, 2 * i, 2), step.guidance, step, denoiser.settings).noise;
      out.set(noise.data, i * size);
    }
  } else {
    const prediction = await denoiser.predictNoise(paired, timestep, conditioning.parts[0] as ModelConditioning & EnsembleConditioning, step);
    for (let i = 0; i < n; i++) out.set(applyGuidance(rows(prediction, 2 * i, 2), step.guidance).data, i * size);
  }
  return { dtype: 'float32', shape: [...latents.shape], data: out };
}

export interface BatchJob {
  readonly prompts: readonly string[];
  /** Seed of each image's initial noise (initialNoise, as the pipeline). */
  readonly seeds: readonly number[];
  readonly negativePrompt: string;
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly guidance: number;
  /** The models' noise schedule (SD1.5's when absent), as the pipeline's createSampler takes it. */
  readonly schedule?: SchedulerOverrides;
}

export interface BatchResult {
  readonly latents: Tensor<'float32'>;
  readonly images: readonly RgbImage[];
}

/**
 * Generates the job's images with DDIM (η = 0), one batch of 2N rows per step. `conditioning` is the
 * prompts' encodeBatch (guided when the job is), when the caller reuses it for several step counts.
 */
export async function sampleBatch(denoiser: BatchableDenoiser, decoder: LatentDecoder, job: BatchJob, signal?: AbortSignal, encoded?: BatchConditioning): Promise<BatchResult> {
  if (job.prompts.length !== job.seeds.length) throw new RangeError('one seed per prompt');
  const scheduler = createScheduler('ddim', { ...job.schedule, eta: 0 });
  scheduler.setTimesteps(job.steps);
  const guided = job.guidance > 1;
  const conditioning = encoded ?? (await encodeBatch(denoiser, job.prompts, job.negativePrompt, guided));
  if (conditioning.guided !== (guided || denoiser instanceof MagicFusionDenoiser)) throw new RangeError('the conditioning was encoded for another guidance');
  // DDIM's initNoiseSigma is 1: the pipeline's scaled initial latents are the noise itself.
  let latents = concatTensors(
    job.seeds.map((seed) => initialNoise(seed, job.width, job.height)),
    0,
  );
  const timesteps = scheduler.timesteps;
  for (let index = 0; index < timesteps.length; index++) {
    throwIfCancelled(signal);
    const timestep = timesteps[index]!;
    const step = { index, total: timesteps.length, guidance: job.guidance };
    const noise = await predictBatch(denoiser, scheduler.scaleModelInput(latents, timestep), timestep, conditioning, step);
    latents = scheduler.step(noise, timestep, latents, { stepIndex: index }).prevSample;
    // A turn of the event loop per step, as the pipeline, so a cancel is seen.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const images: RgbImage[] = [];
  for (let i = 0; i < job.prompts.length; i++) images.push(await imageToRgbInSlices(await decoder.decode(rows(latents, i, 1))));
  return { latents, images };
}
