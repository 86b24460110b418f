// Generation, queue, cancel, compare and history through the API services, with the real engine
// (app/pipeline + app/ensemble on onnxruntime) on the golden tiny experts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from '../../app/api/api-error.ts';
import type { CompareSet, GenerationProgress, GenerationRequest } from '../../app/api/contract.ts';
import { createStudioServices, type StudioServices } from '../../app/api/services.ts';
import { generationOutcome } from './generation-outcome.ts';
import { importTinyExperts } from './tiny-experts.ts';

let home: string;
let services: StudioServices;
const ids: string[] = [];

const outcomeOf = (jobId: string) => generationOutcome(services, jobId);

function request(change: Partial<GenerationRequest> = {}): GenerationRequest {
  return {
    prompt: 'a red lighthouse',
    negativePrompt: '',
    recipe: { spec: { method: 'single', members: [{ modelId: ids[0]! }] } },
    sampler: 'ddim',
    steps: 4,
    guidance: 7.5,
    seed: 7,
    width: 128,
    height: 128,
    batchCount: 1,
    ...change,
  };
}

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'afa-generation-'));
  services = createStudioServices({ home });
  ids.push(...(await importTinyExperts(services, home, [1, 2])));
});

after(async () => {
  await services.dispose();
  rmSync(home, { recursive: true, force: true });
});

test('a generation reports its steps with previews, lands in history and can be made again from its record', async () => {
  const progress: GenerationProgress[] = [];
  const unsubscribe = services.generation.onDidProgress((event) => progress.push(event));
  const { jobId } = await services.generation.enqueue(request());
  const outcome = await outcomeOf(jobId);
  unsubscribe();
  assert.ok(!('error' in outcome), JSON.stringify(outcome));
  const [summary] = outcome.generations;
  assert.equal(summary!.seed, 7);
  assert.equal(summary!.recipeName, 'tiny1');
  const denoise = progress.filter((p) => p.jobId === jobId && p.phase === 'denoise');
  assert.deepEqual(denoise.map((p) => p.step), [1, 2, 3, 4]);
  assert.ok(denoise.every((p) => p.total === 4 && p.preview?.startsWith('data:image/png;base64,')));
  assert.ok(existsSync(join(home, summary!.thumbnail.path)));

  const found = await services.history.search({ text: 'lighthouse' });
  assert.deepEqual(found.items.map((item) => item.id), [summary!.id]);
  assert.equal((await services.history.search({ text: 'submarine' })).total, 0);
  const record = await services.history.get({ id: summary!.id });
  assert.deepEqual(record.request.recipe.spec.members.map((m) => m.modelId), [ids[0]]);
  assert.equal(record.request.seed, 7);
  assert.ok(existsSync(join(home, record.image.path)));
});

test('cancelling the running job ends it as cancelled and records nothing', async () => {
  const before = (await services.history.search({})).total;
  const { jobId } = await services.generation.enqueue(request({ steps: 200, prompt: 'a long job' }));
  const cancelled = outcomeOf(jobId);
  await new Promise<void>((resolve) => {
    const unsubscribe = services.generation.onDidProgress((event) => {
      if (event.jobId === jobId && event.phase === 'denoise') {
        unsubscribe();
        resolve();
      }
    });
  });
  await services.generation.cancel({ jobId });
  const outcome = await cancelled;
  assert.ok('error' in outcome);
  assert.equal(outcome.cancelled, true);
  assert.equal(outcome.error.code, 'cancelled');
  assert.equal((await services.history.search({})).total, before);
  await assert.rejects(services.generation.cancel({ jobId }), (error: unknown) => error instanceof ApiError && error.code === 'not-found');
});

test('cancelling a batch after its first images keeps them and says which were saved; progress names the image', async () => {
  const { jobId } = await services.generation.enqueue(request({ steps: 3, prompt: 'a batch of three', batchCount: 3, width: 64, height: 64 }));
  const ended = outcomeOf(jobId);
  const images: string[] = [];
  await new Promise<void>((resolve) => {
    const unsubscribe = services.generation.onDidProgress((event) => {
      if (event.jobId !== jobId) return;
      images.push(`${event.image?.index} of ${event.image?.count}`);
      if (event.image?.index === 3) {
        unsubscribe();
        resolve();
      }
    });
  });
  await services.generation.cancel({ jobId });
  const outcome = await ended;
  assert.ok('error' in outcome);
  assert.equal(outcome.cancelled, true);
  assert.deepEqual(outcome.generations?.map((g) => g.prompt), ['a batch of three', 'a batch of three']);
  assert.deepEqual([...new Set(images)], ['1 of 3', '2 of 3', '3 of 3']);
  for (const generation of outcome.generations ?? []) assert.equal((await services.history.get({ id: generation.id })).prompt, 'a batch of three');
});

test('waiting jobs can be reordered and removed; a model in use cannot be deleted', async () => {
  const first = await services.generation.enqueue(request({ steps: 30, prompt: 'first' }));
  const second = await services.generation.enqueue(request({ prompt: 'second' }));
  const third = await services.generation.enqueue(request({ prompt: 'third' }));
  const outcomes = [first, second, third].map(({ jobId }) => outcomeOf(jobId));
  await assert.rejects(services.models.delete({ id: ids[0]! }), (error: unknown) => error instanceof ApiError && error.code === 'conflict');
  const reordered = await services.generation.reorder({ jobId: third.jobId, toIndex: 0 });
  assert.deepEqual(reordered.filter((job) => job.status === 'queued').map((job) => job.request.prompt), ['third', 'second']);
  await services.generation.remove({ jobId: second.jobId });
  const [a, b, c] = await Promise.all(outcomes);
  assert.ok('generations' in a! && 'generations' in c!);
  assert.ok('error' in b! && b.cancelled);
  assert.deepEqual(await services.generation.queue(), []);
});

test('compare re-runs an ensemble image with each member alone, same seed and prompt', async () => {
  const { jobId } = await services.generation.enqueue(
    request({ prompt: 'a pair', recipe: { spec: { method: 'output-average', members: [{ modelId: ids[0]! }, { modelId: ids[1]! }], weights: [1, 1] } } }),
  );
  const outcome = await outcomeOf(jobId);
  assert.ok(!('error' in outcome), JSON.stringify(outcome));
  const source = outcome.generations[0]!;
  assert.equal(source.method, 'output-average');
  const settled = new Promise<CompareSet>((resolve) => {
    services.compare.onDidChange((set) => {
      if (set.items.every((item) => item.status === 'done')) resolve(set);
    });
  });
  const started = await services.compare.enqueue({ generationId: source.id });
  assert.deepEqual(started.items.map((item) => item.role), ['ensemble', 'member', 'member']);
  const set = await settled;
  assert.equal(set.id, started.id);
  for (const item of set.items.slice(1)) {
    const record = await services.history.get({ id: item.generationId! });
    assert.equal(record.seed, source.seed);
    assert.equal(record.prompt, 'a pair');
    assert.equal(record.method, 'single');
    assert.equal(record.recipeName, item.label);
  }
  await assert.rejects(services.compare.enqueue({ generationId: set.items[1]!.generationId! }), (error: unknown) => error instanceof ApiError && error.code === 'unsupported');
  // Comparing again reuses the member images of the same settings: nothing is queued, history does not grow.
  const before = (await services.history.search({})).total;
  const again = await services.compare.enqueue({ generationId: source.id });
  assert.deepEqual(again.items.map((item) => [item.status, item.jobId, item.generationId]), set.items.map((item) => ['done', null, item.generationId]));
  assert.deepEqual(await services.generation.queue(), []);
  assert.equal((await services.history.search({})).total, before);
});

test('history: favourite, tags, export, delete and undo', async () => {
  const [item] = (await services.history.search({ text: 'lighthouse' })).items;
  assert.equal((await services.history.setFavourite({ id: item!.id, favourite: true })).favourite, true);
  assert.deepEqual((await services.history.search({ favouritesOnly: true })).items.map((i) => i.id), [item!.id]);
  assert.deepEqual((await services.history.tag({ id: item!.id, tags: ['keeper'] })).tags, ['keeper']);
  assert.equal((await services.history.search({ tag: 'keeper' })).total, 1);
  const exported = await services.history.export({ ids: [item!.id], directory: join(home, 'out') });
  assert.equal(exported.files.length, 1);
  assert.ok(existsSync(exported.files[0]!));

  const total = (await services.history.search({})).total;
  const { undoToken } = await services.history.delete({ ids: [item!.id] });
  assert.equal((await services.history.search({})).total, total - 1);
  await assert.rejects(services.history.get({ id: item!.id }), (error: unknown) => error instanceof ApiError && error.code === 'not-found');
  await services.history.undo({ undoToken });
  assert.equal((await services.history.get({ id: item!.id })).favourite, true);
  assert.equal((await services.history.search({})).total, total);
});

test('an engine failure reaches the client in words without the paths of model files; the log keeps them', async (t) => {
  // A fresh engine (new settings), so the U-Net is loaded from disk again, and a damaged U-Net graph.
  await services.settings.set({ threads: 1 });
  const graph = join(home, 'models', ids[1]!, 'unet.onnx');
  assert.ok(existsSync(graph));
  writeFileSync(graph, 'not a model');
  const logged: string[] = [];
  t.mock.method(console, 'error', (...parts: unknown[]) => logged.push(parts.map((part) => (part instanceof Error ? `${part.message}` : String(part))).join(' ')));
  const { jobId } = await services.generation.enqueue(request({ recipe: { spec: { method: 'single', members: [{ modelId: ids[1]! }] } } }));
  const outcome = await outcomeOf(jobId);
  assert.ok('error' in outcome, JSON.stringify(outcome));
  assert.equal(outcome.error.code, 'engine');
  assert.match(outcome.error.message, /unet\.onnx/);
  assert.ok(!outcome.error.message.includes(home), outcome.error.message);
  assert.doesNotMatch(outcome.error.message, /(^|[\s(])\/\w/);
  assert.ok(logged.some((line) => line.includes(graph)), logged.join('\n'));
});

test('prepare compiles a recipe and loads its models before Generate; a recipe that cannot run is simply not ready', async () => {
  const spec = { method: 'feature-average' as const, members: [{ modelId: ids[0]! }, { modelId: ids[1]! }] };
  assert.deepEqual(await services.generation.prepare({ recipe: { spec } }), { ready: true });
  const phases: string[] = [];
  const unsubscribe = services.generation.onDidProgress((event) => phases.push(event.phase));
  const { jobId } = await services.generation.enqueue(request({ recipe: { spec }, steps: 2 }));
  assert.ok('generations' in (await outcomeOf(jobId)));
  unsubscribe();
  assert.equal(phases[0], 'encode', 'nothing left to load');
  assert.deepEqual(await services.generation.prepare({ recipe: { recipeId: 'rcp_missing' } }), { ready: false });
  assert.deepEqual(await services.generation.prepare({ recipe: { spec: { method: 'afa', members: spec.members } } }), { ready: false }, 'AFA without aggregators');
});

test('a job queued while the warm-up makes a new engine runs on the engine the queue and cancel see', async () => {
  const spec = { method: 'single' as const, members: [{ modelId: ids[0]! }] };
  for (const [order, threads] of [['enqueue first', 2], ['prepare first', 1]] as const) {
    // New settings: the next call makes a fresh engine (awaiting the provider choice), and both calls ask at once.
    await services.settings.set({ threads });
    const enqueue = () => services.generation.enqueue(request({ recipe: { spec }, steps: 400, width: 64, height: 64 }));
    const prepare = () => services.generation.prepare({ recipe: { spec } });
    const { jobId } = order === 'enqueue first' ? (await Promise.all([enqueue(), prepare()]))[0] : (await Promise.all([prepare(), enqueue()]))[1];
    const outcome = outcomeOf(jobId);
    assert.ok((await services.generation.queue()).some((job) => job.id === jobId), `${order}: the job is not in the queue`);
    await services.generation.cancel({ jobId });
    const ended = await outcome;
    assert.ok('cancelled' in ended && ended.cancelled, `${order}: ${JSON.stringify(ended)}`);
  }
});
