// Golden kind 'afa_train_step': the official Model.train_forward with its random draws given (VAE
// sample noise, target noise, timesteps), loss.backward() into every aggregator parameter, and one
// torch.optim.AdamW step — through the studio's own parts: the VAE encoder and text encoders as the
// pipeline runs them, the DDPM noiser, the AFA training graph (app/training) and AdamW (app/optimizer).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaseKind, CaseOutput } from '../case-kind.ts';
import type { Tensor } from '../../../app/tensor/tensor.ts';
import { SafetensorsFile } from '../../../app/tensor/safetensors.ts';
import { openDiffusersComponent } from '../../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../../app/models/unet-config.ts';
import { loadAggregatorSet } from '../../../app/ensemble/aggregator-set.ts';
import type { Expert } from '../../../app/ensemble/lock-step-graph.ts';
import { DdpmNoiser } from '../../../app/schedulers/ddpm-noiser.ts';
import { noiseScheduleFromDiffusersConfig } from '../../../app/schedulers/diffusers-config.ts';
import { buildAfaTrainingGraph, officialParameterName } from '../../../app/training/afa-training-graph.ts';
import { TrainingSession } from '../../../app/training/training-session.ts';
import { AdamW } from '../../../app/optimizer/adamw.ts';
import { compiledTextEncoder, compiledVae } from '../../models/compiled-models.ts';

const f = Math.fround;
const SCALING_FACTOR = 0.18215;

/** The official AFA layout's experts: (unet, text_encoder), (additional_unet_0, additional_text_encoder_0), … */
function expertFolders(afaDir: string, k: number): { unet: string; textEncoder: string } {
  return k === 0
    ? { unet: join(afaDir, 'unet'), textEncoder: join(afaDir, 'text_encoder') }
    : { unet: join(afaDir, `additional_unet_${k - 1}`), textEncoder: join(afaDir, `additional_text_encoder_${k - 1}`) };
}

function expertCount(afaDir: string): number {
  const config = JSON.parse(readFileSync(join(afaDir, 'model_config.json'), 'utf8')) as { num_models?: number };
  if (typeof config.num_models !== 'number') throw new Error(`${afaDir}/model_config.json names no num_models`);
  return config.num_models;
}

function readAll(path: string): Map<string, Tensor> {
  const file = SafetensorsFile.open(path);
  try {
    return new Map(file.names().map((name) => [name, file.get(name).read()]));
  } finally {
    file.close();
  }
}

const afaTrainStep: CaseKind = {
  kind: 'afa_train_step',
  async run(testCase, context) {
    const afaDir = context.resolve(String(testCase.model?.afa));
    const K = expertCount(afaDir);
    const pixels = context.readInput('pixel_values') as Tensor<'float32'>;
    const inputIds = context.readInput('input_ids');
    const vaeEps = context.readInput('vae_eps') as Tensor<'float32'>;
    const noise = context.readInput('noise') as Tensor<'float32'>;
    const timesteps = Array.from(context.readInput('timesteps').data as BigInt64Array, Number);

    // latents = latent_dist.sample() · scaling = (mean + std·ε)·0.18215, in float32 like torch.
    const vae = await compiledVae(join(afaDir, 'vae'), 'encoder', context.session);
    const { mean, std } = await vae.session('vae_encoder').run({ image: pixels });
    const latentData = new Float32Array(mean!.data.length);
    const [m, s, e] = [mean!.data as Float32Array, std!.data as Float32Array, vaeEps.data];
    for (let i = 0; i < latentData.length; i++) latentData[i] = f(f(m[i]! + f(s[i]! * e[i]!)) * f(SCALING_FACTOR));
    const latents: Tensor<'float32'> = { dtype: 'float32', shape: [...mean!.shape], data: latentData };

    const scheduler = JSON.parse(readFileSync(join(afaDir, 'scheduler', 'scheduler_config.json'), 'utf8')) as unknown;
    const noisyLatents = new DdpmNoiser(noiseScheduleFromDiffusersConfig(scheduler)).addNoise(latents, noise, timesteps);

    // encoder_hidden_states[k] = text_encoder_k(input_ids)[0], stacked over the experts.
    const embeddings: Tensor[] = [];
    for (let k = 0; k < K; k++) {
      const encoder = await compiledTextEncoder(expertFolders(afaDir, k).textEncoder, context.session);
      embeddings.push((await encoder.session('text_encoder').run({ input_ids: inputIds })).last_hidden_state!);
    }
    const perExpert = embeddings[0]!.data.length;
    const stacked = new Float32Array(perExpert * K);
    embeddings.forEach((embedding, k) => stacked.set(embedding.data as Float32Array, k * perExpert));
    const contexts: Tensor<'float32'> = { dtype: 'float32', shape: [K, ...embeddings[0]!.shape], data: stacked };

    const experts: Expert[] = Array.from({ length: K }, (_, k) => {
      const { config, weights } = openDiffusersComponent(expertFolders(afaDir, k).unet, parseUnetConfig);
      return { config, weights };
    });
    const aggregators = loadAggregatorSet(afaDir);
    const [batch, , height, width] = noisyLatents.shape as number[];
    const dir = mkdtempSync(join(tmpdir(), 'afa-golden-train-'));
    const shape = { batch: batch!, height: height!, width: width!, tokens: contexts.shape[2]! };
    const training = await TrainingSession.create(buildAfaTrainingGraph(experts, aggregators, shape), { dir, session: context.session });
    try {
      const step = await training.computeGradients({
        sample: noisyLatents,
        timestep: { dtype: 'float32', shape: [batch!], data: Float32Array.from(timesteps) },
        context: contexts,
        target: noise,
      });
      const grads = new Map<string, Tensor>();
      for (const [name, gradient] of step.gradients) grads.set(officialParameterName(name), { dtype: 'float32', shape: training.shapes.get(name)!, data: gradient });

      // params_after_adamw: this AdamW applied to the golden gradients and the initial weights (as the
      // case prescribes: an end-to-end first step is only defined up to 2·lr where a gradient's sign is noise).
      const optimizerParams = testCase.params?.optimizer as { lr: number; weight_decay: number; betas: [number, number]; eps: number };
      const adamw = new AdamW({ lr: optimizerParams.lr, weightDecay: optimizerParams.weight_decay, beta1: optimizerParams.betas[0], beta2: optimizerParams.betas[1], eps: optimizerParams.eps });
      const goldenGrads = readAll(context.resolve(String(testCase.outputs.grads!.file)));
      const parameters = new Map<string, Float32Array>();
      const gradients = new Map<string, Float32Array>();
      for (const [name, values] of training.parameters) {
        const official = officialParameterName(name);
        parameters.set(official, Float32Array.from(values));
        const golden = goldenGrads.get(official);
        if (golden) gradients.set(official, golden.data as Float32Array);
      }
      adamw.update(parameters, gradients);
      const after = new Map<string, Tensor>();
      for (const [name, values] of parameters) after.set(name, { dtype: 'float32', shape: grads.get(name)!.shape, data: values });

      const outputs: Record<string, CaseOutput> = {
        loss: { dtype: 'float32', shape: [1], data: Float32Array.of(step.loss) },
        latents,
        noisy_latents: noisyLatents,
        encoder_hidden_states: contexts,
        noise_pred: step.prediction,
        grads: { tensorSet: grads },
        params_after_adamw: { tensorSet: after },
      };
      return outputs;
    } finally {
      await training.release();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export const kinds: CaseKind[] = [afaTrainStep];
