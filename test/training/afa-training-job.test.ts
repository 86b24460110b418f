// A whole training run on the golden tiny experts (64 px images → 8×8 latents, batch 2) over a
// generated 16-image dataset: 30 steps lower the validation loss; a run cancelled at step 10 and resumed
// ends bit-identical to the uninterrupted one; the second run encodes nothing (the cache); the result is
// a studio aggregator set that loads; a NaN loss stops the run naming the step and the learning rate.
// The training graph is compiled once for the file and reused by every run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { join } from 'node:path';
import { loadAggregatorSet } from '../../app/ensemble/aggregator-set.ts';
import type { Expert } from '../../app/ensemble/lock-step-graph.ts';
import type { TrainingSession } from '../../app/training/training-session.ts';
import { openFolderEncoders, type TrainingEncoders } from '../../app/training/training-encoders.ts';
import { runAfaTrainingJob, TrainingDivergedError, type AfaTrainingJobOptions, type AfaTrainingResult } from '../../app/training/afa-training-job.ts';
import { listCheckpoints } from '../../app/training/training-checkpoint.ts';
import { cacheDataset } from '../../app/training/latent-cache.ts';
import { scanImageDataset, type ImageDataset } from '../../app/datasets/image-dataset.ts';
import { isCancelled } from '../../app/common/errors.ts';
import { goldenExpertFolders, scratchDir } from '../ensemble/golden-experts.ts';
import { GOLDEN_IDENTITIES as identities, goldenRunOptions, goldenTrainingSession, goldenUnets } from './golden-training.ts';
import { writeGeneratedDataset } from '../datasets/generated-dataset.ts';

const scratch = scratchDir('afa-train-job-');
let encoders: TrainingEncoders;
let session: TrainingSession;
let experts: Expert[];
let dataset: ImageDataset;
const settings = { resolution: 64, steps: 30, batchSize: 2, microBatch: 2, lr: 1e-3, seed: 7, validationShare: 0.25, validationEvery: 0, checkpointEvery: 5, keepCheckpoints: 2, validationTimesteps: [100, 400, 700] };

before(async () => {
  const folders = goldenExpertFolders(scratch);
  experts = goldenUnets();
  encoders = await openFolderEncoders(folders, join(scratch, 'encoders'), { intraOpThreads: 2 });
  dataset = scanImageDataset(await writeGeneratedDataset(join(scratch, 'data'), 16));
  session = await goldenTrainingSession(experts, 2, join(scratch, 'graph'), { intraOpThreads: 2 });
});

after(async () => {
  await session?.release();
  await encoders?.release();
  rmSync(scratch, { recursive: true, force: true });
});

function job(runDir: string, extra: Partial<AfaTrainingJobOptions> = {}): AfaTrainingJobOptions {
  return { ...goldenRunOptions({ scratch, experts, encoders, dataset, settings, session: { intraOpThreads: 2 } }, runDir), trainingSession: session, ...extra };
}

let uninterrupted: AfaTrainingResult;

test('30 steps on 16 generated images lower the validation loss; the members and the uniform average are measured once', async () => {
  const steps: number[] = [];
  uninterrupted = await runAfaTrainingJob(job('full', { onEvent: (event) => event.kind === 'step' && steps.push(event.step) }));
  assert.equal(uninterrupted.steps, 30);
  assert.deepEqual(steps, Array.from({ length: 30 }, (_, i) => i + 1));
  assert.equal(uninterrupted.validationImages, 4);
  assert.equal(uninterrupted.trainingImages, 12);
  assert.equal(uninterrupted.cache.encodedImages, 16);
  const [first, last] = [uninterrupted.validation[0]!, uninterrupted.validation.at(-1)!];
  assert.deepEqual([first.step, last.step], [0, 30]);
  assert.ok(last.loss < first.loss, `validation loss went from ${first.loss} to ${last.loss}`);
  assert.equal(uninterrupted.reference?.members.length, 3);
  for (const loss of [...uninterrupted.reference!.members, uninterrupted.reference!.uniformAverage]) assert.ok(Number.isFinite(loss) && loss > 0);
  console.log(`validation ε-MSE: AFA ${first.loss} → ${last.loss}; members ${uninterrupted.reference!.members.join(', ')}; uniform ${uninterrupted.reference!.uniformAverage}`);
  assert.deepEqual(listCheckpoints(join(scratch, 'full')), [25, 30], 'the last 2 checkpoints are kept');
  const result = loadAggregatorSet(uninterrupted.aggregatorsDir);
  assert.deepEqual(result.experts, identities);
  assert.equal(result.configs.length, 25);
});

test('cancelled at step 10 and resumed, a run ends bit-identical to the uninterrupted one, without encoding again', async () => {
  const controller = new AbortController();
  await assert.rejects(
    runAfaTrainingJob(job('resumed', { skipReference: true, signal: controller.signal, onEvent: (event) => event.kind === 'step' && event.step === 10 && controller.abort() })),
    (error) => isCancelled(error),
  );
  assert.deepEqual(listCheckpoints(join(scratch, 'resumed')), [5, 10]);
  const resumed = await runAfaTrainingJob(job('resumed', { skipReference: true, settings: undefined }));
  assert.equal(resumed.cache.encodedImages, 0, 'the cached latents are read, not encoded again');
  assert.equal(resumed.cache.encodedCaptions, 0);
  assert.deepEqual(resumed.train, uninterrupted.train);
  assert.deepEqual(resumed.validation, uninterrupted.validation);
  for (const [name, values] of uninterrupted.parameters) assert.deepEqual(resumed.parameters.get(name), values, name);
  assert.deepEqual(readFileSync(join(resumed.aggregatorsDir, 'aggregators.safetensors')), readFileSync(join(uninterrupted.aggregatorsDir, 'aggregators.safetensors')));
});

test('a NaN loss stops the run at that step with its learning rate; the last good checkpoint stays', async () => {
  const runDir = 'diverged';
  await assert.rejects(
    runAfaTrainingJob(job(runDir, { skipReference: true, settings: { ...settings, steps: 4, lr: 1e38, checkpointEvery: 1 } })),
    (error) => error instanceof TrainingDivergedError && /at step \d+ \(learning rate 1e\+38\)/.test(error.message),
  );
  const kept = listCheckpoints(join(scratch, runDir));
  assert.ok(kept.length >= 1, 'a good checkpoint was kept');
});

test('a disk filling while checkpointing leaves the previous checkpoint intact', async () => {
  const runDir = join(scratch, 'disk-full');
  let writes = 0;
  await assert.rejects(
    runAfaTrainingJob(
      job('disk-full', {
        skipReference: true,
        settings: { ...settings, steps: 4, checkpointEvery: 2 },
        beforeCheckpointCommit: () => {
          if (++writes === 2) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        },
      }),
    ),
    (error) => (error as { code?: string }).code === 'disk-full',
  );
  assert.deepEqual(listCheckpoints(runDir), [2]);
  assert.ok(existsSync(join(runDir, 'checkpoints', 'step-00000002', 'optimizer.safetensors')));
});

test('the cache lists corrupt and small images it skips, and refuses a dataset with too many unreadable ones', async () => {
  const dir = join(scratch, 'bad-data');
  await writeGeneratedDataset(dir, 4);
  writeFileSync(join(dir, 'image-00.png'), 'not a png');
  await sharp({ create: { width: 32, height: 32, channels: 3, background: '#808080' } }).png().toFile(join(dir, 'small.png'));
  writeFileSync(join(dir, 'small.txt'), 'grey');
  const items = scanImageDataset(dir).items;
  await assert.rejects(cacheDataset(items, encoders, { dir: join(scratch, 'cache'), resolution: 64, crop: 'center' }), /1 of 5 images could not be read \(more than 10 %\): image-00\.png/);
  const cached = await cacheDataset(items, encoders, { dir: join(scratch, 'cache'), resolution: 64, crop: 'center', small: 'skip', maxFailedShare: 0.5 });
  assert.deepEqual(cached.skipped.map((s) => s.name), ['image-00.png', 'small.png']);
  assert.match(cached.skipped[1]!.reason, /32×32 is smaller than 64/);
  assert.equal(cached.examples.length, 3);
  const upscaled = await cacheDataset(items, encoders, { dir: join(scratch, 'cache'), resolution: 64, crop: 'center', maxFailedShare: 0.5 });
  assert.deepEqual(upscaled.upscaled, ['small.png']);
});
