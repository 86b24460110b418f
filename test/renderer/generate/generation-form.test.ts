// The Generate form's checks (what keeps Generate disabled, in words, with the field) and its saved copy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Recipe } from '../../../app/api/contract.ts';
import { formProblem, formTouched, formWithImageSettings, formWithRecipe, initialForm, loadSavedForm, saveForm, type GenerationForm } from '../../../renderer/generate/generation-form.ts';

const ready: GenerationForm = { ...initialForm, prompt: 'a boat', draft: { ...initialForm.draft, members: [{ modelId: 'a'.repeat(64), weight: 1 }] } };

test('each bad field is named with what to change', () => {
  assert.equal(formProblem(ready), undefined);
  assert.deepEqual(formProblem({ ...ready, prompt: ' ' }), { field: 'prompt', message: 'Write a prompt.' });
  assert.deepEqual(formProblem({ ...ready, width: 100 }), { field: 'width', message: 'Width must be a multiple of 8 pixels: try 96 or 104.' });
  assert.deepEqual(formProblem({ ...ready, height: 4096 }), { field: 'height', message: 'Height must be 64–2048 pixels.' });
  assert.equal(formProblem({ ...ready, steps: Number.NaN })?.field, 'steps');
  assert.equal(formProblem({ ...ready, batchCount: 0 })?.field, 'batchCount');
  assert.deepEqual(formProblem({ ...ready, draft: { ...ready.draft, method: 'afa', members: [...ready.draft.members, { modelId: 'b'.repeat(64), weight: 1 }] } }), { field: 'aggregator', message: 'Pick an aggregator set for AFA.' });
});

test('a member the image named but that is not imported keeps Generate disabled, naming it', () => {
  const reused: GenerationForm = { ...ready, draft: { ...ready.draft, members: [{ modelId: '879db523c3', weight: 1, name: 'dreamshaper_8', shortHash: '879db523c3' }] } };
  assert.deepEqual(formProblem(reused, new Set(['a'.repeat(64)])), {
    field: 'models',
    message: 'Made with dreamshaper_8 (hash 879db523c3), which is not imported — import it or pick a model.',
  });
  assert.equal(formProblem(reused), undefined, 'unknown until the model list has loaded');
});

test('the form survives a reload; a damaged or partial copy falls back to the defaults field by field', () => {
  const store = new Map<string, string>();
  const storage = { getItem: (key: string) => store.get(key) ?? null, setItem: (key: string, value: string) => void store.set(key, value) };
  saveForm(storage, { ...ready, width: 768, height: 512 });
  assert.deepEqual(loadSavedForm(storage), { ...ready, width: 768, height: 512 });
  store.set([...store.keys()][0]!, JSON.stringify({ prompt: 'kept', width: 'wide' }));
  assert.deepEqual(loadSavedForm(storage), { ...initialForm, prompt: 'kept' });
  store.set([...store.keys()][0]!, '{not json');
  assert.deepEqual(loadSavedForm(storage), initialForm);
  assert.deepEqual(loadSavedForm(undefined), initialForm);
});

test("an image's model that is not imported becomes the form's model, so Generate names it and waits", () => {
  const filled = formWithImageSettings({ ...ready, recipeId: 'saved' }, { prompt: 'a harbour' }, { name: 'dreamshaper_8', hash: '879db523c3' });
  assert.equal(filled.prompt, 'a harbour');
  assert.equal(filled.recipeId, null);
  assert.deepEqual(filled.draft.members, [{ modelId: '879db523c3', weight: 1, name: 'dreamshaper_8', shortHash: '879db523c3' }]);
  assert.deepEqual(formProblem(filled, new Set(['a'.repeat(64)])), {
    field: 'models',
    message: 'Made with dreamshaper_8 (hash 879db523c3), which is not imported — import it or pick a model.',
  });
  // A recipe the image fills (its model is in the catalog) wins; without a named model the recipe stays.
  const known = formWithImageSettings(ready, { recipe: { method: 'single', members: [{ modelId: 'a'.repeat(64) }] } }, { name: 'x' });
  assert.equal(known.draft.members[0]?.modelId, 'a'.repeat(64));
  assert.equal(formWithImageSettings(ready, { prompt: 'p' }).draft, ready.draft);
});

test('the demo recipe opens the form with its prompt, sampler, size and fixed seed, only on a form not started', () => {
  assert.equal(formTouched(initialForm), false);
  assert.equal(formTouched({ ...initialForm, prompt: 'a boat' }), true);
  assert.equal(formTouched({ ...initialForm, recipeId: 'r' }), true);
  // The only imported model, picked by the studio while the demo models are being installed one by one.
  const picked = { ...initialForm, draft: { ...initialForm.draft, members: [{ modelId: 'm', weight: 1 }], autoPicked: true } };
  assert.equal(formTouched(picked), false);
  assert.equal(formTouched({ ...picked, draft: { ...picked.draft, autoPicked: false } }), true);
  assert.equal(formTouched({ ...picked, prompt: 'a boat' }), true);
  assert.equal(formTouched(ready), true);
  const recipe: Recipe = {
    id: 'rcp_demo',
    name: 'Demo · Shapes',
    method: 'afa',
    members: [{ modelId: 'a'.repeat(64) }, { modelId: 'b'.repeat(64) }],
    aggregatorId: 'agg-1',
    defaults: { sampler: 'euler', steps: 20, guidance: 5, prompt: 'a small red star', negativePrompt: 'blurry', width: 64, height: 64, seed: 7 },
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    demo: true,
  };
  const opened = formWithRecipe({ ...initialForm, batchCount: 4 }, recipe);
  assert.deepEqual(opened, {
    ...initialForm,
    recipeId: 'rcp_demo',
    draft: { ...initialForm.draft, method: 'afa', members: recipe.members.map((m) => ({ modelId: m.modelId, weight: 1 })), aggregatorId: 'agg-1' },
    prompt: 'a small red star',
    negativePrompt: 'blurry',
    sampler: 'euler',
    steps: 20,
    guidance: 5,
    width: 64,
    height: 64,
    seed: 7,
    randomSeed: false,
    batchCount: 1,
  });
  assert.equal(formProblem(opened), undefined, 'ready to generate');
});
