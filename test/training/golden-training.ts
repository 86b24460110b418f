// What the training tests on the three golden tiny experts and their golden aggregators share (64 px
// images → 8×8 latents, 77 tokens): the experts' U-Nets, the golden folder's noise schedule, the experts'
// identities, a compiled training step at a given batch, and the options of a run in a scratch folder
// (each test adds its own settings and hooks). Not a test file itself.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { loadAggregatorSet, type ExpertIdentity } from '../../app/ensemble/aggregator-set.ts';
import type { Expert } from '../../app/ensemble/lock-step-graph.ts';
import type { SessionOptions } from '../../app/runtime/onnx-runtime.ts';
import { noiseScheduleFromDiffusersConfig } from '../../app/schedulers/diffusers-config.ts';
import type { NoiseScheduleConfig } from '../../app/schedulers/scheduler-config.ts';
import type { ImageDataset } from '../../app/datasets/image-dataset.ts';
import { buildAfaTrainingGraph } from '../../app/training/afa-training-graph.ts';
import type { AfaTrainingJobOptions } from '../../app/training/afa-training-job.ts';
import type { TrainingEncoders } from '../../app/training/training-encoders.ts';
import { TrainingSession } from '../../app/training/training-session.ts';
import type { TrainingSettings } from '../../app/training/training-settings.ts';
import { goldenAfaDir } from '../ensemble/golden-experts.ts';

/** Latent size and prompt length of the golden training tests' 64 px images. */
export const GOLDEN_TRAINING_SHAPE = Object.freeze({ height: 8, width: 8, tokens: 77 });

export const GOLDEN_IDENTITIES: readonly ExpertIdentity[] = Object.freeze([
  { sha256: 'a'.repeat(64), name: 'expert1' },
  { sha256: 'b'.repeat(64), name: 'expert2' },
  { sha256: 'c'.repeat(64), name: 'expert3' },
]);

/** The three golden experts' U-Nets (weights read in place). */
export function goldenUnets(): Expert[] {
  return ['unet', 'additional_unet_0', 'additional_unet_1'].map((folder) => openDiffusersComponent(join(goldenAfaDir, folder), parseUnetConfig));
}

/** The DDPM schedule of the golden folder's scheduler_config.json. */
export function goldenNoiseSchedule(): NoiseScheduleConfig {
  return noiseScheduleFromDiffusersConfig(JSON.parse(readFileSync(join(goldenAfaDir, 'scheduler', 'scheduler_config.json'), 'utf8')));
}

/** The training step of the golden aggregators at `batch` images per call, every activation kept, compiled into `dir`. */
export function goldenTrainingSession(experts: readonly Expert[], batch: number, dir: string, session: SessionOptions): Promise<TrainingSession> {
  const built = buildAfaTrainingGraph(experts, loadAggregatorSet(goldenAfaDir), { batch, ...GOLDEN_TRAINING_SHAPE }, { recompute: 'none' });
  return TrainingSession.create(built, { dir, session });
}

export interface GoldenRun {
  /** Runs go to `<scratch>/<runDir>` and share `<scratch>/cache`. */
  readonly scratch: string;
  readonly experts: readonly Expert[];
  readonly encoders: TrainingEncoders;
  readonly dataset: ImageDataset;
  readonly settings: Partial<TrainingSettings>;
  readonly session: SessionOptions;
}

/** A run of the golden aggregators on `run`'s experts, data and settings, in `<scratch>/<runDir>`. */
export function goldenRunOptions(run: GoldenRun, runDir: string): AfaTrainingJobOptions {
  return {
    runDir: join(run.scratch, runDir),
    cacheDir: join(run.scratch, 'cache'),
    experts: run.experts,
    expertIdentities: GOLDEN_IDENTITIES,
    aggregators: loadAggregatorSet(goldenAfaDir),
    encoders: run.encoders,
    noiseSchedule: goldenNoiseSchedule(),
    dataset: run.dataset,
    settings: run.settings,
    session: run.session,
  };
}
