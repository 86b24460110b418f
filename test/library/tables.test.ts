import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { UserError } from '../../app/common/errors.ts';
import { Library } from '../../app/library/library.ts';
import type { ModelRow } from '../../app/library/models-table.ts';
import { modelId, pixels, settings, temporaryHome } from './fixtures.ts';

const { home, remove } = temporaryHome('tables');
const library = Library.open({ home });
after(() => {
  library.close();
  remove();
});

function model(index: number, overrides: Partial<ModelRow> = {}): ModelRow {
  return {
    id: modelId(index),
    name: `model-${index}`,
    sourcePath: `/downloads/model-${index}.safetensors`,
    sha256: modelId(index),
    shortHash: modelId(index).slice(0, 10),
    architecture: 'sd1',
    precision: 'fp16',
    sizeBytes: 2_132_625_894,
    storeDir: `/store/${index}`,
    components: { unet: { file: 'unet.onnx' } },
    addedAt: 1000 + index,
    lastUsedAt: null,
    ...overrides,
  };
}

describe('models', () => {
  it('upsert, look up by AUTOV2 short hash, mark used, rename, remove', () => {
    library.models.upsert(model(1));
    library.models.upsert(model(2));
    assert.deepEqual(library.models.get(modelId(1)), model(1));
    library.models.upsert(model(1, { name: 'renamed on re-import', addedAt: 999_999 }));
    const again = library.models.get(modelId(1))!;
    assert.equal(again.name, 'renamed on re-import');
    assert.equal(again.addedAt, 1001, 'a re-import keeps when it was first added');
    assert.deepEqual(library.models.findByShortHash(modelId(2).slice(0, 10).toUpperCase()).map((row) => row.id), [modelId(2)]);
    library.models.markUsed(modelId(1), 5000);
    assert.deepEqual(library.models.list().map((row) => row.id), [modelId(1), modelId(2)]);
    library.models.rename(modelId(2), 'two');
    assert.equal(library.models.get(modelId(2))?.name, 'two');
    assert.equal(library.models.remove(modelId(2)), true);
    assert.throws(() => library.models.markUsed(modelId(2)), (error: unknown) => error instanceof UserError && error.code === 'not-found');
  });

  it('rejects an id that is not the SHA-256, and a precision outside fp32/fp16/bf16', () => {
    assert.throws(() => library.models.upsert(model(3, { id: 'abc' })), /SHA-256/);
    assert.throws(() => library.models.upsert(model(3, { precision: 'int8' as never })), /CHECK constraint/);
  });
});

describe('recipes', () => {
  it('editing a recipe leaves the snapshot stored with earlier generations unchanged', () => {
    const recipe = library.recipes.insert('duo', { experts: [modelId(1), modelId(2)], method: 'afa' }, 10);
    const snapshot = {
      recipeId: recipe.id,
      name: 'duo',
      method: 'afa',
      members: [
        { modelId: modelId(1), shortHash: modelId(1).slice(0, 10), name: 'model-1' },
        { modelId: modelId(2), shortHash: modelId(2).slice(0, 10), name: 'model-2' },
      ],
      aggregatorId: null,
      document: recipe.document,
    };
    const generation = library.recordGeneration({ settings: settings({ recipe: snapshot }), image: pixels() });
    library.recipes.update(recipe.id, { name: 'trio', document: { experts: [modelId(1), modelId(2), modelId(3)], method: 'afa' } }, 20);
    const updated = library.recipes.get(recipe.id)!;
    assert.equal(updated.name, 'trio');
    assert.equal(updated.updatedAt, 20);
    assert.equal(updated.createdAt, 10);
    assert.deepEqual(library.generations.get(generation.id)?.settings.recipe, snapshot);
    library.recipes.remove(recipe.id);
    assert.deepEqual(library.generations.get(generation.id)?.settings.recipe, snapshot, 'and deleting it too');
  });
});

describe('aggregators and training runs', () => {
  it('record a run from queued to done with its metrics and resulting aggregator', () => {
    const run = library.trainingRuns.insert({ name: 'duo run', recipe: settings().recipe, config: { steps: 200, lr: 1e-4 } }, 100);
    assert.equal(run.status, 'queued');
    library.trainingRuns.setStatus(run.id, 'running', {}, 110);
    library.trainingRuns.appendMetrics(run.id, [{ step: 1, loss: 0.5 }]);
    library.trainingRuns.appendMetrics(run.id, [{ step: 2, loss: 0.4 }, { step: 3, loss: 0.35 }]);
    const aggregator = library.aggregators.insert({ name: 'duo sabw', path: '/agg/duo.safetensors', expertHashes: ['1111111111', '2222222222'], config: { heads: 8 } });
    library.trainingRuns.setStatus(run.id, 'done', { aggregatorId: aggregator.id }, 150);
    const done = library.trainingRuns.get(run.id)!;
    assert.deepEqual([done.status, done.startedAt, done.finishedAt, done.aggregatorId], ['done', 110, 150, aggregator.id]);
    assert.deepEqual(done.metrics, [{ step: 1, loss: 0.5 }, { step: 2, loss: 0.4 }, { step: 3, loss: 0.35 }]);
    assert.deepEqual(library.aggregators.get(aggregator.id)?.expertHashes, ['1111111111', '2222222222']);
    // Removing the aggregator keeps the run and clears the reference (ON DELETE SET NULL).
    library.aggregators.remove(aggregator.id);
    assert.equal(library.trainingRuns.get(run.id)?.aggregatorId, null);
    assert.equal(library.trainingRuns.list().length, 1);
  });
});

describe('prompt gallery', () => {
  it('saves, edits, counts uses, and searches by title, prompt and tags', () => {
    const castle = library.prompts.insert({ title: 'Misty castle', prompt: 'a castle in the mist, morning', tags: ['architecture'] }, 1);
    const fox = library.prompts.insert({ title: 'Fox', prompt: 'a red fox', negativePrompt: 'blurry', tags: ['animals', 'winter'], favourite: true }, 2);
    library.prompts.insert({ title: 'Robot', prompt: 'a friendly robot', tags: ['scifi'] }, 3);
    library.prompts.markUsed(castle.id, 10);
    library.prompts.markUsed(castle.id, 11);
    library.prompts.markUsed(fox.id, 12);
    assert.equal(library.prompts.get(castle.id)?.useCount, 2);
    assert.deepEqual(library.prompts.list({ search: 'mist' }).map((p) => p.title), ['Misty castle']);
    assert.deepEqual(library.prompts.list({ search: 'winter' }).map((p) => p.title), ['Fox']);
    assert.deepEqual(library.prompts.list({ search: 'blurry' }).map((p) => p.title), ['Fox']);
    assert.deepEqual(library.prompts.list({ favourite: true }).map((p) => p.title), ['Fox']);
    assert.deepEqual(library.prompts.list({ tag: 'scifi' }).map((p) => p.title), ['Robot']);
    assert.deepEqual(library.prompts.list({ order: 'popular' }).map((p) => p.title), ['Misty castle', 'Fox', 'Robot']);
    assert.deepEqual(library.prompts.list({ order: 'recent' }).map((p) => p.title), ['Fox', 'Misty castle', 'Robot']);
    assert.deepEqual(library.prompts.list({ order: 'title' }).map((p) => p.title), ['Fox', 'Misty castle', 'Robot']);
    library.prompts.update(fox.id, { title: 'Arctic fox', tags: ['animals'] }, 20);
    assert.deepEqual(library.prompts.list({ search: 'winter' }), [], 'the FTS index follows edits');
    assert.deepEqual(library.prompts.list({ search: 'arctic' }).map((p) => p.id), [fox.id]);
    assert.throws(() => library.prompts.insert({ title: '  ', prompt: 'x' }), /needs a title/);
    assert.equal(library.prompts.remove(fox.id), true);
    assert.deepEqual(library.prompts.list({ search: 'arctic' }), []);
  });
});

describe('demo items', () => {
  it('record what the demo installed; a removed item stays removed, whoever tries to install it again', () => {
    const demo = library.demoItems;
    demo.setPack('wanted');
    assert.equal(demo.pack().state, 'wanted');
    assert.equal(demo.markInstalled('model:warm', 'model', modelId(7)), true);
    assert.equal(demo.markInstalled('recipe', 'recipe', 'rcp_1'), true);
    assert.deepEqual([...demo.installed('model')], [modelId(7)]);
    assert.deepEqual([...demo.installed('recipe')], ['rcp_1']);
    assert.equal(demo.markRemoved('model', modelId(8)), false, 'not a demo item');
    assert.equal(demo.markRemoved('recipe', 'rcp_1'), true);
    assert.equal(demo.get('recipe')?.state, 'removed');
    assert.deepEqual([...demo.installed('recipe')], []);
    assert.equal(demo.markInstalled('recipe', 'recipe', 'rcp_2'), false, 'never re-added');
    assert.equal(demo.get('recipe')?.targetId, 'rcp_1');
    assert.equal(demo.markRemoved('recipe', 'rcp_1'), false, 'removed once');
    demo.setPack('installed', { name: 'Test', manifestSha256: 'abc' });
    assert.deepEqual(demo.pack(), { state: 'installed', detail: { name: 'Test', manifestSha256: 'abc' } });
    assert.deepEqual(demo.list().map((item) => [item.item, item.kind, item.state]), [['model:warm', 'model', 'installed'], ['recipe', 'recipe', 'removed']]);
  });
});
