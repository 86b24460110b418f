// Generations and a training run share the engine (app/pipeline/engine-turns.ts), over the real services
// with two golden tiny experts: a generation enqueued while a run trains never computes during a training
// step — told by the order of the events both send: the run yields (a 'turn' event) before the
// generation's first computing event, no step ends between that event and the generation's end, and the
// run resumes after it — and the interrupted run ends bit-identical to the same run left alone. The same
// while the run prepares (its encoders, its dataset, the compile): preparation works in turns too.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { GenerationProgress, GenerationRequest, TrainingRunInfo, Unsubscribe } from '../../app/api/contract.ts';
import { createStudioServices, type StudioServices } from '../../app/api/services.ts';
import { trainingRunDir } from '../../app/training/studio-training.ts';
import { scratchDir } from '../ensemble/golden-experts.ts';
import { writeGeneratedDataset } from '../datasets/generated-dataset.ts';
import { importTinyExperts } from './tiny-experts.ts';

/** A run or a generation that never ends (a turn nobody gives back) fails the test instead of hanging it. */
const DEADLINE_MS = 10 * 60_000;

let home: string;
/** The run left alone, which the interrupted ones must end bit-identical to. */
let aloneRun: TrainingRunInfo | undefined;
let services: StudioServices;
let data: string;
const modelIds: string[] = [];
const settings = { resolution: 64, steps: 3, batchSize: 2, lr: 1e-3, seed: 11, validationShare: 0, checkpointEvery: 3, sampleCount: 0 };

before(async () => {
  home = scratchDir('afa-api-turns-');
  services = createStudioServices({ home });
  modelIds.push(...(await importTinyExperts(services, home, [1, 2])));
  data = await writeGeneratedDataset(join(home, 'data'), 8);
});

after(async () => {
  await services.dispose();
  rmSync(home, { recursive: true, force: true });
});

function request(): GenerationRequest {
  return { prompt: 'a red square', negativePrompt: '', recipe: { spec: { method: 'single', members: [{ modelId: modelIds[0]! }] } }, sampler: 'ddim', steps: 3, guidance: 7.5, seed: 5, width: 64, height: 64, batchCount: 1 };
}

/** Resolves with the run's info once it has ended. */
function ended(runId: string): Promise<TrainingRunInfo> {
  return new Promise((resolve) => {
    const off = services.training.onDidChange((change) => {
      if (change.runId !== runId || !['done', 'failed', 'cancelled'].includes(change.status)) return;
      off();
      void services.training.get({ id: runId }).then(resolve);
    });
  });
}

/**
 * Puts every generation event on `timeline` ('generation waits', 'generation <phase>', '… done',
 * '… failed: <message>'); `onWait` hears the training run a waiting generation names. The unsubscribers.
 */
function recordGenerations(timeline: string[], onWait: (training: GenerationProgress['training']) => void): Unsubscribe[] {
  return [
    services.generation.onDidProgress((event) => {
      if (event.phase === 'waiting') {
        onWait(event.training);
        timeline.push('generation waits');
      } else timeline.push(`generation ${event.phase}`);
    }),
    services.generation.onDidFinish(() => timeline.push('generation done')),
    services.generation.onDidFail((event) => timeline.push(`generation failed: ${event.error.message}`)),
  ];
}

function result(runId: string): Buffer {
  return readFileSync(join(trainingRunDir(home, runId), 'aggregators', 'aggregators.safetensors'));
}

test('a generation enqueued during a training run runs between its steps, and the run ends as if left alone', { timeout: DEADLINE_MS }, async () => {
  // The engine exists before the runs (its provider chosen), so an enqueue during a run registers at once.
  await new Promise<void>((resolve, reject) => {
    services.generation.onDidFinish(() => resolve());
    services.generation.onDidFail((event) => reject(new Error(event.error.message)));
    void services.generation.enqueue(request());
  });

  const alone = await services.training.start({ memberModelIds: modelIds, dataPath: data, settings, name: 'alone' });
  const aloneInfo = await ended(alone.id);
  aloneRun = aloneInfo;
  assert.equal(aloneInfo.status, 'done', aloneInfo.error ?? '');
  assert.equal(aloneInfo.microBatch, 2, 'the tiny run fits in one call per step');

  // The same run again; at its first step a generation is enqueued. Every event of both goes on one timeline.
  const timeline: string[] = [];
  let generationJob: string | undefined;
  let waitingFor: { name: string; step: number } | undefined;
  let runId = '';
  const offs = [
    services.training.onDidProgress((event) => {
      if (event.runId !== runId) return;
      if (event.kind === 'step') {
        timeline.push(`step ${event.step}`);
        if (event.step === 1) void services.generation.enqueue(request()).then(({ jobId }) => (generationJob = jobId));
      }
      if (event.kind === 'turn') timeline.push(event.yielded ? `yield at ${event.step} for ${event.generations}` : `resume at ${event.step}`);
    }),
    ...recordGenerations(timeline, (training) => (waitingFor = training ? { name: training.name, step: training.step } : undefined)),
  ];
  const interrupted = await services.training.start({ memberModelIds: modelIds, dataPath: data, settings, name: 'interrupted' });
  runId = interrupted.id;
  const interruptedInfo = await ended(interrupted.id);
  for (const off of offs) off();
  console.log(timeline.filter((entry, i) => entry !== timeline[i - 1]).join(' → '));
  assert.equal(interruptedInfo.status, 'done', interruptedInfo.error ?? '');
  assert.ok(generationJob, 'the generation was enqueued');

  const computing = timeline.findIndex((entry) => /^generation (load|encode|denoise|decode)$/.test(entry));
  const finished = timeline.indexOf('generation done');
  const yielded = timeline.findIndex((entry) => entry.startsWith('yield at'));
  const resumed = timeline.findIndex((entry) => entry.startsWith('resume at'));
  assert.ok(computing >= 0 && finished > computing, 'the generation computed and finished');
  assert.ok(yielded >= 0 && yielded < computing, 'the run yielded before the generation computed');
  assert.ok(!timeline.slice(computing, finished).some((entry) => entry.startsWith('step')), 'no training step ended while the generation computed');
  assert.ok(resumed > finished, 'the run resumed after the generation');
  assert.ok(timeline.slice(resumed).some((entry) => entry.startsWith('step')), 'and trained on');
  // The generation waited only when it arrived during a step; then it named the run and its step.
  if (timeline.includes('generation waits')) assert.deepEqual(waitingFor, { name: 'interrupted', step: 1 });

  assert.deepEqual(interruptedInfo.metrics.map((m) => m.loss), aloneInfo.metrics.map((m) => m.loss));
  assert.ok(result(interrupted.id).equals(result(alone.id)), 'the interrupted run\'s aggregators are bit-identical');
});

test('a generation enqueued while a run compiles waits for the compile, then goes before the first step; the run ends as if left alone', { timeout: DEADLINE_MS }, async () => {
  if (!aloneRun) {
    const alone = await services.training.start({ memberModelIds: modelIds, dataPath: data, settings, name: 'alone' });
    aloneRun = await ended(alone.id);
  }
  const timeline: string[] = [];
  let runId = '';
  let enqueued = false;
  let waitingFor: string | undefined;
  const offs = [
    services.training.onDidProgress((event) => {
      if (event.runId !== runId) return;
      if (event.kind === 'prepare') {
        timeline.push(`prepare ${event.phase}`);
        // Said just before the compile asks for its turn: the generation arrives while the compile runs.
        if (event.phase === 'compile' && !enqueued) {
          enqueued = true;
          void services.generation.enqueue(request());
        }
      }
      if (event.kind === 'step') timeline.push(`step ${event.step}`);
      if (event.kind === 'turn') timeline.push(event.yielded ? `yield at ${event.step}` : `resume at ${event.step}`);
    }),
    ...recordGenerations(timeline, (training) => (waitingFor = training?.preparing)),
  ];
  const run = await services.training.start({ memberModelIds: modelIds, dataPath: data, settings, name: 'interrupted while compiling' });
  runId = run.id;
  const info = await ended(run.id);
  for (const off of offs) off();
  console.log(timeline.filter((entry, i) => entry !== timeline[i - 1]).join(' → '));
  assert.equal(info.status, 'done', info.error ?? '');

  const waited = timeline.indexOf('generation waits');
  const computing = timeline.findIndex((entry) => /^generation (load|encode|denoise|decode)$/.test(entry));
  const finished = timeline.indexOf('generation done');
  const yielded = timeline.indexOf('yield at 0');
  const resumed = timeline.indexOf('resume at 0');
  const firstStep = timeline.indexOf('step 1');
  assert.ok(waited >= 0 && waited < computing, 'the generation waited before it computed');
  assert.equal(waitingFor, 'Compiling the training graph', 'and said what the run was doing');
  assert.ok(yielded >= 0 && yielded < computing, 'the compile done, the run yielded before its first step');
  assert.ok(computing >= 0 && finished > computing && finished < firstStep, 'the generation computed and ended before the first step');
  assert.ok(resumed > finished, 'the run went on after the generation');
  assert.deepEqual(info.metrics.map((m) => m.loss), aloneRun.metrics.map((m) => m.loss));
  assert.ok(result(run.id).equals(result(aloneRun.id)), 'its aggregators are bit-identical to the run left alone');
});
