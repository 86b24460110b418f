// Sample images at every validation of a training run: fixed prompts and seeds, generated with the AFA
// ensemble being trained — its current aggregator weights — through the studio's own text-to-image loop
// (app/pipeline/text-to-image.ts), sampler (DDIM, η = 0), ensemble denoiser and VAE decoder, so a
// person sees what the aggregators would draw now, and the same weights always draw the same pictures
// (a resumed run's samples equal an uninterrupted run's, byte for byte).
//
// The ensemble graph is the lock-step graph the studio runs for AFA recipes, built with the aggregator
// weights as graph inputs (as the training graph has them) instead of initializers, and fed the training
// session's current parameters at every sampler step. The prompts are encoded once per run by the
// training's own text encoders (the caption cache already holds the validation captions).
//
// Files: <run>/samples/step-NNNNNNNN/{NN.png, samples.json}, written into a temporary sibling folder
// and renamed into place, so a killed process leaves no half set (only a `.tmp-*` folder, removed on the
// next run). The PNGs carry A1111 `parameters` text (prompt, steps, sampler, guidance, seed, size).
//
// Memory: the sampling session loads the experts' frozen weights a second time (the training session
// holds the first copy). It stays open between validations while it takes under half the free memory
// (opening it costs seconds even on tiny models: most of a validation's samples on the golden experts);
// larger ones (three SD1.5 members: ≈ 10 GB) are opened for each validation's samples and released after.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { diskFullError, isDiskFull } from '../common/atomic-write.ts';
import { throwIfCancelled } from '../common/errors.ts';
import type { AggregatorSet } from '../ensemble/aggregator-set.ts';
import { EnsembleDenoiser, type EnsembleConditioning, type GraphRunner } from '../ensemble/ensemble-denoiser.ts';
import { buildLockStepGraph, type Expert } from '../ensemble/lock-step-graph.ts';
import { formatA1111Parameters } from '../images/a1111-parameters.ts';
import { encodePngInSlices } from '../images/png.ts';
import { saveModel } from '../onnx/serialize.ts';
import { createSampler } from '../pipeline/create-sampler.ts';
import type { LatentDecoder } from '../pipeline/denoiser.ts';
import { generateImage } from '../pipeline/text-to-image.ts';
import { ModelSession, type SessionOptions } from '../runtime/onnx-runtime.ts';
import { estimateSessionBytes } from '../runtime/session-cache.ts';
import type { NoiseScheduleConfig } from '../schedulers/scheduler-config.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { AGGREGATOR_PARAMETER } from './afa-training-graph.ts';
import type { TrainingSettings } from './training-settings.ts';

/** What a run samples at each validation: fixed when the run is created (stored in run.json). */
export interface SamplePlan {
  readonly prompts: readonly string[];
  /** One seed per prompt. */
  readonly seeds: readonly number[];
  readonly steps: number;
  readonly guidance: number;
  /** Image width and height (the training resolution). */
  readonly size: number;
  readonly sampler: 'ddim';
}

export interface SampleImage {
  readonly prompt: string;
  readonly seed: number;
  /** Absolute path of the PNG. */
  readonly file: string;
  readonly width: number;
  readonly height: number;
}

export interface StepSamples {
  readonly step: number;
  readonly images: readonly SampleImage[];
  /** Seconds it took to draw and save them (sets read back from disk have none). */
  readonly seconds?: number;
}

const SAMPLES_DIR = 'samples';
const STEP_PREFIX = 'step-';
const MANIFEST = 'samples.json';

interface SamplesManifest {
  readonly format: 'afa-studio-training-samples';
  readonly step: number;
  readonly sampler: 'ddim';
  readonly steps: number;
  readonly guidance: number;
  readonly images: readonly { readonly file: string; readonly prompt: string; readonly seed: number; readonly width: number; readonly height: number }[];
}

export function samplesDir(runDir: string): string {
  return join(runDir, SAMPLES_DIR);
}

function stepDirName(step: number): string {
  return `${STEP_PREFIX}${String(step).padStart(8, '0')}`;
}

/**
 * The run's sample prompts and seeds: the settings' prompts, or the first `sampleCount` distinct
 * captions of the validation split and then of the training split (a caption of the person's own data
 * shows best whether the ensemble learnt it). Null when there is nothing to sample.
 */
export function planSamples(settings: TrainingSettings, validationCaptions: readonly string[], trainingCaptions: readonly string[]): SamplePlan | null {
  let prompts = settings.samplePrompts.filter((prompt) => prompt.trim() !== '');
  if (prompts.length === 0) prompts = [...new Set([...validationCaptions, ...trainingCaptions].filter((caption) => caption.trim() !== ''))].slice(0, settings.sampleCount);
  if (prompts.length === 0) return null;
  return { prompts, seeds: prompts.map((_, i) => settings.sampleSeed + i), steps: settings.sampleSteps, guidance: settings.sampleGuidance, size: settings.resolution, sampler: 'ddim' };
}

/** Prompt embeddings computed before sampling: each expert's own, [K, 77, D] flattened, by prompt. */
export interface PromptEmbeddings {
  /** [K, 77, D] of the caption shape. */
  readonly shape: readonly number[];
  get(prompt: string): Float32Array;
}

/**
 * The studio's ensemble denoiser with the prompts encoded ahead (by the training's text encoders, the
 * same graphs the recipe's encoders run): stacked [K, B, 77, D] as EnsembleDenoiser.encodePrompts does.
 */
class EncodedPromptsDenoiser extends EnsembleDenoiser {
  constructor(
    graph: GraphRunner,
    private readonly prompts: PromptEmbeddings,
  ) {
    super([], graph);
  }

  override async encodePrompts(positive: string, negative: string, guided: boolean): Promise<EnsembleConditioning> {
    const [K, T, D] = this.prompts.shape as [number, number, number];
    const rows = guided ? [this.prompts.get(negative), this.prompts.get(positive)] : [this.prompts.get(positive)];
    const B = rows.length;
    const perExpert = T * D;
    const data = new Float32Array(K * B * perExpert);
    for (let k = 0; k < K; k++) rows.forEach((row, b) => data.set(row.subarray(k * perExpert, (k + 1) * perExpert), (k * B + b) * perExpert));
    return { guided, embeddings: { dtype: 'float32', shape: [K, B, T, D], data } };
  }
}

export interface ValidationSamplerOptions {
  readonly experts: readonly Expert[];
  /** The run's aggregators (their architecture; the weights come from the training session). */
  readonly aggregators: AggregatorSet;
  readonly plan: SamplePlan;
  readonly prompts: PromptEmbeddings;
  readonly decoder: LatentDecoder;
  /** The model's noise schedule (the sampler's betas and prediction type). */
  readonly noiseSchedule: NoiseScheduleConfig;
  readonly runDir: string;
  /** Where the sampling graph is saved (weights referenced in place). */
  readonly scratch: string;
  readonly session?: SessionOptions;
  /** Keep the sampling session open between validations: default while it takes under half the free memory. */
  readonly keepSession?: boolean;
}

export class ValidationSampler {
  readonly #options: ValidationSamplerOptions;
  #modelPath: string | undefined;
  #session: ModelSession | undefined;
  #sessionBytes: number | undefined;

  constructor(options: ValidationSamplerOptions) {
    this.#options = options;
    // A folder left by a process killed while writing samples.
    const dir = samplesDir(options.runDir);
    if (existsSync(dir)) for (const name of readdirSync(dir)) if (name.startsWith('.tmp-')) rmSync(join(dir, name), { recursive: true, force: true });
  }

  /** The lock-step AFA graph with the aggregator weights as inputs, saved on first use. */
  #graph(): string {
    if (this.#modelPath) return this.#modelPath;
    const { experts, aggregators, scratch } = this.#options;
    const graph = buildLockStepGraph(experts, { kind: 'aggregators', aggregators }, { name: 'afa_sample', graph: { isParameter: (name) => AGGREGATOR_PARAMETER.test(name) } });
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { recursive: true });
    this.#modelPath = saveModel(graph, { dir: scratch, modelFile: 'afa_sample.onnx', weightsFile: 'afa_sample.weights' }).modelPath;
    return this.#modelPath;
  }

  /**
   * Generates the plan's images with the given aggregator weights (graph names → float32 values) and
   * writes them as the samples of `step` (replacing any earlier ones of that step).
   */
  async sample(step: number, parameters: ReadonlyMap<string, Float32Array>, shapes: ReadonlyMap<string, readonly number[]>, signal?: AbortSignal): Promise<StepSamples> {
    const { plan, runDir } = this.#options;
    throwIfCancelled(signal);
    const started = performance.now();
    const weights: Record<string, Tensor> = {};
    for (const [name, data] of parameters) weights[name] = { dtype: 'float32', shape: shapes.get(name) ?? [data.length], data };
    const modelPath = this.#graph();
    const session = this.#session ?? (await ModelSession.create(modelPath, this.#options.session));
    this.#sessionBytes ??= estimateSessionBytes(modelPath);
    const keep = this.#options.keepSession ?? this.#sessionBytes < freemem() / 2;
    this.#session = keep ? session : undefined;
    const root = samplesDir(runDir);
    mkdirSync(root, { recursive: true });
    const finalDir = join(root, stepDirName(step));
    const temporary = join(root, `.tmp-${stepDirName(step)}-${randomBytes(4).toString('hex')}`);
    try {
      const denoiser = new EncodedPromptsDenoiser({ run: (feeds, outputs) => session.run({ ...feeds, ...weights }, outputs) }, this.#options.prompts);
      mkdirSync(temporary);
      const images: SamplesManifest['images'][number][] = [];
      for (const [i, prompt] of plan.prompts.entries()) {
        const seed = plan.seeds[i]!;
        // The studio's defaults for the rest of the schedule (timestep spacing, DDIM's set_alpha_to_one…);
        // the betas and the prediction type are the model's.
        const scheduler = createSampler({ sampler: plan.sampler, steps: plan.steps, eta: 0 }, this.#options.noiseSchedule);
        const result = await generateImage(denoiser, this.#options.decoder, { prompt, negativePrompt: '', width: plan.size, height: plan.size, guidance: plan.guidance, seed, scheduler }, { signal });
        const parametersText = formatA1111Parameters(prompt, '', [
          ['Steps', plan.steps],
          ['Sampler', 'DDIM'],
          ['CFG scale', plan.guidance],
          ['Seed', seed],
          ['Size', `${result.rgb.width}x${result.rgb.height}`],
          ['Training step', step],
        ]);
        const png = await encodePngInSlices({ width: result.rgb.width, height: result.rgb.height, channels: 3, data: result.rgb.rgb }, [{ keyword: 'parameters', text: parametersText }]);
        const file = `${String(i).padStart(2, '0')}.png`;
        writeFileSync(join(temporary, file), png);
        images.push({ file, prompt, seed, width: result.rgb.width, height: result.rgb.height });
      }
      const manifest: SamplesManifest = { format: 'afa-studio-training-samples', step, sampler: plan.sampler, steps: plan.steps, guidance: plan.guidance, images };
      writeFileSync(join(temporary, MANIFEST), JSON.stringify(manifest, null, 2));
      if (existsSync(finalDir)) rmSync(finalDir, { recursive: true, force: true });
      renameSync(temporary, finalDir);
      return {
        step,
        images: images.map((image) => ({ prompt: image.prompt, seed: image.seed, file: join(finalDir, image.file), width: image.width, height: image.height })),
        seconds: (performance.now() - started) / 1000,
      };
    } catch (error) {
      rmSync(temporary, { recursive: true, force: true });
      if (isDiskFull(error)) throw diskFullError(finalDir);
      throw error;
    } finally {
      if (!keep) await session.release();
    }
  }

  async release(): Promise<void> {
    await this.#session?.release();
    this.#session = undefined;
    rmSync(this.#options.scratch, { recursive: true, force: true });
  }
}

/** Every validation step's samples of a run, oldest first (complete sets only). */
export function listSamples(runDir: string): StepSamples[] {
  const root = samplesDir(runDir);
  if (!existsSync(root)) return [];
  const out: StepSamples[] = [];
  for (const name of readdirSync(root).filter((entry) => entry.startsWith(STEP_PREFIX)).sort()) {
    const dir = join(root, name);
    let manifest: SamplesManifest;
    try {
      manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as SamplesManifest;
    } catch {
      continue;
    }
    if (manifest.format !== 'afa-studio-training-samples' || !Array.isArray(manifest.images)) continue;
    out.push({ step: manifest.step, images: manifest.images.map((image) => ({ prompt: image.prompt, seed: image.seed, file: join(dir, image.file), width: image.width, height: image.height })) });
  }
  return out;
}
