// The training API over the real services: dataset previews with their problems, request validation at
// the boundary, runs refused for models that are not imported, an empty run list; then a real run of two
// golden tiny experts on favourite images of the history: its sample images named as studio images,
// paused at its first step, refused to resume while one of its images is in the trash and accepted again
// after the undo. (Resumed runs finishing bit-identical, samples included: test/training.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createDispatcher } from '../../app/api/dispatch.ts';
import type { TrainingProgress, TrainingRunInfo } from '../../app/api/contract.ts';
import { resolveImageFile } from '../../app/api/image-file.ts';
import { createStudioServices, type StudioServices } from '../../app/api/services.ts';
import type { GenerationSettings } from '../../app/images/generation-settings.ts';
import { Library } from '../../app/library/library.ts';
import { scratchDir } from '../ensemble/golden-experts.ts';
import { captionOf, generatedPixels, writeGeneratedDataset } from '../datasets/generated-dataset.ts';
import { importTinyExperts } from './tiny-experts.ts';

let home: string;
let services: StudioServices;
const modelIds: string[] = [];

before(async () => {
  home = scratchDir('afa-api-training-');
  services = createStudioServices({ home });
  modelIds.push(...(await importTinyExperts(services, home, [1, 2])));
});

after(async () => {
  await services.dispose();
  rmSync(home, { recursive: true, force: true });
});

test('previewDataset lists images, captions and problems', async () => {
  const data = await writeGeneratedDataset(join(home, 'data'), 3, 16);
  rmSync(join(data, 'image-02.txt'));
  const preview = await services.training.previewDataset({ path: data });
  assert.equal(preview.layout, 'captions');
  assert.equal(preview.count, 2);
  assert.deepEqual(preview.items.map((item) => item.caption), ['a red square', 'a green square']);
  assert.deepEqual(preview.problems.map((p) => [p.kind, p.files, p.blocking]), [['missing-caption', ['image-02.png'], true]]);
  const named = await services.training.previewDataset({ path: data, missingCaptions: 'use-file-name' });
  assert.equal(named.count, 3);
  await assert.rejects(services.training.start({ memberModelIds: ['a'.repeat(64), 'b'.repeat(64)], dataPath: data }), /have no \.txt caption/);
  await assert.rejects(
    services.training.start({ memberModelIds: ['a'.repeat(64), 'b'.repeat(64)], dataPath: data, settings: { missingCaptions: 'use-file-name' } }),
    /Model aaaaaaaaaaaa is no longer in the studio/,
  );
  assert.deepEqual(await services.training.list(), []);
});

test('the dispatcher validates training requests and reports errors as data', async () => {
  const dispatcher = createDispatcher(services);
  const bad = await dispatcher.invoke('training.start', { memberModelIds: ['x'], dataPath: '/tmp' } as never);
  assert.equal(bad.ok, false);
  const missing = await dispatcher.invoke('training.previewDataset', { path: join(home, 'nowhere') });
  assert.equal(missing.ok, false);
  assert.match(JSON.stringify(missing), /does not exist/);
  const listed = await dispatcher.invoke('training.list', undefined as never);
  assert.equal(listed.ok, true);
});

test('training requests name exactly one dataset: a folder or a history selection', async () => {
  const dispatcher = createDispatcher(services);
  const both = await dispatcher.invoke('training.previewDataset', { path: home, history: { favouritesOnly: true } });
  assert.equal(both.ok, false);
  assert.match(JSON.stringify(both), /either a dataset folder or a history selection/);
  const neither = await dispatcher.invoke('training.start', { memberModelIds: modelIds } as never);
  assert.equal(neither.ok, false);
  const badSchedule = await dispatcher.invoke('training.start', { memberModelIds: modelIds, dataPath: home, settings: { schedule: 'warmup' } } as never);
  assert.equal(badSchedule.ok, false);
  const empty = await dispatcher.invoke('training.previewDataset', { history: { favouritesOnly: true } });
  assert.equal(empty.ok, false);
  assert.match(JSON.stringify(empty), /The history has no favourites\./);
});

function historySettings(prompt: string, seed: number): GenerationSettings {
  return {
    prompt, negativePrompt: '', seed, steps: 4, guidance: 7, sampler: 'ddim', width: 64, height: 64, batchIndex: 0,
    recipe: { recipeId: null, name: null, method: 'single', members: [{ modelId: null, shortHash: null, name: 'tiny' }], aggregatorId: null },
  };
}

/** Resolves with the run's info once it reaches one of `statuses`. */
function reaching(runId: string, statuses: readonly TrainingRunInfo['status'][]): Promise<TrainingRunInfo> {
  return new Promise((resolve) => {
    const off = services.training.onDidChange((change) => {
      if (change.runId !== runId || !statuses.includes(change.status)) return;
      off();
      void services.training.get({ id: runId }).then(resolve);
    });
  });
}

test('a run on favourite history images shows its sample images, pauses, and resumes only with all its images', async () => {
  // Six generations in the history (real PNG files through the library); four are favourites.
  const library = Library.open({ home });
  const ids = Array.from({ length: 6 }, (_, i) =>
    library.recordGeneration({ settings: historySettings(captionOf(i), i), image: { width: 64, height: 64, channels: 3, data: generatedPixels(i, 64, 64) }, createdAt: Date.parse('2025-03-01T12:00:00Z') + i * 1000 }).id,
  );
  library.close();
  for (const id of ids.slice(0, 4)) await services.history.setFavourite({ id, favourite: true });

  const favourites = await services.training.previewDataset({ history: { favouritesOnly: true } });
  assert.equal(favourites.layout, 'history');
  assert.equal(favourites.count, 4);
  assert.deepEqual(favourites.items.map((item) => item.caption), ids.slice(0, 4).map((_, i) => captionOf(i)));
  const searched = await services.training.previewDataset({ history: { text: 'red' } });
  assert.deepEqual(searched.items.map((item) => item.caption), ['a red square', 'a red square']);
  const picked = await services.training.previewDataset({ history: { ids: [ids[5]!, ids[1]!] } });
  assert.deepEqual(picked.items.map((item) => item.name), [`${ids[5]}.png`, `${ids[1]}.png`]);

  const progress: TrainingProgress[] = [];
  let pausing = true;
  const offProgress = services.training.onDidProgress((event) => {
    progress.push(event);
    // Pause at the first step: the validation of step 1 sees it before drawing its samples.
    if (pausing && event.kind === 'step' && event.step === 1) {
      pausing = false;
      void services.training.cancel({ id: event.runId });
    }
  });
  const settings = { resolution: 64, steps: 2, batchSize: 2, validationShare: 0.25, validationEvery: 1, checkpointEvery: 1, sampleCount: 1, sampleSteps: 3 };
  const started = await services.training.start({ memberModelIds: modelIds, history: { favouritesOnly: true }, settings });
  assert.deepEqual(started.dataset, { kind: 'history', count: 4, favouritesOnly: true });
  assert.equal(started.dataPath, '');
  const paused = await reaching(started.id, ['cancelled', 'failed', 'done']);
  assert.equal(paused.status, 'cancelled', paused.error ?? '');
  assert.deepEqual(paused.samples.map((s) => s.step), [0]);

  // A fifth favourite does not join the run (its images were fixed when it was created); an image of
  // the run in the trash stops it from resuming, until it is back.
  await services.history.setFavourite({ id: ids[4]!, favourite: true });
  const { undoToken } = await services.history.delete({ ids: [ids[2]!] });
  await assert.rejects(services.training.resume({ id: started.id }), /cannot resume exactly: 1 of its 4 history images are gone/);
  await services.history.undo({ undoToken });
  offProgress();
  // Accepted now: queued, and paused again at once (the test stops here; test/training resumes runs).
  const pausedAgain = reaching(started.id, ['cancelled', 'failed', 'done']);
  await services.training.resume({ id: started.id });
  await services.training.cancel({ id: started.id });
  assert.equal((await pausedAgain).status, 'cancelled');
  const run = await services.training.get({ id: started.id });
  assert.deepEqual(run.dataset, { kind: 'history', count: 4, favouritesOnly: true });

  // The samples of validation 0, as images below the home; the validation of step 1 was paused before
  // its samples and is not recorded (the resumed run draws it first).
  assert.deepEqual(run.samples.map((s) => s.step), [0]);
  const [image] = run.samples[0]!.images;
  assert.equal(run.samples[0]!.images.length, 1);
  assert.ok(favourites.items.some((item) => item.caption === image!.prompt), 'a caption of the data');
  assert.deepEqual([image!.seed, image!.image.width, image!.image.height], [0, 64, 64]);
  assert.equal(image!.image.path, `training/${started.id}/samples/step-00000000/00.png`);
  assert.equal(resolveImageFile(home, image!.image.path).contentType, 'image/png');
  const validations = progress.filter((p): p is Extract<TrainingProgress, { kind: 'validation' }> => p.kind === 'validation');
  assert.deepEqual(validations.map((v) => v.samples), run.samples);
  assert.deepEqual(run.metrics.filter((m) => 'validationLoss' in m).map((m) => m.step), [0]);
  assert.ok(existsSync(join(home, 'training', started.id, 'checkpoints', 'step-00000001')));
});
