import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError, UserError } from '../../app/common/errors.ts';
import { studioPaths } from '../../app/common/paths.ts';
import { storedModelFiles } from '../../app/checkpoints/model-store.ts';
import { readImageSettings } from '../../app/images/metadata.ts';
import { decodePng } from '../../app/images/png.ts';
import type { Library } from '../../app/library/library.ts';
import { GenerationEngine, type GenerationJobRequest, type GenerationProgressEvent, type JobOutcome } from '../../app/pipeline/generation-engine.ts';
import { inputOfRecord, targetOfSnapshot } from '../../app/pipeline/generation-record.ts';
import type { GenerationTarget } from '../../app/pipeline/generation-target.ts';
import { resolveStoredModel } from '../../app/pipeline/stored-model-target.ts';
import { filesUnder, tinyStudio } from './tiny-model.ts';

function engineFor(t: { after(fn: () => Promise<void> | void): void }, library: Library, previewEvery = 0): GenerationEngine {
  const engine = new GenerationEngine({ library, previewEvery });
  t.after(() => engine.dispose());
  return engine;
}

function done(outcome: JobOutcome) {
  if (outcome.status !== 'done') assert.fail(`the job ended ${outcome.status}${outcome.status === 'failed' ? `: ${outcome.error.message}` : ''}`);
  return outcome.generations;
}

function pixels(library: Library, imagePath: string | null): Uint8Array {
  return decodePng(readFileSync(library.absolutePath(imagePath!))).data;
}

const small = (overrides: Partial<GenerationJobRequest['settings']> = {}): GenerationJobRequest['settings'] => ({
  prompt: 'a photo of a cat sitting on a red sofa',
  negativePrompt: 'blurry',
  width: 64,
  height: 64,
  steps: 3,
  ...overrides,
});

test('a job saves the PNG, its thumbnail and a history row; the PNG’s settings make the same pixels again', async (t) => {
  const { library, model } = await tinyStudio(t);
  const engine = engineFor(t, library);
  const target: GenerationTarget = { kind: 'model', modelId: model.id };
  const events: GenerationProgressEvent[] = [];
  engine.onDidProgress((event) => events.push(event));
  // euler-a draws fresh noise at every step: reproducing it checks the per-step noise streams too.
  const job = engine.enqueue({ settings: small({ seed: 99, sampler: 'euler-a', guidance: 5 }), target });
  const [row] = done(await job.settled);
  assert.ok(row);
  assert.equal(row.status, 'done');
  assert.equal(row.settings.seed, 99);
  assert.equal(row.settings.sampler, 'euler-a');
  assert.deepEqual(row.settings.recipe.members, [{ modelId: model.id, shortHash: model.shortHash, name: model.name }]);
  assert.equal(row.timings?.stepMs.length, 3);
  assert.deepEqual(
    events.map((event) => `${event.phase} ${event.step}/${event.total}${event.models ? ` models ${event.models.done}/${event.models.total}` : ''}`),
    [
      // The text encoder, the U-Net and the VAE decoder load first, as a phase of their own.
      'load 0/3 models 0/3', 'load 0/3 models 1/3', 'load 0/3 models 2/3', 'load 0/3 models 3/3',
      'encode 0/3', 'denoise 1/3', 'denoise 2/3', 'denoise 3/3', 'decode 3/3',
    ],
  );
  assert.equal(events.at(-2)?.etaMs, 0);
  const image = decodePng(readFileSync(library.absolutePath(row.imagePath!)));
  assert.deepEqual([image.width, image.height], [64, 64]);
  assert.ok(filesUnder(studioPaths(library.home).thumbnails).length === 1);

  const recorded = readImageSettings(library.absolutePath(row.imagePath!));
  assert.equal(recorded?.source, 'afa-studio');
  events.length = 0;
  const again = engine.enqueue({ settings: inputOfRecord(recorded!.settings!), target: targetOfSnapshot(recorded!.settings!.recipe) });
  const [copy] = done(await again.settled);
  assert.equal(events[0]?.phase, 'encode', 'models already loaded: no load phase');
  assert.deepEqual(pixels(library, copy!.imagePath), image.data, 'bit-identical pixels from the PNG’s settings');
});

test('the same seed gives bit-identical images, another seed another image; image i of a batch uses seed + i', async (t) => {
  const { library, model } = await tinyStudio(t);
  const engine = engineFor(t, library);
  const target: GenerationTarget = { kind: 'model', modelId: model.id };
  const batch = done(await engine.enqueue({ settings: small({ seed: 5, batchCount: 2 }), target }).settled);
  assert.deepEqual(batch.map((row) => [row.settings.seed, row.settings.batchIndex]), [[5, 0], [6, 1]]);
  const [alone] = done(await engine.enqueue({ settings: small({ seed: 6 }), target }).settled);
  assert.deepEqual(pixels(library, alone!.imagePath), pixels(library, batch[1]!.imagePath));
  assert.notDeepEqual(pixels(library, batch[0]!.imagePath), pixels(library, batch[1]!.imagePath));
  // Guidance ≤ 1 encodes only the prompt and runs the U-Net on batch 1 (diffusers' do_classifier_free_guidance).
  const [unguided] = done(await engine.enqueue({ settings: small({ seed: 6, guidance: 1 }), target }).settled);
  assert.notDeepEqual(pixels(library, unguided!.imagePath), pixels(library, alone!.imagePath));
});

test('cancelling mid-run stops before the next step and writes nothing', async (t) => {
  const { home, library, model } = await tinyStudio(t);
  const engine = engineFor(t, library);
  const steps: number[] = [];
  const job = engine.enqueue({ settings: small({ steps: 50 }), target: { kind: 'model', modelId: model.id } });
  engine.onDidProgress((event) => {
    if (event.phase !== 'denoise') return;
    steps.push(event.step);
    if (event.step === 2) engine.cancel(job.jobId);
  });
  const outcome = await job.settled;
  assert.equal(outcome.status, 'cancelled');
  assert.deepEqual(steps, [1, 2]);
  const paths = studioPaths(home);
  assert.deepEqual([...filesUnder(paths.images), ...filesUnder(paths.thumbnails), ...filesUnder(paths.temp)], []);
  assert.equal(library.generations.count({ status: ['done', 'failed', 'cancelled', 'queued', 'running'] }), 0);
});

test('cancelling a batch keeps the images finished before the cancel and nothing of the one in progress', async (t) => {
  const { home, library, model } = await tinyStudio(t);
  const engine = engineFor(t, library);
  const failures: boolean[] = [];
  engine.onDidFail((event) => failures.push(event.cancelled));
  const job = engine.enqueue({ settings: small({ seed: 1, batchCount: 3 }), target: { kind: 'model', modelId: model.id } });
  engine.onDidProgress((event) => {
    if (event.imageIndex === 1 && event.step === 1 && event.phase === 'denoise') engine.cancel(job.jobId);
  });
  const outcome = await job.settled;
  assert.equal(outcome.status, 'cancelled');
  assert.deepEqual(outcome.generations.map((row) => row.settings.seed), [1]);
  assert.deepEqual(failures, [true]);
  assert.equal(filesUnder(studioPaths(home).images).length, 1);
  assert.equal(library.generations.count(), 1);
});

test('jobs run one at a time in queue order; waiting jobs can be reordered and removed', async (t) => {
  const { library, model } = await tinyStudio(t);
  const engine = engineFor(t, library);
  const target: GenerationTarget = { kind: 'model', modelId: model.id };
  const log: string[] = [];
  const names = new Map<string, string>();
  engine.onDidStart(({ jobId }) => log.push(`start ${names.get(jobId)}`));
  engine.onDidFinish(({ jobId }) => log.push(`finish ${names.get(jobId)}`));
  engine.onDidFail(({ jobId, cancelled }) => log.push(`${cancelled ? 'cancel' : 'fail'} ${names.get(jobId)}`));
  let runningSeen = '';
  engine.onDidProgress((event) => {
    const [running] = engine.queue();
    if (event.phase === 'denoise' && event.step === 1) runningSeen = `${names.get(running!.id)} ${running!.status} ${running!.step}/${running!.totalSteps}`;
  });
  const jobs = ['A', 'B', 'C', 'D'].map((name, index) => {
    const job = engine.enqueue({ settings: small({ seed: index, steps: 2 }), target, label: name });
    names.set(job.jobId, name);
    return job;
  });
  assert.deepEqual(engine.queue().map((job) => `${job.label}:${job.status}`), ['A:queued', 'B:queued', 'C:queued', 'D:queued']);
  assert.equal(engine.reorder(jobs[3]!.jobId, 0), true);
  assert.equal(engine.remove(jobs[1]!.jobId), true);
  assert.deepEqual(engine.queue().map((job) => job.label), ['D', 'A', 'C']);
  assert.equal((await jobs[1]!.settled).status, 'cancelled');
  await engine.whenIdle();
  assert.deepEqual(log, ['cancel B', 'start D', 'finish D', 'start A', 'finish A', 'start C', 'finish C']);
  assert.equal(runningSeen, 'C running 1/2');
  assert.deepEqual(engine.queue(), []);
  assert.equal(engine.cancel(jobs[0]!.jobId), false, 'a finished job is no longer in the queue');
});

test('an engine failure is recorded as a failed row with its error; an unknown model only fails the job', async (t) => {
  const { home, library, model } = await tinyStudio(t);
  const engine = engineFor(t, library);
  const unknown = await engine.enqueue({ settings: small(), target: { kind: 'model', modelId: 'f'.repeat(64) } }).settled;
  assert.equal(unknown.status, 'failed');
  assert.ok(unknown.status === 'failed' && unknown.error instanceof UserError && unknown.error.code === 'not-found', 'a UserError naming the model');
  assert.equal(library.generations.count({ status: 'failed' }), 0);

  writeFileSync(storedModelFiles(home, model).unet, 'this is not an ONNX model');
  const broken = await engine.enqueue({ settings: small({ seed: 3 }), target: { kind: 'model', modelId: model.id } }).settled;
  assert.equal(broken.status, 'failed');
  assert.ok(broken.status === 'failed' && broken.error instanceof EngineError, 'an EngineError from onnxruntime');
  const [row] = library.generations.list({ status: 'failed' }).items;
  assert.equal(row?.settings.seed, 3);
  assert.match(row?.error ?? '', /unet\.onnx cannot be read/);
  assert.equal(row?.imagePath, null);
  assert.deepEqual(filesUnder(studioPaths(home).images), []);
});

test('a registered resolver plugs another kind of target (an ensemble recipe) into the same loop and history', async (t) => {
  const { library, model } = await tinyStudio(t);
  const engine = engineFor(t, library);
  const recipe = { version: 1, name: 'Just expert 1', method: 'single', members: [{ modelId: model.id }] };
  const target: GenerationTarget = { kind: 'recipe', recipe, recipeId: 'rcp_1' };
  assert.throws(() => engine.enqueue({ settings: small(), target }), (error: unknown) => error instanceof UserError && error.code === 'unsupported');
  engine.registerTarget('recipe', async (given, context) => {
    const document = (given as { recipe: typeof recipe }).recipe;
    const single = await resolveStoredModel(document.members[0]!.modelId, context);
    return { ...single, snapshot: { ...single.snapshot, recipeId: 'rcp_1', name: document.name, document } };
  });
  const [row] = done(await engine.enqueue({ settings: small({ seed: 11 }), target }).settled);
  assert.equal(row?.settings.recipe.name, 'Just expert 1');
  assert.deepEqual(targetOfSnapshot(row!.settings.recipe), target);
  const [direct] = done(await engine.enqueue({ settings: small({ seed: 11 }), target: { kind: 'model', modelId: model.id } }).settled);
  assert.deepEqual(pixels(library, row!.imagePath), pixels(library, direct!.imagePath));
});

test('previews arrive every N steps and at the last one, as small PNG data URLs of the latents', async (t) => {
  const { library, model } = await tinyStudio(t);
  const engine = engineFor(t, library, 2);
  const previews: [number, string][] = [];
  engine.onDidProgress((event) => {
    if (event.preview) previews.push([event.step, event.preview]);
  });
  done(await engine.enqueue({ settings: small({ steps: 5 }), target: { kind: 'model', modelId: model.id } }).settled);
  assert.deepEqual(previews.map(([step]) => step), [2, 4, 5]);
  const [, url] = previews[0]!;
  assert.ok(url.startsWith('data:image/png;base64,'));
  const preview = decodePng(Buffer.from(url.slice('data:image/png;base64,'.length), 'base64'));
  assert.deepEqual([preview.width, preview.height], [8, 8], '1/8 of the image: one pixel per latent');
});

test('a job the machine cannot hold is refused at enqueue, with the estimate and the size that fits', async (t) => {
  const { library, model } = await tinyStudio(t);
  const engine = new GenerationEngine({ library, memoryBudgetBytes: 512 * 1024 ** 2 });
  t.after(() => engine.dispose());
  const target: GenerationTarget = { kind: 'model', modelId: model.id };
  assert.throws(
    () => engine.enqueue({ settings: small({ width: 2048, height: 1024, steps: 500, batchCount: 64 }), target }),
    (error: unknown) =>
      error instanceof UserError &&
      error.code === 'invalid-argument' &&
      /^A 2048×1024 image needs about [\d.]+ GiB of memory \(.*\); the studio may use 512 MiB on this machine\. Lower the width and height to \d+×\d+ or less\./.test(error.message),
  );
  assert.deepEqual(engine.queue(), []);
  // Small enough: accepted and run.
  done(await engine.enqueue({ settings: small(), target }).settled);
});

test('prepare loads a target’s models while the engine is idle, so its job starts without a load phase; it never throws', async (t) => {
  const { library, model } = await tinyStudio(t);
  const engine = engineFor(t, library);
  const target: GenerationTarget = { kind: 'model', modelId: model.id };
  assert.equal(await engine.prepare({ kind: 'model', modelId: 'f'.repeat(64) }), false, 'an unknown model: not ready, no error');
  assert.equal(await engine.prepare(target), true);
  assert.equal(engine.runtime.sessions.keys().length, 3, 'text encoder, U-Net, VAE decoder');
  const phases: string[] = [];
  engine.onDidProgress((event) => phases.push(event.phase));
  done(await engine.enqueue({ settings: small(), target }).settled);
  assert.equal(phases[0], 'encode');

  await engine.runtime.sessions.clear();
  const job = engine.enqueue({ settings: small(), target });
  assert.equal(await engine.prepare(target), false, 'a job waits: the inference thread is its');
  done(await job.settled);
});
