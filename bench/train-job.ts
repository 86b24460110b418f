// Training-job benchmark: a whole run (app/training/afa-training-job.ts) on the golden tiny experts over
// a generated dataset of 24 images at 64² (8² latents), batch 2, 20 steps, a checkpoint every 5 steps:
//   - images per second during training (steps × batch ÷ the step loop's wall time);
//   - the share of the step loop spent outside the training step (forward + backward + AdamW): batch
//     assembly from the cache, random draws, checkpoints — measured with a checkpoint every 5 steps, and
//     derived for the default interval of 100 steps (target ≤ 5 %);
//   - the first run's preparation (encoding 24 images and captions, compiling) and a second run's
//     (the cache answers: nothing is encoded again);
//   - the sample images of a validation (validation-samples.ts, the default 2 prompts × 20 DDIM steps at
//     64²): the first validation's (opening the sampling session) and the later ones', and their share
//     of a run at the default validation interval (100 steps).
// Then the same at SD1.5 size (bench/train-job-sd15.ts; minutes per step): AFA_BENCH_QUICK=1 skips it,
// AFA_BENCH_SCALE=sd15 runs only it.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResult } from './bench-result.ts';
import { openDiffusersComponent } from '../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../app/models/unet-config.ts';
import { loadAggregatorSet } from '../app/ensemble/aggregator-set.ts';
import { noiseScheduleFromDiffusersConfig } from '../app/schedulers/diffusers-config.ts';
import { scanImageDataset } from '../app/datasets/image-dataset.ts';
import { openFolderEncoders, openFolderSampleDecoder } from '../app/training/training-encoders.ts';
import { runAfaTrainingJob, type TrainingEvent } from '../app/training/afa-training-job.ts';
import { goldenAfaDir, goldenExpertFolders, scratchDir } from '../test/ensemble/golden-experts.ts';
import { writeGeneratedDataset } from '../test/datasets/generated-dataset.ts';

export async function benchTrainJob(): Promise<BenchResult[]> {
  const scale = process.env.AFA_BENCH_SCALE;
  const tiny = scale === 'sd15' ? [] : await benchTinyTrainJob();
  if (process.env.AFA_BENCH_QUICK === '1' || scale === 'tiny') return tiny;
  return [...tiny, ...(await (await import('./train-job-sd15.ts')).benchTrainJobSd15())];
}

async function benchTinyTrainJob(): Promise<BenchResult[]> {
  const scratch = scratchDir('afa-bench-train-job-');
  try {
    const folders = goldenExpertFolders(scratch);
    const experts = ['unet', 'additional_unet_0', 'additional_unet_1'].map((folder) => {
      const { config, weights } = openDiffusersComponent(join(goldenAfaDir, folder), parseUnetConfig);
      return { config, weights };
    });
    const encoders = await openFolderEncoders(folders, join(scratch, 'encoders'));
    try {
      const dataset = scanImageDataset(await writeGeneratedDataset(join(scratch, 'data'), 24));
      const decoder = openFolderSampleDecoder(folders[0]!, join(scratch, 'decoder'));
      const run = (dir: string, samples?: { onEvent: (event: TrainingEvent) => void }) =>
        runAfaTrainingJob({
          runDir: join(scratch, dir),
          cacheDir: join(scratch, 'cache'),
          experts,
          expertIdentities: ['a', 'b', 'c'].map((c) => ({ sha256: c.repeat(64) })),
          aggregators: loadAggregatorSet(goldenAfaDir),
          encoders,
          noiseSchedule: noiseScheduleFromDiffusersConfig(JSON.parse(readFileSync(join(goldenAfaDir, 'scheduler', 'scheduler_config.json'), 'utf8'))),
          dataset,
          settings: { resolution: 64, steps: 20, batchSize: 2, validationShare: 0.1, validationEvery: samples ? 10 : 0, checkpointEvery: 5 },
          recompute: 'none',
          skipReference: true,
          ...(samples ? { sampleDecoder: decoder, onEvent: samples.onEvent } : {}),
        });
      const first = await run('first');
      const second = await run('second');
      // Samples at steps 0, 10 and 20; the first validation opens the sampling session.
      const sampleSeconds: number[] = [];
      const sampled = await run('samples', { onEvent: (event) => event.kind === 'validation' && event.samples?.seconds !== undefined && sampleSeconds.push(event.samples.seconds) });
      await decoder.release();
      const [firstSamples, ...laterSamples] = sampleSeconds as [number, ...number[]];
      const perValidation = laterSamples.reduce((a, b) => a + b, 0) / laterSamples.length;
      const sampleStep = sampled.timing.steps / sampled.timing.stepsRun;
      const sampleShare = perValidation / (100 * sampleStep + perValidation);
      const { timing } = second;
      const outside = (timing.loop - timing.steps) / timing.loop;
      // At the default interval (a checkpoint every 100 steps) from the measured parts: per 100 steps,
      // 100 training steps, 100 × the per-step data handling and one checkpoint.
      const stepTime = timing.steps / timing.stepsRun;
      const dataPerStep = (timing.loop - timing.steps - timing.checkpoints) / timing.stepsRun;
      const perCheckpoint = timing.checkpoints / (timing.stepsRun / 5);
      const atDefault = (100 * dataPerStep + perCheckpoint) / (100 * (stepTime + dataPerStep) + perCheckpoint);
      return [
        { name: 'tiny 64², batch 2: images/s during training', value: (timing.stepsRun * timing.imagesPerStep) / timing.loop, unit: 'images/s' },
        { name: 'tiny: share of the step loop outside the training step (checkpoint every 5 steps)', value: outside * 100, unit: '%' },
        { name: 'tiny: of which writing checkpoints', value: (timing.checkpoints / timing.loop) * 100, unit: '%' },
        { name: 'tiny: one checkpoint (weights + AdamW state + state, fsync, rename)', value: perCheckpoint, unit: 's' },
        { name: 'tiny: share outside the training step at the default interval (100 steps)', value: atDefault * 100, unit: '%', target: '≤ 5', pass: atDefault <= 0.05 },
        { name: 'tiny: training step (forward + backward + AdamW)', value: timing.steps / timing.stepsRun, unit: 's/step' },
        { name: 'tiny: first run preparation (encode 24 images + compile)', value: first.timing.prepare, unit: 's' },
        { name: 'tiny: second run preparation (cached; compile only)', value: timing.prepare, unit: 's' },
        { name: 'tiny: images encoded by the second run', value: second.cache.encodedImages, unit: 'images', target: '0', pass: second.cache.encodedImages === 0 },
        { name: 'tiny: samples of the first validation (2 × 20 DDIM steps, opening the sampling session)', value: firstSamples, unit: 's' },
        { name: 'tiny: samples of a later validation (2 × 20 DDIM steps)', value: perValidation, unit: 's' },
        { name: 'tiny: share of the samples in a run validating every 100 steps', value: sampleShare * 100, unit: '%' },
      ];
    } finally {
      await encoders.release();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
