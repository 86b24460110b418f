// Golden kind 'afa_pipeline': the official StableDiffusionAggregatorPipeline end to end, reproduced with
// the studio's own loop (app/pipeline/text-to-image.ts) and ensemble denoiser (app/ensemble): each expert's
// tokenizer + text encoder, the compiled lock-step AFA graph (with its weight maps exposed), DDIM from the
// folder's scheduler_config.json, classifier-free guidance, and the shared VAE decoder.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaseKind, CaseOutput } from '../case-kind.ts';
import type { Tensor } from '../../../app/tensor/tensor.ts';
import { openDiffusersComponent } from '../../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../../app/models/unet-config.ts';
import { unetLayout } from '../../../app/models/unet-layout.ts';
import { saveModel } from '../../../app/onnx/serialize.ts';
import { ClipTokenizer } from '../../../app/tokenizer/clip-tokenizer.ts';
import { fromDiffusersConfig, parseDiffusersJson } from '../../../app/schedulers/diffusers-config.ts';
import { schedulerFromConfig } from '../../../app/schedulers/registry.ts';
import { createModelRuntime, CachedModel } from '../../../app/pipeline/model-runtime.ts';
import { VaeLatentDecoder } from '../../../app/pipeline/model-denoiser.ts';
import { generateImage } from '../../../app/pipeline/text-to-image.ts';
import { loadAggregatorSet } from '../../../app/ensemble/aggregator-set.ts';
import { buildLockStepGraph, pointName } from '../../../app/ensemble/lock-step-graph.ts';
import { cachedGraphRunner, EnsembleDenoiser, stackTensors } from '../../../app/ensemble/ensemble-denoiser.ts';
import { compiledTextEncoder, compiledVae } from '../../models/compiled-models.ts';

function expertFolders(afaDir: string, kind: 'unet' | 'text_encoder', count: number): string[] {
  return Array.from({ length: count }, (_, k) => join(afaDir, k === 0 ? kind : `additional_${kind}_${k - 1}`));
}

const afaPipeline: CaseKind = {
  kind: 'afa_pipeline',
  computeDtypes: ['float32', 'float16'],
  async run(testCase, context) {
    const afaDir = context.resolve(String(testCase.model?.afa));
    const params = testCase.params as { prompt: string; negative_prompt: string; guidance_scale: number; num_inference_steps: number; width: number; height: number };
    const count = (JSON.parse(readFileSync(join(afaDir, 'model_config.json'), 'utf8')) as { num_models: number }).num_models;
    const runtime = createModelRuntime({ sessionOptions: context.session, precision: 'fp32' });
    const tokenizer = ClipTokenizer.fromDiffusersFolder(join(afaDir, 'tokenizer'));
    const encoders = await Promise.all(
      expertFolders(afaDir, 'text_encoder', count).map(async (folder) => {
        const compiled = await compiledTextEncoder(folder, context.session, context.computeDtype);
        return { tokenizer, model: new CachedModel(compiled.modelPaths.get('text_encoder')!, runtime) };
      }),
    );
    const experts = expertFolders(afaDir, 'unet', count).map((folder) => openDiffusersComponent(folder, parseUnetConfig));
    const dir = mkdtempSync(join(tmpdir(), 'afa-golden-pipeline-'));
    try {
      const graph = buildLockStepGraph(experts, { kind: 'aggregators', aggregators: loadAggregatorSet(afaDir) }, { exposeWeights: true, graph: { computeDtype: context.computeDtype } });
      const saved = saveModel(graph, { dir, modelFile: 'afa.onnx', weightsFile: 'afa.weights' });
      const mapNames = unetLayout(experts[0]!.config).map((point) => `weights_${pointName(point.index)}`);
      const maps: Record<string, CaseOutput> = {};
      const denoiser = new EnsembleDenoiser(encoders, cachedGraphRunner(saved.modelPath, runtime), {
        outputs: mapNames,
        listener: ({ index: step }, stepMaps) => {
          for (const [name, map] of Object.entries(stepMaps)) {
            const id = name.slice('weights_'.length);
            if (step === 0) maps[`step0_agg${id}_attn`] = map;
            if (step === params.num_inference_steps - 1) maps[`last_agg${id}_attn`] = map;
          }
        },
      });
      const vae = await compiledVae(join(afaDir, 'vae'), 'decoder', context.session, context.computeDtype);
      const decoder = new VaeLatentDecoder(vae.modelPaths.get('vae_decoder')!, runtime);
      const schedulerJson = parseDiffusersJson(readFileSync(join(afaDir, 'scheduler', 'scheduler_config.json'), 'utf8'));
      const scheduler = schedulerFromConfig(fromDiffusersConfig(schedulerJson));
      scheduler.setTimesteps(params.num_inference_steps);
      const stepLatents: Tensor<'float32'>[] = [];
      let promptEmbeds: Tensor<'float32'> | undefined;
      const conditioning = denoiser.encodePrompts.bind(denoiser);
      denoiser.encodePrompts = async (positive, negative, guided) => {
        const result = await conditioning(positive, negative, guided);
        promptEmbeds = result.embeddings;
        return result;
      };
      const result = await generateImage(
        denoiser,
        decoder,
        { prompt: params.prompt, negativePrompt: params.negative_prompt, width: params.width, height: params.height, guidance: params.guidance_scale, seed: 0, scheduler },
        { initialLatents: context.readInput('latents') as Tensor<'float32'>, onStep: (trace) => stepLatents.push(trace.latents) },
      );
      // The pipeline's float image: (x / 2 + 0.5).clamp(0, 1), NHWC.
      const [, , height, width] = result.image.shape as number[];
      const nhwc = new Float32Array(result.image.data.length);
      const plane = height! * width!;
      for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) nhwc[p * 3 + c] = Math.min(1, Math.max(0, result.image.data[c * plane + p]! / 2 + 0.5));
      await runtime.sessions.clear();
      return {
        prompt_embeds: promptEmbeds!,
        step_latents: stackTensors(stepLatents),
        final_latents: result.latents,
        image: { dtype: 'float32', shape: [1, height!, width!, 3], data: nhwc },
        png: { png: result.rgb },
        ...maps,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export const kinds: CaseKind[] = [afaPipeline];
