// `npm run demo:train`: the demo pack from nothing. The family's stages (train-family.ts), then the
// aggregators, trained by the studio's own training job exactly as a person would train theirs: the
// experts are written as a pack without aggregators, installed into a fresh studio home (the normal
// importer), a dataset folder of generated scenes is written, and a training run over the installed
// experts produces the aggregator set. The final pack has everything plus a record of how it was made.
// Every step is resumable: rerunning the command continues where it stopped.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.ts';
import type { JobControl } from '../common/progress.ts';
import { Library } from '../library/library.ts';
import { SafetensorsFile } from '../tensor/safetensors.ts';
import { STUDIO_AGGREGATOR_WEIGHTS } from '../ensemble/aggregator-set.ts';
import { createTrainingRun, listTrainingRuns, runTraining } from '../training/studio-training.ts';
import type { TrainingEvent } from '../training/afa-training-job.ts';
import type { JsonValue } from '../images/generation-settings.ts';
import { installDemoPack } from './demo-install.ts';
import { DEMO_PACK_MANIFEST, writeDemoPack, type DemoPackContents, type DemoPackRecipe } from './demo-pack.ts';
import { DEMO_AGGREGATOR_SIZES, DEMO_IMAGE_SIZE, DEMO_SCHEDULER_CONFIG, DEMO_UNET_CONFIG, type FamilyRecipe } from './family-config.ts';
import { trainFamily } from './train-family.ts';
import type { StageProgress, StageRecord } from './train-stage.ts';
import { DEMO_DOMAINS } from './scenes.ts';
import { writeSceneDataset } from './scene-dataset.ts';

export const DEMO_EXPERT_NAMES: Readonly<Record<string, string>> = {
  'plain-warm': 'Warm plain scenes',
  textures: 'Textured backgrounds',
  'small-objects': 'Small objects',
};

/**
 * What the studio opens on: a scene every expert has seen parts of, that none was specialised on (a warm
 * colour on stripes). Chosen by the scene checker over the pack built by FULL_RECIPE, seeds 1–8 each:
 * this one drew the whole scene right 8 of 8 times. The previous prompt, the same with an orange circle,
 * 2 of 8 over this pack (colour right 8 of 8, the circle's outline 2 of 8); the 17 captions tried,
 * 0–8 of 8, with shape the attribute most often wrong. test/demo/shipped-pack.test.ts holds the pack to it.
 */
export const DEMO_RECIPE: DemoPackRecipe = Object.freeze({
  name: 'Demo ensemble (AFA)',
  method: 'afa',
  prompt: 'a large red square in the centre, blue background with vertical stripes',
  negativePrompt: '',
  sampler: 'ddim',
  steps: 25,
  guidance: 4,
  width: DEMO_IMAGE_SIZE,
  height: DEMO_IMAGE_SIZE,
  seed: 1,
});

/**
 * The experts' pack, the studio home with its aggregator run and the aggregators' dataset are made once
 * per build and reused when the build is resumed, so they must come from this family and this recipe:
 * the experts' pack records the stages it was written from (their identities and loss curves) and the
 * recipe, and anything left from another build is refused by name instead of training the aggregators
 * over the wrong experts.
 */
function assertSameFamily(stagePack: string, after: readonly string[], recipe: FamilyRecipe, records: readonly StageRecord[]): void {
  const manifest = join(stagePack, DEMO_PACK_MANIFEST);
  const hint = `Delete ${[stagePack, ...after].join(', ')} to train the aggregators again over this family, or build into a new work folder.`;
  if (!existsSync(manifest)) {
    const left = after.filter((path) => existsSync(path));
    if (left.length > 0) throw new UserError('conflict', `${left.join(' and ')} ${left.length > 1 ? 'were' : 'was'} left by another build: the experts' pack they were made from is gone.`, hint);
    return;
  }
  const training = (JSON.parse(readFileSync(manifest, 'utf8')) as { training?: { recipe?: unknown; stages?: readonly StageRecord[] } }).training;
  const key = (stages: readonly StageRecord[] | undefined) => JSON.stringify((stages ?? []).map((record) => ({ stage: record.stage, identity: record.identity ?? null, losses: record.losses })));
  const differing = [
    ...(JSON.stringify(training?.recipe) === JSON.stringify(recipe) ? [] : ['the recipe']),
    ...(key(training?.stages) === key(records) ? [] : ['the trained stages']),
  ];
  if (differing.length > 0) throw new UserError('conflict', `The experts' pack in ${stagePack} was written by another build: ${differing.join(' and ')} differ from this one's.`, hint);
}

export interface BuildDemoPackOptions extends JobControl {
  readonly workDir: string;
  readonly outDir: string;
  readonly recipe: FamilyRecipe;
  /** The exact command line, recorded in the manifest. */
  readonly command: string;
  readonly onStage?: (progress: StageProgress) => void;
  readonly onTrainingEvent?: (event: TrainingEvent) => void;
  readonly log?: (line: string) => void;
}

export async function buildDemoPack(options: BuildDemoPackOptions): Promise<{ readonly seconds: number; readonly training: JsonValue }> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const family = await trainFamily({ workDir: options.workDir, recipe: options.recipe, onStage: options.onStage, log, signal: options.signal });
  const base: Omit<DemoPackContents, 'training'> = {
    name: 'AFA Studio demo family',
    description: 'Three small experts fine-tuned from one base on procedural scenes, and AFA aggregators over them; trained by the studio itself (npm run demo:train).',
    textEncoder: { config: family.textEncoder.config as Record<string, JsonValue>, weights: family.textEncoder.weights },
    vae: { config: family.vae.config as Record<string, JsonValue>, weights: family.vae.weights },
    scheduler: { ...DEMO_SCHEDULER_CONFIG },
    experts: family.experts.map((expert) => ({
      id: expert.domain,
      name: DEMO_EXPERT_NAMES[expert.domain] ?? expert.domain,
      description: DEMO_DOMAINS.find((domain) => domain.name === expert.domain)!.description,
      unetConfig: { ...DEMO_UNET_CONFIG } as unknown as Record<string, JsonValue>,
      weights: expert.weights,
    })),
    recipe: DEMO_RECIPE,
  };

  // The aggregators, by the studio's own training job over the installed experts.
  const stagePack = join(options.workDir, 'pack-experts');
  const familyRecord = { command: options.command, recipe: options.recipe, stages: family.records } as unknown as JsonValue;
  const home = join(options.workDir, 'home');
  const dataset = join(options.workDir, 'aggregator-dataset');
  assertSameFamily(stagePack, [home, dataset], options.recipe, family.records);
  if (!existsSync(join(stagePack, DEMO_PACK_MANIFEST))) await writeDemoPack(stagePack, { ...base, training: familyRecord }, { signal: options.signal });
  const installed = await installDemoPack(home, stagePack, { signal: options.signal });
  if (!existsSync(dataset)) await writeSceneDataset(dataset, { split: 'train', count: options.recipe.aggregators.datasetSize, seed: options.recipe.seed + 7, size: DEMO_IMAGE_SIZE }, { signal: options.signal });
  const stage = options.recipe.aggregators;
  const settings = {
    resolution: DEMO_IMAGE_SIZE,
    steps: stage.steps,
    batchSize: stage.batch,
    microBatch: stage.batch,
    lr: stage.lr,
    schedule: 'cosine' as const,
    warmupSteps: stage.warmupSteps,
    maxGradNorm: 1,
    seed: options.recipe.seed,
    validationEvery: Math.max(1, Math.floor(stage.steps / 4)),
    checkpointEvery: Math.max(1, Math.floor(stage.steps / 4)),
    aggregatorSize: DEMO_AGGREGATOR_SIZES,
  };
  const models = installed.models.map((model) => model.modelId);
  let run = listTrainingRuns(home).find((row) => row.name === 'demo aggregators');
  if (!run) run = createTrainingRun(home, { models, dataset: { kind: 'folder', path: dataset }, settings, name: 'demo aggregators' });
  if (run.status !== 'done') run = (await runTraining(home, run.id, { signal: options.signal, onEvent: options.onTrainingEvent })).run;
  const library = Library.open({ home });
  let aggregatorsPath: string;
  try {
    aggregatorsPath = library.aggregators.get(run.aggregatorId!)!.path;
  } finally {
    library.close();
  }
  // Training time as recorded by each stage and by the aggregators' run (its first start to its end), so
  // a build resumed over several invocations still states what it took rather than its last invocation.
  const aggregatorSeconds = run.startedAt !== null && run.finishedAt !== null ? Math.round((run.finishedAt - run.startedAt) / 1000) : 0;
  const training = {
    command: options.command,
    recipe: options.recipe,
    stages: family.records,
    aggregators: { settings, datasetSize: options.recipe.aggregators.datasetSize, datasetSeed: options.recipe.seed + 7, metrics: run.metrics, experts: models, seconds: aggregatorSeconds },
    seconds: family.records.reduce((sum, record) => sum + record.seconds, 0) + aggregatorSeconds,
  } as unknown as JsonValue;
  await writeDemoPack(options.outDir, {
    ...base,
    aggregators: { config: DEMO_AGGREGATOR_SIZES, weights: SafetensorsFile.open(join(aggregatorsPath, STUDIO_AGGREGATOR_WEIGHTS)), experts: family.experts.map((expert) => expert.domain) },
    training,
  }, { signal: options.signal });
  return { seconds: Math.round((performance.now() - started) / 1000), training };
}
