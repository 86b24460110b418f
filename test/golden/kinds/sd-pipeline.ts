// Golden kind 'sd_pipeline': diffusers' StableDiffusionPipeline txt2img with given initial latents, run
// through the studio's own path — the case's diffusers folder imported into a scratch model store
// (app/checkpoints), resolved as a 'model' target (the engine's resolver: tokenizer, text encoder, U-Net
// and VAE sessions), its sampler made by the engine's createSampler, and the same generateImage loop
// every generation runs. Only the initial noise comes from the case instead of the seed.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CaseKind, CaseOutput } from '../case-kind.ts';
import { importCheckpoint } from '../../../app/checkpoints/import-checkpoint.ts';
import { createSampler } from '../../../app/pipeline/create-sampler.ts';
import type { Conditioning, Denoiser } from '../../../app/pipeline/denoiser.ts';
import { createModelRuntime } from '../../../app/pipeline/model-runtime.ts';
import type { ModelConditioning } from '../../../app/pipeline/model-denoiser.ts';
import { resolveStoredModel } from '../../../app/pipeline/stored-model-target.ts';
import { generateImage } from '../../../app/pipeline/text-to-image.ts';
import { readDiffusersSchedulerFields, samplerOfDiffusersClass } from '../../../app/schedulers/diffusers-config.ts';
import { float32, type Tensor } from '../../../app/tensor/tensor.ts';
import { ClipTokenizer } from '../../../app/tokenizer/clip-tokenizer.ts';

interface PipelineParams {
  readonly prompt: string;
  readonly negative_prompt: string;
  readonly num_inference_steps: number;
  readonly guidance_scale: number;
  readonly eta: number;
  readonly height: number;
  readonly width: number;
}

/** Several [1, …] tensors → one [n, 1, …] tensor. */
function stack(tensors: readonly Tensor<'float32'>[]): Tensor<'float32'> {
  const size = tensors[0]!.data.length;
  const data = new Float32Array(size * tensors.length);
  tensors.forEach((tensor, index) => data.set(tensor.data, index * size));
  return float32([tensors.length, ...tensors[0]!.shape], data);
}

/** NCHW in [-1, 1] → NHWC in [0, 1] as diffusers' output_type='np': (x / 2 + 0.5).clamp(0, 1) in float32. */
function toNhwc01(image: Tensor<'float32'>): Tensor<'float32'> {
  const [batch, channels, height, width] = image.shape as [number, number, number, number];
  const out = new Float32Array(image.data.length);
  const plane = height * width;
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < plane; p++) {
        const value = Math.fround(Math.fround(image.data[(b * channels + c) * plane + p]! / 2) + 0.5);
        out[(b * plane + p) * channels + c] = Math.min(1, Math.max(0, value));
      }
    }
  }
  return float32([batch, height, width, channels], out);
}

function sameIds(ours: Tensor<'int64'>, golden: Tensor): boolean {
  const expected = golden.data as BigInt64Array;
  return ours.data.length === expected.length && ours.data.every((id, index) => id === expected[index]);
}

const sdPipeline: CaseKind = {
  kind: 'sd_pipeline',
  computeDtypes: ['float32', 'float16'],
  async run(testCase, context) {
    const params = testCase.params as unknown as PipelineParams;
    const model = testCase.model ?? {};
    const folder = dirname(context.resolve(String(model.unet)));
    const home = join(context.scratch, 'home');
    const imported = await importCheckpoint(folder, { home, precision: 'fp32' });
    // The studio's own precision switch: float16 runs the stored model's float16 forms (float16-forms.ts).
    const runtime = createModelRuntime({ sessionOptions: context.session, precision: context.computeDtype === 'float16' ? 'fp16' : 'fp32' });
    try {
      const resolved = await resolveStoredModel(imported.manifest.id, { home, runtime, signal: new AbortController().signal });
      const schedulerJson = JSON.parse(readFileSync(join(context.resolve(String(model.scheduler)), 'scheduler_config.json'), 'utf8')) as unknown;
      const fields = readDiffusersSchedulerFields(schedulerJson);
      const sampler = samplerOfDiffusersClass(fields.className ?? 'DDIMScheduler');
      const scheduler = createSampler({ sampler, steps: params.num_inference_steps, eta: params.eta }, fields.overrides);

      let conditioning: ModelConditioning | undefined;
      const recording: Denoiser<Conditioning> = {
        encodePrompts: async (positive, negative, guided) => (conditioning = (await resolved.denoiser.encodePrompts(positive, negative, guided)) as ModelConditioning),
        predictNoise: (latents, timestep, given, step) => resolved.denoiser.predictNoise(latents, timestep, given, step),
      };
      const modelOutputs: Tensor<'float32'>[] = [];
      const stepLatents: Tensor<'float32'>[] = [];
      const result = await generateImage(
        recording,
        resolved.decoder,
        { prompt: params.prompt, negativePrompt: params.negative_prompt, width: params.width, height: params.height, guidance: params.guidance_scale, seed: 0, scheduler },
        {
          initialLatents: context.readInput('latents') as Tensor<'float32'>,
          onStep: (trace) => {
            modelOutputs.push(trace.modelOutput);
            stepLatents.push(trace.latents);
          },
        },
      );
      // The case gives diffusers' token ids as an input; the studio tokenizes the prompts itself, and the
      // embeddings check below would catch any difference, but name it here when it happens.
      const tokenizer = ClipTokenizer.fromDiffusersFolder(imported.files.tokenizer!);
      if (!sameIds(tokenizer.encodeBatch([params.negative_prompt, params.prompt]), context.readInput('input_ids'))) {
        throw new Error(`${testCase.id}: the studio's token ids differ from the case's input_ids`);
      }
      const outputs: Record<string, CaseOutput> = {
        prompt_embeds: conditioning!.embeddings,
        unet_outputs: stack(modelOutputs),
        step_latents: stack(stepLatents),
        final_latents: result.latents,
        image: toNhwc01(result.image),
        png: { png: { width: result.rgb.width, height: result.rgb.height, rgb: result.rgb.rgb } },
      };
      return outputs;
    } finally {
      await runtime.sessions.clear();
    }
  },
};

export const kinds: CaseKind[] = [sdPipeline];
