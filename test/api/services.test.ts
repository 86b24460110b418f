// The API's services over a real library and the real importer, on the golden tiny checkpoints.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../../app/api/api-error.ts';
import type { ImportFinished, JobFailed, ModelInfo } from '../../app/api/contract.ts';
import { createDispatcher } from '../../app/api/dispatch.ts';
import { createStudioServices, type StudioServices } from '../../app/api/services.ts';
import { readModelManifest } from '../../app/checkpoints/model-store.ts';

const golden = fileURLToPath(new URL('../../../shared/golden/', import.meta.url));
const tinyConfigs = join(golden, 'models', 'afa');
const expert1 = join(golden, 'models', 'single_file', 'expert1_fp32.safetensors');
const expert2 = join(golden, 'models', 'single_file', 'expert2_fp16.safetensors');

let home: string;
let services: StudioServices;
const models: ModelInfo[] = [];

function importAndWait(path: string, extra: { configDirectory?: string; name?: string } = {}): Promise<ImportFinished | JobFailed> {
  return new Promise((resolve, reject) => {
    let jobId: string | undefined;
    const early: (ImportFinished | JobFailed)[] = [];
    const settle = (outcome: ImportFinished | JobFailed) => {
      if (jobId === undefined) early.push(outcome);
      else if (outcome.jobId === jobId) resolve(outcome);
    };
    services.models.onDidImportFinish(settle);
    services.models.onDidImportFail(settle);
    services.models.import({ source: { kind: 'path', path }, ...extra }).then((started) => {
      jobId = started.jobId;
      const outcome = early.find((o) => o.jobId === jobId);
      if (outcome) resolve(outcome);
    }, reject);
  });
}

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'afa-services-'));
  services = createStudioServices({ home, version: '1.2.3' });
  for (const path of [expert1, expert2]) {
    const outcome = await importAndWait(path, { configDirectory: tinyConfigs });
    assert.ok('model' in outcome, JSON.stringify(outcome));
    models.push(outcome.model);
  }
});

after(async () => {
  await services.dispose();
  rmSync(home, { recursive: true, force: true });
});

test('imported checkpoints are listed with their hash, size and precision', async () => {
  const listed = await services.models.list();
  assert.deepEqual(listed.map((m) => m.name).sort(), ['expert1_fp32', 'expert2_fp16']);
  const fp16 = listed.find((m) => m.name === 'expert2_fp16')!;
  assert.match(fp16.sha256, /^[0-9a-f]{64}$/);
  assert.equal(fp16.id, fp16.sha256);
  // One truth for precision: the stored one (fp32 unless asked), as `afa models` shows it; the file's own beside it.
  assert.equal(fp16.precision, 'fp32');
  assert.equal(fp16.sourcePrecision, 'fp16');
  assert.ok(fp16.sizeBytes > 1_000_000);
  assert.deepEqual(await services.models.get({ id: fp16.id }), fp16);
});

test('a single file imported with a config folder takes the folder’s tokenizer, as `afa import --config-dir` does', () => {
  for (const model of models) {
    const manifest = readModelManifest(home, model.id)!;
    assert.equal(manifest.tokenizer, 'tokenizer', `${model.name} keeps the config folder's own tokenizer`);
  }
});

test('an official AFA folder imports every expert, named after the folder, and offers its aggregators bound to them', async (t) => {
  const outcome = await importAndWait(tinyConfigs);
  assert.ok('models' in outcome, JSON.stringify(outcome));
  assert.deepEqual(outcome.models.map((m) => m.name), ['afa 1', 'afa 2', 'afa 3']);
  assert.deepEqual(outcome.aggregators, { path: tinyConfigs, name: 'afa', memberModelIds: outcome.models.map((m) => m.id) });
  const set = await services.aggregators.import(outcome.aggregators!);
  assert.deepEqual(set.memberModelIds, outcome.models.map((m) => m.id));
  // The studio's copy records its experts: importing it for the same experts in another order is refused.
  const copy = join(home, 'aggregators', set.id);
  const [a, b, c] = outcome.models.map((m) => m.id) as [string, string, string];
  await assert.rejects(services.aggregators.import({ path: copy, name: 'swapped', memberModelIds: [b, a, c] }), /trained for the experts .* \(in that order\), not /);
  t.after(async () => {
    await services.aggregators.delete({ id: set.id });
    for (const model of outcome.models) await services.models.delete({ id: model.id });
  });
});

test('a bad file fails its import job with the importer’s message, and a wrong config folder fails at once', async () => {
  const bad = join(home, 'not-a-model.safetensors');
  writeFileSync(bad, 'this is not a safetensors file');
  const outcome = await importAndWait(bad);
  assert.ok('error' in outcome);
  assert.equal(outcome.cancelled, false);
  assert.equal(outcome.error.name, 'UserError');
  assert.equal(outcome.error.code, 'corrupt-file');
  await assert.rejects(services.models.import({ source: { kind: 'path', path: expert1 }, configDirectory: home }), (error: unknown) => error instanceof Error && /has none of unet\/config.json, text_encoder\/config.json, vae\/config.json/.test(error.message));
});

test('recipes snapshot member names, refuse unknown models, and protect the models they use', async () => {
  const [a, b] = models as [ModelInfo, ModelInfo];
  const saved = await services.recipes.save({ name: 'Pair', spec: { method: 'output-average', members: [{ modelId: a.id }, { modelId: b.id }], weights: [1, 3] } });
  assert.equal(saved.name, 'Pair');
  assert.deepEqual(saved.members.map((m) => m.name), [a.name, b.name]);
  assert.deepEqual(saved.weights, [1, 3]);
  assert.deepEqual((await services.recipes.list()).map((r) => r.id), [saved.id]);
  await assert.rejects(services.recipes.save({ name: 'Ghost', spec: { method: 'single', members: [{ modelId: 'f'.repeat(64) }] } }), /not imported/);
  // A recipe that could never run is not saved: AFA without aggregators trained for its members.
  await assert.rejects(services.recipes.save({ name: 'Never', spec: { method: 'afa', members: [{ modelId: a.id }, { modelId: b.id }] } }), /names no trained aggregators\. Pick an aggregator set trained for these models/);
  await assert.rejects(services.models.delete({ id: a.id }), (error: unknown) => error instanceof ApiError && error.code === 'conflict' && /“Pair”/.test(error.message));
  await services.recipes.delete({ id: saved.id });
  assert.deepEqual(await services.recipes.list(), []);
});

test('the prompt gallery saves, finds, tags, counts uses and deletes', async () => {
  const saved = await services.prompts.save({ text: 'a lighthouse at dusk', negativePrompt: 'blurry', tags: ['sea'] });
  const again = await services.prompts.save({ text: 'a lighthouse at dusk', tags: ['sea', 'evening'] });
  assert.equal(again.id, saved.id);
  await services.prompts.save({ text: 'a fox in the snow' });
  assert.deepEqual((await services.prompts.search({ text: 'lightho' })).map((p) => p.id), [saved.id]);
  assert.deepEqual((await services.prompts.search({ tag: 'evening' })).map((p) => p.id), [saved.id]);
  assert.equal((await services.prompts.use({ id: saved.id })).uses, 1);
  assert.equal((await services.prompts.list())[0]!.id, saved.id);
  await services.prompts.delete({ id: saved.id });
  assert.equal((await services.prompts.list()).length, 1);
});

test('history starts empty and answers unknown ids with not-found', async () => {
  assert.deepEqual(await services.history.search({}), { items: [], nextCursor: null, total: 0 });
  await assert.rejects(services.history.get({ id: 'gen_missing' }), (error: unknown) => error instanceof ApiError && error.code === 'not-found');
});

test('through the dispatcher, errors cross as plain data with name, code, message and hint', async () => {
  const dispatcher = createDispatcher(services);
  const result = await dispatcher.invoke('models.get', { id: 'nope' });
  assert.deepEqual(result, { ok: false, error: { name: 'ApiError', code: 'not-found', message: 'There is no model nope.' } });
  const info = await dispatcher.invoke('system.info', undefined);
  assert.equal(info.ok && (info.value as { version: string }).version, '1.2.3');
});

test('deleting a model removes it from the catalog and the store', async () => {
  const b = models[1]!;
  await services.models.delete({ id: b.id });
  assert.deepEqual((await services.models.list()).map((m) => m.id), [models[0]!.id]);
  assert.equal(existsSync(join(home, 'models', b.id)), false);
});
