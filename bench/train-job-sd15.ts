// The training-job benchmark at SD1.5 size (bench/train-job.ts runs it after the tiny case; AFA_BENCH_QUICK=1
// skips it, AFA_BENCH_SCALE=sd15 runs only it): a whole run (app/training/afa-training-job.ts) of K = 3
// SD1.5-size U-Nets with synthetic weights (bench/synthetic-ensemble.ts) and the official aggregators
// (hidden 128, 8 heads, 2 layers) at 256² (32² latents), batch 8 as the official recipe, on 16 generated
// images encoded by an SD1.5-size VAE encoder and CLIP text encoder (synthetic weights too):
//   - the micro-batch the run chooses from free memory (planTrainingStep) and its estimate;
//   - images per second during training (steps × batch ÷ the step loop's wall time);
//   - the share of the step loop outside the training step (batch assembly from the cache, random
//     draws, checkpoints of the 45 M aggregator parameters and their AdamW state).
// A step takes minutes on two cores, so the run is short: one compiled training step serves a warm-up
// run of 1 step and the measured run of 3 steps with a checkpoint after every step; the share at the
// default interval (a checkpoint every 100 steps) is derived from the measured parts. No validation
// split (its forward passes and sample images are validation time, not the loop's).
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResult } from './bench-result.ts';
import { syntheticAggregators, syntheticExpert } from './synthetic-ensemble.ts';
import { machineBusySeconds, peakRssBytes } from './process-stats.ts';
import { SD15_AGGREGATOR_DEFAULTS } from '../app/ensemble/aggregator-config.ts';
import { compileComponent } from '../app/models/compile-component.ts';
import { SD15_UNET_CONFIG } from '../app/models/unet-config.ts';
import { SD15_VAE_CONFIG } from '../app/models/vae-config.ts';
import { SD15_TEXT_ENCODER_CONFIG } from '../app/models/clip-text-config.ts';
import { plausibleWeight, SyntheticWeights } from '../app/models/synthetic-weights.ts';
import { ClipTokenizer } from '../app/tokenizer/clip-tokenizer.ts';
import { noiseScheduleFromDiffusersConfig } from '../app/schedulers/diffusers-config.ts';
import { scanImageDataset } from '../app/datasets/image-dataset.ts';
import type { TrainingEncoders } from '../app/training/training-encoders.ts';
import { planAfaTrainingStep } from '../app/training/afa-training-graph.ts';
import { TrainingSession } from '../app/training/training-session.ts';
import { runAfaTrainingJob } from '../app/training/afa-training-job.ts';
import { sizeOf, type Tensor } from '../app/tensor/tensor.ts';
import { frozenWeightBytes, PARAMETER_STATE_BYTES } from '../app/training/training-graph.ts';
import { scratchDir } from '../test/ensemble/golden-experts.ts';
import { writeGeneratedDataset } from '../test/datasets/generated-dataset.ts';

const K = 3;
const BATCH = 8;
const RESOLUTION = 256;
const IMAGES = 16;
const MEASURED_STEPS = 3;
const GiB = 2 ** 30;

/** SD1.5-size VAE encoder and CLIP text encoder with synthetic weights; every expert shares the text encoder. */
async function syntheticEncoders(dir: string): Promise<TrainingEncoders> {
  const vae = await compileComponent({ kind: 'vae-encoder', config: SD15_VAE_CONFIG, weights: new SyntheticWeights((name, shape) => plausibleWeight(name, shape, 50), 'synthetic VAE') }, join(dir, 'vae-encoder'));
  const text = await compileComponent({ kind: 'text-encoder', config: SD15_TEXT_ENCODER_CONFIG, weights: new SyntheticWeights((name, shape) => plausibleWeight(name, shape, 60), 'synthetic CLIP') }, join(dir, 'text-encoder'));
  const tokenizer = ClipTokenizer.default();
  const float32 = (tensor: Tensor | undefined): Tensor<'float32'> => tensor as Tensor<'float32'>;
  return {
    modelKey: 'bench-sd15-synthetic',
    scalingFactor: SD15_VAE_CONFIG.scaling_factor,
    captionShape: [K, 77, SD15_TEXT_ENCODER_CONFIG.hidden_size],
    async encodeImage(pixels) {
      const { mean, std } = await vae.session('vae_encoder').run({ image: pixels });
      return { mean: float32(mean).data, std: float32(std).data, shape: float32(mean).shape.slice(1) };
    },
    async encodeCaption(caption) {
      const hidden = float32((await text.session('text_encoder').run({ input_ids: tokenizer.encodeBatch([caption]) })).last_hidden_state).data;
      const stacked = new Float32Array(K * hidden.length);
      for (let k = 0; k < K; k++) stacked.set(hidden, k * hidden.length);
      return stacked;
    },
    release: async () => {
      await Promise.all([vae.release(), text.release()]);
    },
  };
}

export async function benchTrainJobSd15(): Promise<BenchResult[]> {
  const scratch = scratchDir('afa-bench-train-job-sd15-');
  try {
    const experts = Array.from({ length: K }, (_, k) => syntheticExpert(SD15_UNET_CONFIG, k));
    const aggregators = syntheticAggregators(SD15_UNET_CONFIG, SD15_AGGREGATOR_DEFAULTS, K);
    const encoders = await syntheticEncoders(join(scratch, 'encoders'));
    const dataset = scanImageDataset(await writeGeneratedDataset(join(scratch, 'data'), IMAGES, RESOLUTION));
    const latent = RESOLUTION / 8;
    const planStarted = performance.now();
    const plan = planAfaTrainingStep(experts, aggregators, { batchSize: BATCH, height: latent, width: latent, tokens: 77 }, { recompute: 'auto' });
    const planSeconds = (performance.now() - planStarted) / 1000;
    const graphDir = join(scratch, 'graph');
    mkdirSync(graphDir, { recursive: true });
    const compileStarted = performance.now();
    const session = await TrainingSession.create(plan.graph, { dir: graphDir });
    const compileSeconds = (performance.now() - compileStarted) / 1000;
    try {
      const noiseSchedule = noiseScheduleFromDiffusersConfig({ num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear' });
      const run = (dir: string, steps: number) =>
        runAfaTrainingJob({
          runDir: join(scratch, dir),
          cacheDir: join(scratch, 'cache'),
          experts,
          expertIdentities: ['a', 'b', 'c'].map((c) => ({ sha256: c.repeat(64) })),
          aggregators,
          encoders,
          noiseSchedule,
          dataset,
          settings: { resolution: RESOLUTION, steps, batchSize: BATCH, validationShare: 0, validationEvery: 0, checkpointEvery: 1, sampleCount: 0 },
          skipReference: true,
          trainingSession: session,
        });
      const warm = await run('warm-up', 1);
      const busyBefore = machineBusySeconds();
      const cpuBefore = process.cpuUsage();
      const measured = await run('measured', MEASURED_STEPS);
      const busy = busyBefore === undefined ? undefined : machineBusySeconds()! - busyBefore;
      const cpu = process.cpuUsage(cpuBefore);
      const { timing } = measured;
      const stepTime = timing.steps / timing.stepsRun;
      const dataPerStep = (timing.loop - timing.steps - timing.checkpoints) / timing.stepsRun;
      const perCheckpoint = timing.checkpoints / timing.stepsRun;
      const outside = (timing.loop - timing.steps) / timing.loop;
      const atDefault = (100 * dataPerStep + perCheckpoint) / (100 * (stepTime + dataPerStep) + perCheckpoint);
      const wall = timing.loop + timing.prepare;
      const own = (cpu.user + cpu.system) / 1e6;
      return [
        { name: `SD1.5 K=${K} 256², batch ${BATCH}: micro-batch chosen from free memory`, value: plan.microBatch, unit: 'images' },
        ...(plan.estimate
          ? [
              { name: 'SD1.5: estimated step activations per image (planTrainingStep)', value: plan.estimate.perSampleBytes / GiB, unit: 'GiB' },
              { name: 'SD1.5: activation budget (free memory less weights, parameter state, 1 GiB)', value: plan.estimate.budgetBytes / GiB, unit: 'GiB' },
            ]
          : []),
        { name: `SD1.5: training graph recomputation`, value: plan.graph.recompute === 'points' ? 1 : 0, unit: '1 = per point' },
        { name: 'SD1.5: planning (graph builds at batch 1 and at the micro-batch)', value: planSeconds, unit: 's' },
        { name: 'SD1.5: compiling the training step (save + session)', value: compileSeconds, unit: 's' },
        { name: 'SD1.5: warm-up run preparation (encode 16 images at 256² + 16 captions)', value: warm.timing.prepare, unit: 's' },
        { name: `SD1.5: images/s during training (${MEASURED_STEPS} steps after a warm-up step)`, value: (timing.stepsRun * timing.imagesPerStep) / timing.loop, unit: 'images/s' },
        { name: 'SD1.5: training step (forward + backward + AdamW, all micro-batches)', value: stepTime, unit: 's/step' },
        { name: 'SD1.5: share of the step loop outside the training step (checkpoint every step)', value: outside * 100, unit: '%' },
        { name: 'SD1.5: data handling per step (batch assembly, random draws)', value: dataPerStep, unit: 's' },
        { name: 'SD1.5: one checkpoint (45 M parameters + AdamW state)', value: perCheckpoint, unit: 's' },
        { name: 'SD1.5: share outside the training step at the default interval (100 steps)', value: atDefault * 100, unit: '%', target: '≤ 5', pass: atDefault <= 0.05 },
        { name: 'SD1.5: peak RSS of the bench process', value: peakRssBytes() / GiB, unit: 'GiB' },
        ...(plan.estimate
          ? (() => {
              // What the step's activations really took, against planTrainingStep's estimate: the peak less
              // what the plan counts apart (the experts' weights, filter copies, the parameters' host state)
              // and the encoders this bench keeps loaded (their weights files); Node's own memory remains.
              const parameters = plan.graph.parameters.reduce((n, parameter) => n + sizeOf(parameter.source.shape), 0);
              const encoderBytes = readdirSync(join(scratch, 'encoders'), { recursive: true, withFileTypes: true })
                .filter((entry) => entry.isFile() && entry.name.endsWith('.weights'))
                .reduce((sum, entry) => sum + statSync(join(entry.parentPath, entry.name)).size, 0);
              const apart = frozenWeightBytes(plan.graph.graph) + plan.graph.stats.filterCopyBytes + PARAMETER_STATE_BYTES * parameters + encoderBytes;
              const activations = peakRssBytes() - apart;
              const estimated = plan.microBatch * plan.estimate.perSampleBytes;
              return [
                { name: 'SD1.5: peak RSS less weights, filter copies, parameter state and encoders', value: activations / GiB, unit: `GiB (estimated ${(estimated / GiB).toFixed(2)} GiB for the micro-batch)` },
                { name: 'SD1.5: that ÷ the estimate', value: activations / estimated, unit: 'ratio (≤ 1: the plan was not low)' },
              ];
            })()
          : []),
        ...(busy === undefined ? [] : [{ name: 'SD1.5: other processes\' share of the CPU during the measured run', value: Math.max(0, (busy - own) / busy) * 100, unit: '%' }]),
        { name: 'SD1.5: measured run wall time', value: wall, unit: 's' },
      ];
    } finally {
      await session.release();
      await encoders.release();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
