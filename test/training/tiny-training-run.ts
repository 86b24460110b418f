// One small training run on two golden tiny experts, set up the same way in a test and in a child
// process (test/training/scripts/train-until-killed.ts), so both compute the same run: new aggregators
// (seeded), a generated 8-image dataset in `scratch`, the folder encoders and the VAE decoder of the
// samples. Not a test file itself.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import type { Expert } from '../../app/ensemble/lock-step-graph.ts';
import type { ExpertIdentity } from '../../app/ensemble/aggregator-set.ts';
import { noiseScheduleFromDiffusersConfig } from '../../app/schedulers/diffusers-config.ts';
import { scanImageDataset } from '../../app/datasets/image-dataset.ts';
import type { AfaTrainingJobOptions } from '../../app/training/afa-training-job.ts';
import { newAggregatorSet } from '../../app/training/new-aggregator-set.ts';
import { openFolderEncoders, openFolderSampleDecoder, type TrainingEncoders } from '../../app/training/training-encoders.ts';
import type { TrainingSettings } from '../../app/training/training-settings.ts';
import type { LatentDecoder } from '../../app/pipeline/denoiser.ts';
import { goldenAfaDir } from '../ensemble/golden-experts.ts';

export const TINY_RUN_SETTINGS: Partial<TrainingSettings> = Object.freeze({
  resolution: 64,
  steps: 6,
  batchSize: 2,
  microBatch: 2,
  lr: 3e-3,
  seed: 9,
  validationShare: 0.25,
  validationEvery: 3,
  validationTimesteps: [300, 700],
  checkpointEvery: 2,
  keepCheckpoints: 2,
  sampleCount: 1,
  sampleSteps: 2,
});

export const SESSION = Object.freeze({ intraOpThreads: 2 });

const identities: ExpertIdentity[] = [{ sha256: 'd'.repeat(64), name: 'expert1' }, { sha256: 'e'.repeat(64), name: 'expert2' }];

export function tinyExperts(): Expert[] {
  return ['unet', 'additional_unet_0'].map((folder) => openDiffusersComponent(join(goldenAfaDir, folder), parseUnetConfig));
}

export interface TinyRun {
  /** Options of a run in `runDir` (below `scratch`), sharing the cache; add a signal, hooks or a session. */
  job(runDir: string): AfaTrainingJobOptions;
  release(): Promise<void>;
}

/**
 * Opens what a run needs. `scratch` holds `data/` (written by the caller beforehand), `cache/` and the
 * expert folders; `own` is this process's folder for its compiled encoders and decoder.
 */
export async function openTinyRun(scratch: string, expertFolders: readonly string[], own: string): Promise<TinyRun> {
  const experts = tinyExperts();
  const encoders: TrainingEncoders = await openFolderEncoders(expertFolders, join(own, 'encoders'), SESSION);
  const decoder: LatentDecoder & { release(): Promise<void> } = openFolderSampleDecoder(expertFolders[0]!, join(own, 'decoder'), SESSION);
  const dataset = scanImageDataset(join(scratch, 'data'));
  // One set for every run: a new set's weights are made as a graph builder declares them. As small as
  // the golden experts' own aggregators (the official size would make each step ~20 times slower).
  const aggregators = newAggregatorSet(experts, identities, 4, { hiddenSize: 32, numAttentionHeads: 2 });
  const noiseSchedule = noiseScheduleFromDiffusersConfig(JSON.parse(readFileSync(join(goldenAfaDir, 'scheduler', 'scheduler_config.json'), 'utf8')));
  return {
    job: (runDir) => ({
      runDir: join(scratch, runDir),
      cacheDir: join(scratch, 'cache'),
      experts,
      expertIdentities: identities,
      aggregators,
      encoders,
      noiseSchedule,
      dataset,
      settings: TINY_RUN_SETTINGS,
      recompute: 'none',
      session: SESSION,
      skipReference: true,
      sampleDecoder: decoder,
    }),
    release: async () => {
      await encoders.release();
      await decoder.release();
    },
  };
}
