// The loop every generation runs through, for one model or an ensemble (the Denoiser decides):
// tokenize + encode prompts → initial latents from the seed → per step: scale input, ε prediction with
// classifier-free guidance (batch 2: [uncond, cond]), sampler step → VAE decode → image.
// Matches diffusers' StableDiffusionPipeline.__call__ (0.20) step for step.
import { throwIfCancelled } from '../common/errors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { Scheduler } from '../schedulers/scheduler.ts';
import { gaussianNoise } from '../schedulers/noise.ts';
import type { Conditioning, Denoiser, LatentDecoder } from './denoiser.ts';
import { applyGuidance } from './guidance.ts';
import { imageToRgbInSlices, latentPreview, type RgbImage } from './preview.ts';

export interface StepTrace {
  readonly index: number;
  readonly timestep: number;
  /** The denoiser's raw output ([2, 4, h, w] with guidance). */
  readonly modelOutput: Tensor<'float32'>;
  /** Latents after the sampler step. */
  readonly latents: Tensor<'float32'>;
}

export interface GenerationProgress {
  readonly step: number;
  readonly total: number;
  readonly elapsedMs: number;
  /** Estimated time left, from the mean step time so far (decode time excluded). */
  readonly etaMs: number;
  readonly preview?: RgbImage;
}

export interface ImageJob {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly width: number;
  readonly height: number;
  readonly guidance: number;
  readonly seed: number;
  /** A sampler with setTimesteps already called. */
  readonly scheduler: Scheduler;
}

export interface ImageJobOptions {
  readonly signal?: AbortSignal;
  /** Overrides the seeded initial noise (golden tests give diffusers' latents). Pipeline space, unscaled. */
  readonly initialLatents?: Tensor<'float32'>;
  readonly onProgress?: (progress: GenerationProgress) => void;
  /** A latent preview every N steps (0 = none). Previews cost ~0.1 ms at 64×64 latents. */
  readonly previewEvery?: number;
  readonly onStep?: (trace: StepTrace) => void;
  /** Called when a phase starts: 'encode' (prompts), 'denoise' (the first step), 'decode' (VAE). */
  readonly onPhase?: (phase: GenerationPhase) => void;
}

/** 'load' comes from the engine (sessions created before the first image); the loop reports the others. */
export type GenerationPhase = 'load' | 'encode' | 'denoise' | 'decode';

export interface ImageResult {
  readonly seed: number;
  readonly latents: Tensor<'float32'>;
  /** Decoded image [1, 3, H, W] in [-1, 1]. */
  readonly image: Tensor<'float32'>;
  readonly rgb: RgbImage;
  readonly timings: { readonly encodeMs: number; readonly stepMs: readonly number[]; readonly decodeMs: number; readonly totalMs: number };
}

/** Latent noise for a seed: [1, 4, H/8, W/8], standard normal (app/schedulers/noise.ts documents the generator). */
export function initialNoise(seed: number, width: number, height: number): Tensor<'float32'> {
  return gaussianNoise([1, 4, height / 8, width / 8], seed);
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function scaleTensor(tensor: Tensor<'float32'>, factor: number): Tensor<'float32'> {
  if (factor === 1) return tensor;
  const out = new Float32Array(tensor.data.length);
  for (let i = 0; i < out.length; i++) out[i] = tensor.data[i]! * factor;
  return { dtype: 'float32', shape: tensor.shape, data: out };
}

function duplicateBatch(latents: Tensor<'float32'>): Tensor<'float32'> {
  const data = new Float32Array(latents.data.length * 2);
  data.set(latents.data, 0);
  data.set(latents.data, latents.data.length);
  return { dtype: 'float32', shape: [2, ...latents.shape.slice(1)], data };
}

export async function generateImage<C extends Conditioning>(
  denoiser: Denoiser<C>,
  decoder: LatentDecoder,
  job: ImageJob,
  options: ImageJobOptions = {},
): Promise<ImageResult> {
  const started = performance.now();
  const { scheduler } = job;
  const guided = job.guidance > 1;
  throwIfCancelled(options.signal);

  options.onPhase?.('encode');
  const conditioning = await denoiser.encodePrompts(job.prompt, job.negativePrompt, guided);
  const encodeMs = performance.now() - started;
  throwIfCancelled(options.signal);

  let latents = scaleTensor(options.initialLatents ?? initialNoise(job.seed, job.width, job.height), scheduler.initNoiseSigma);
  const timesteps = scheduler.timesteps;
  const stepMs: number[] = [];
  options.onPhase?.('denoise');
  const loopStart = performance.now();
  for (let index = 0; index < timesteps.length; index++) {
    // One turn of the event loop per step, so a cancel request (SIGINT, an API call) is seen here even
    // when the denoiser never yields; onnxruntime runs block the thread, so between steps is the soonest.
    await yieldToEventLoop();
    throwIfCancelled(options.signal);
    const stepStart = performance.now();
    const timestep = timesteps[index]!;
    const modelInput = scheduler.scaleModelInput(guided ? duplicateBatch(latents) : latents, timestep);
    const modelOutput = await denoiser.predictNoise(modelInput, timestep, conditioning, { index, total: timesteps.length, guidance: job.guidance });
    const noise = guided && !denoiser.appliesGuidance ? applyGuidance(modelOutput, job.guidance) : modelOutput;
    latents = scheduler.step(noise, timestep, latents, { seed: job.seed, stepIndex: index }).prevSample;
    stepMs.push(performance.now() - stepStart);
    options.onStep?.({ index, timestep, modelOutput, latents });
    if (options.onProgress) {
      const done = index + 1;
      const elapsedMs = performance.now() - loopStart;
      const wantPreview = (options.previewEvery ?? 0) > 0 && (done % options.previewEvery! === 0 || done === timesteps.length);
      options.onProgress({
        step: done,
        total: timesteps.length,
        elapsedMs,
        etaMs: (elapsedMs / done) * (timesteps.length - done),
        ...(wantPreview ? { preview: latentPreview(latents) } : {}),
      });
    }
  }
  await yieldToEventLoop();
  throwIfCancelled(options.signal);
  options.onPhase?.('decode');
  const decodeStart = performance.now();
  const image = await decoder.decode(latents);
  const decodeMs = performance.now() - decodeStart;
  return {
    seed: job.seed,
    latents,
    image,
    rgb: await imageToRgbInSlices(image),
    timings: { encodeMs, stepMs, decodeMs, totalMs: performance.now() - started },
  };
}
