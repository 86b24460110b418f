// The loop every generation runs through, for one model or an ensemble (the Denoiser decides):
// tokenize + encode prompts → initial latents from the seed → per step: scale input, ε prediction with
// classifier-free guidance (batch 2: [uncond, cond]), sampler step → VAE decode → image.
// Matches diffusers' StableDiffusionPipeline.__call__ (0.20) step for step. On a GPU provider that keeps
// tensors on its device, generateOnDevice runs the same loop with the latents there (device-steps.ts);
// the host loop below is the CPU's, unchanged.
import { throwIfCancelled } from '../common/errors.ts';
import type { DeviceTensor, TransferCount, TransferCounter } from '../runtime/device-tensor.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { LinearStep, Scheduler } from '../schedulers/scheduler.ts';
import { gaussianNoise, stepNoise } from '../schedulers/noise.ts';
import type { Conditioning, Denoiser, DeviceDenoising, LatentDecoder } from './denoiser.ts';
import { buildInputGraph, buildStepGraph, stepGraphFile } from './device-steps.ts';
import { ProviderFellBackError } from './model-runtime.ts';
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
  /**
   * Keep the latents on the device between steps when the denoiser offers it (Denoiser.onDevice: a
   * GPU provider that keeps tensors there) and the sampler's step is linear; default true. Not with
   * onStep, which needs every step's tensors on the host.
   */
  readonly deviceResident?: boolean;
  /** Counts the large host↔device copies of the host loop per step (the device loop uses its runtime's). */
  readonly transfers?: TransferCounter;
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
  /** Large host↔device copies (device-tensor.ts), when counted: the device loop always, the host loop with options.transfers. */
  readonly transfers?: ImageTransfers;
}

export interface ImageTransfers {
  /** True when the latents stayed on the device between steps. */
  readonly deviceResident: boolean;
  /** Copies made by each step's work (model, guidance, sampler), previews excluded. */
  readonly perStep: readonly TransferCount[];
  /** Copies made for previews (one latent read-back each). */
  readonly previews: number;
  /** Every copy of the image: prompts, initial latents, step noise, steps, previews, final latents, decode. */
  readonly total: TransferCount;
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
  const device = options.deviceResident === false || options.onStep || denoiser.appliesGuidance ? undefined : denoiser.onDevice?.();
  const linear = device ? linearSteps(scheduler) : undefined;
  if (device && linear) {
    try {
      return await generateOnDevice(device, linear, decoder, job, options, started);
    } catch (error) {
      // The provider failed and the runtime moved to the CPU: the image starts again on host tensors.
      if (!(error instanceof ProviderFellBackError)) throw error;
    }
  }
  const counter = options.transfers;
  const totalBefore = counter?.snapshot();
  const perStep: TransferCount[] = [];

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
    const stepBefore = counter?.snapshot();
    const timestep = timesteps[index]!;
    const modelInput = scheduler.scaleModelInput(guided ? duplicateBatch(latents) : latents, timestep);
    const modelOutput = await denoiser.predictNoise(modelInput, timestep, conditioning, { index, total: timesteps.length, guidance: job.guidance });
    const noise = guided && !denoiser.appliesGuidance ? applyGuidance(modelOutput, job.guidance) : modelOutput;
    latents = scheduler.step(noise, timestep, latents, { seed: job.seed, stepIndex: index }).prevSample;
    stepMs.push(performance.now() - stepStart);
    if (counter && stepBefore) perStep.push(counter.since(stepBefore));
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
  return decodeResult(decoder, latents, job, options, { started, encodeMs, stepMs }, counter && totalBefore ? () => ({ deviceResident: false, perStep, previews: 0, total: counter.since(totalBefore) }) : undefined);
}

/**
 * Both loops' end: the final latents decoded and the image's record. `transfers` is read after the decode,
 * so the image's copy count includes the decoder's.
 */
async function decodeResult(
  decoder: LatentDecoder,
  latents: Tensor<'float32'>,
  job: ImageJob,
  options: ImageJobOptions,
  times: { readonly started: number; readonly encodeMs: number; readonly stepMs: readonly number[] },
  transfers?: () => ImageTransfers,
): Promise<ImageResult> {
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
    timings: { encodeMs: times.encodeMs, stepMs: times.stepMs, decodeMs, totalMs: performance.now() - times.started },
    ...(transfers ? { transfers: transfers() } : {}),
  };
}

/** Every step of the schedule as a LinearStep, or undefined when the sampler has a step that is not one. */
function linearSteps(scheduler: Scheduler): { readonly inputScale: number; readonly step: LinearStep }[] | undefined {
  if (!scheduler.linearStep) return undefined;
  const steps = [];
  for (let index = 0; index < scheduler.timesteps.length; index++) {
    const linear = scheduler.linearStep(index);
    if (!linear) return undefined;
    steps.push(linear);
  }
  return steps;
}

function scalar(value: number): Tensor<'float32'> {
  return { dtype: 'float32', shape: [], data: Float32Array.of(value) };
}

/**
 * generateImage with the latents on the device (device-steps.ts): per step one U-Net run and one step
 * graph run, fed device tensors and scalars, so a step makes no large copy. Copies per image: the
 * initial latents and (stochastic samplers) every step's noise go up once, the final latents come back
 * once, and each preview reads the latents back.
 */
async function generateOnDevice(
  device: DeviceDenoising,
  linear: readonly { readonly inputScale: number; readonly step: LinearStep }[],
  decoder: LatentDecoder,
  job: ImageJob,
  options: ImageJobOptions,
  started: number,
): Promise<ImageResult> {
  const { runtime } = device;
  const counter = runtime.transfers;
  const totalBefore = counter.snapshot();
  const { scheduler } = job;
  const guided = job.guidance > 1;
  const held = new Set<DeviceTensor>();
  const hold = <T extends DeviceTensor>(tensor: T): T => {
    held.add(tensor);
    return tensor;
  };
  const release = async (...tensors: DeviceTensor[]) => {
    for (const tensor of tensors) held.delete(tensor);
    await runtime.dispose(tensors);
  };
  try {
    options.onPhase?.('encode');
    const conditioning = await device.encodePrompts(job.prompt, job.negativePrompt, guided);
    conditioning.tensors.forEach(hold);
    const encodeMs = performance.now() - started;
    throwIfCancelled(options.signal);

    const initial = scaleTensor(options.initialLatents ?? initialNoise(job.seed, job.width, job.height), scheduler.initNoiseSigma);
    let latents = hold(await runtime.upload(initial));
    const timesteps = scheduler.timesteps;
    const noisy = linear.some((entry) => entry.step.noise !== 0);
    let noise: DeviceTensor | undefined;
    if (noisy) {
      // Every step's z (stream i + 1 of the seed, as the host samplers draw it) in one upload.
      const [, channels, height, width] = initial.shape as [number, number, number, number];
      const size = channels * height * width;
      const all = new Float32Array(timesteps.length * size);
      linear.forEach((entry, index) => {
        if (entry.step.noise !== 0) all.set(stepNoise([1, channels, height, width], job.seed, index).data, index * size);
      });
      noise = hold(await runtime.upload({ dtype: 'float32', shape: [timesteps.length, channels, height, width], data: all }));
    }
    const stepFile = stepGraphFile(buildStepGraph({ guided, noisy }));
    const input = await runtime.runDevice(stepGraphFile(buildInputGraph(guided)), { sample: latents, input_scale: scalar(linear[0]!.inputScale) }, ['model_input'], ['model_input']);
    let modelInput = hold(input.model_input as DeviceTensor);

    const stepMs: number[] = [];
    const perStep: TransferCount[] = [];
    let previews = 0;
    options.onPhase?.('denoise');
    const loopStart = performance.now();
    for (let index = 0; index < timesteps.length; index++) {
      await yieldToEventLoop();
      throwIfCancelled(options.signal);
      const stepStart = performance.now();
      const stepBefore = counter.snapshot();
      const timestep = timesteps[index]!;
      const prediction = hold(await device.predictNoise(modelInput, timestep, conditioning, { index, total: timesteps.length, guidance: job.guidance }));
      const { step } = linear[index]!;
      const feeds: Record<string, Tensor | DeviceTensor> = {
        sample: latents,
        model_output: prediction,
        a: scalar(step.sample),
        b: scalar(step.modelOutput),
        // The last step's next input is never used; any scale does.
        input_scale: scalar(linear[index + 1]?.inputScale ?? 1),
        ...(guided ? { guidance: scalar(job.guidance) } : {}),
        ...(noise ? { c: scalar(step.noise), noise, step: { dtype: 'int64', shape: [1], data: BigInt64Array.of(BigInt(index)) } as Tensor<'int64'> } : {}),
      };
      const out = await runtime.runDevice(stepFile, feeds, ['prev_sample', 'model_input'], ['prev_sample', 'model_input']);
      await release(prediction, modelInput, latents);
      latents = hold(out.prev_sample as DeviceTensor);
      modelInput = hold(out.model_input as DeviceTensor);
      stepMs.push(performance.now() - stepStart);
      perStep.push(counter.since(stepBefore));
      if (options.onProgress) {
        const done = index + 1;
        const elapsedMs = performance.now() - loopStart;
        const wantPreview = (options.previewEvery ?? 0) > 0 && (done % options.previewEvery! === 0 || done === timesteps.length);
        let preview: RgbImage | undefined;
        if (wantPreview) {
          preview = latentPreview((await runtime.download(latents)) as Tensor<'float32'>);
          previews++;
        }
        options.onProgress({ step: done, total: timesteps.length, elapsedMs, etaMs: (elapsedMs / done) * (timesteps.length - done), ...(preview ? { preview } : {}) });
      }
    }
    const final = (await runtime.download(latents)) as Tensor<'float32'>;
    await release(...held);
    return await decodeResult(decoder, final, job, options, { started, encodeMs, stepMs }, () => ({ deviceResident: true, perStep, previews, total: counter.since(totalBefore) }));
  } finally {
    if (held.size > 0) await runtime.dispose([...held]);
  }
}
