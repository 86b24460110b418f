// Golden kinds of the samplers (app/schedulers): 'scheduler_timesteps' (set_timesteps for several step
// counts), 'scheduler_chain' (scale_model_input + step over a whole schedule with given model outputs)
// and 'scheduler_add_noise' (DDPM forward process). Each case's params.config is diffusers' resolved
// scheduler config; params.class names the diffusers class.
import type { CaseContext, CaseKind, CaseOutput, ManifestCase } from '../case-kind.ts';
import type { Tensor } from '../../../app/tensor/tensor.ts';
import { DdpmNoiser } from '../../../app/schedulers/ddpm-noiser.ts';
import { fromDiffusersConfig, noiseScheduleFromDiffusersConfig, samplerOfDiffusersClass } from '../../../app/schedulers/diffusers-config.ts';
import { schedulerFromConfig } from '../../../app/schedulers/registry.ts';
import type { Scheduler } from '../../../app/schedulers/scheduler.ts';
import type { SchedulerConfig, SchedulerOverrides } from '../../../app/schedulers/scheduler-config.ts';

interface SchedulerParams {
  readonly class: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly num_inference_steps?: number;
  readonly step_kwargs?: { readonly eta?: number };
}

function paramsOf(testCase: ManifestCase): SchedulerParams {
  const params = testCase.params as unknown as SchedulerParams | undefined;
  if (!params || typeof params.class !== 'string' || typeof params.config !== 'object') {
    throw new Error(`${testCase.id}: params.class and params.config are required`);
  }
  return params;
}

function configOf(params: SchedulerParams): SchedulerConfig {
  const sampler = samplerOfDiffusersClass(params.class, params.config.use_karras_sigmas === true);
  // diffusers passes η to DDIM's step(); the studio keeps it in the config.
  const extra: SchedulerOverrides = params.step_kwargs?.eta === undefined ? {} : { eta: params.step_kwargs.eta };
  return fromDiffusersConfig(params.config, sampler, extra);
}

/** Timesteps in diffusers' dtype: int64 for DDIM/PNDM/DPM-Solver, float64 for the σ-based samplers. */
function timestepTensor(config: SchedulerConfig, timesteps: readonly number[]): Tensor {
  const shape = [timesteps.length];
  if (config.sampler === 'euler' || config.sampler === 'euler-a' || config.sampler === 'lms') {
    return { dtype: 'float64', shape, data: Float64Array.from(timesteps) };
  }
  return { dtype: 'int64', shape, data: BigInt64Array.from(timesteps, (t) => BigInt(t)) };
}

/** `scheduler.sigmas` as diffusers holds it: float64 only for DPM-Solver's Karras sigmas. */
function sigmaTensor(config: SchedulerConfig, sigmas: readonly number[]): Tensor {
  const shape = [sigmas.length];
  if (config.sampler === 'dpmpp-2m-karras') return { dtype: 'float64', shape, data: Float64Array.from(sigmas) };
  return { dtype: 'float32', shape, data: Float32Array.from(sigmas) };
}

function sigmasOf(scheduler: Scheduler): readonly number[] | undefined {
  const candidate = (scheduler as Partial<{ sigmas: readonly number[] }>).sigmas;
  return Array.isArray(candidate) ? candidate : undefined;
}

const timestepsKind: CaseKind = {
  kind: 'scheduler_timesteps',
  async run(testCase) {
    const config = configOf(paramsOf(testCase));
    const outputs: Record<string, CaseOutput> = {};
    const counts = new Set(Object.keys(testCase.outputs).map((name) => Number(/_(\d+)$/.exec(name)?.[1])));
    for (const steps of counts) {
      if (!Number.isInteger(steps)) continue;
      const scheduler = schedulerFromConfig(config);
      scheduler.setTimesteps(steps);
      outputs[`timesteps_${steps}`] = timestepTensor(config, scheduler.timesteps);
      outputs[`init_noise_sigma_${steps}`] = { value: scheduler.initNoiseSigma };
      const sigmas = sigmasOf(scheduler);
      if (sigmas !== undefined) outputs[`sigmas_${steps}`] = sigmaTensor(config, sigmas);
    }
    return outputs;
  },
};

function float32Input(testCase: ManifestCase, context: CaseContext, name: string): Tensor<'float32'> {
  const entry = testCase.inputs?.[name];
  if (!entry) throw new Error(`${testCase.id}: input '${name}' is missing`);
  const tensor = context.readTensor(entry);
  if (tensor.dtype !== 'float32') throw new Error(`${testCase.id}: input '${name}' is ${tensor.dtype}, expected float32`);
  return tensor as Tensor<'float32'>;
}

/** Row `index` of a stacked [T, ...rest] tensor, as a tensor of shape rest (a view, no copy). */
function row(stacked: Tensor<'float32'>, index: number): Tensor<'float32'> {
  const shape = stacked.shape.slice(1);
  const size = stacked.data.length / stacked.shape[0]!;
  return { dtype: 'float32', shape, data: stacked.data.subarray(index * size, (index + 1) * size) };
}

function stack(rows: readonly Tensor<'float32'>[]): Tensor<'float32'> {
  const size = rows[0]?.data.length ?? 0;
  const data = new Float32Array(size * rows.length);
  rows.forEach((tensor, index) => data.set(tensor.data, index * size));
  return { dtype: 'float32', shape: [rows.length, ...(rows[0]?.shape ?? [])], data };
}

const chainKind: CaseKind = {
  kind: 'scheduler_chain',
  async run(testCase, context) {
    const params = paramsOf(testCase);
    const scheduler = schedulerFromConfig(configOf(params));
    scheduler.setTimesteps(Number(params.num_inference_steps));
    const modelOutputs = float32Input(testCase, context, 'model_outputs');
    const noise = testCase.inputs?.noise ? float32Input(testCase, context, 'noise') : undefined;
    let x = float32Input(testCase, context, 'x_init');
    const scaled: Tensor<'float32'>[] = [];
    const previous: Tensor<'float32'>[] = [];
    const predicted: Tensor<'float32'>[] = [];
    scheduler.timesteps.forEach((timestep, index) => {
      scaled.push(scheduler.scaleModelInput(x, timestep));
      const result = scheduler.step(row(modelOutputs, index), timestep, x, {
        stepIndex: index,
        ...(noise ? { noise: row(noise, index) } : {}),
      });
      x = result.prevSample;
      previous.push(result.prevSample);
      if (result.predOriginalSample) predicted.push(result.predOriginalSample);
    });
    const outputs: Record<string, CaseOutput> = { scaled_model_input: stack(scaled), prev_sample: stack(previous) };
    if (predicted.length === previous.length) outputs.pred_original_sample = stack(predicted);
    return outputs;
  },
};

const addNoiseKind: CaseKind = {
  kind: 'scheduler_add_noise',
  async run(testCase, context) {
    const noiser = new DdpmNoiser(noiseScheduleFromDiffusersConfig(paramsOf(testCase).config));
    const original = float32Input(testCase, context, 'original_samples');
    const noise = float32Input(testCase, context, 'noise');
    const timestepEntry = testCase.inputs?.timesteps;
    if (!timestepEntry) throw new Error(`${testCase.id}: input 'timesteps' is missing`);
    const timesteps = Array.from(context.readTensor(timestepEntry).data as BigInt64Array, Number);
    return {
      noisy_samples: noiser.addNoise(original, noise, timesteps),
      alphas_cumprod: { dtype: 'float32', shape: [noiser.alphasCumprod.length], data: noiser.alphasCumprod },
      velocity: noiser.velocity(original, noise, timesteps),
    };
  },
};

export const kinds: CaseKind[] = [timestepsKind, chainKind, addNoiseKind];
