// Recipe documents: what the UI, the CLI and files may send, and every refusal's message.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../app/common/errors.ts';
import { MBW_BLOCKS, memberWeights, validateRecipe } from '../../app/ensemble/recipe.ts';

const members = (count: number) => Array.from({ length: count }, (_, i) => ({ modelId: `model${i}`, name: `Model ${i}` }));

function refuses(input: unknown, pattern: RegExp): void {
  assert.throws(() => validateRecipe(input), (error: unknown) => error instanceof UserError && error.code === 'invalid-argument' && pattern.test(error.message));
}

describe('validateRecipe', () => {
  it('accepts an AFA recipe and returns a frozen copy', () => {
    const recipe = validateRecipe({ name: ' Trio ', method: 'afa', members: members(3), aggregatorId: 'agg1', defaults: { sampler: 'ddim', steps: 25 } });
    assert.equal(recipe.name, 'Trio');
    assert.equal(recipe.members.length, 3);
    assert.ok(Object.isFrozen(recipe) && Object.isFrozen(recipe.members));
  });

  it('keeps the defaults a recipe offers (the demo\'s carries a prompt, size and seed) and refuses bad ones', () => {
    const defaults = { sampler: 'ddim', steps: 25, guidance: 5, prompt: 'a red star', negativePrompt: '', width: 64, height: 128, seed: 7 };
    assert.deepEqual(validateRecipe({ name: 'Demo', method: 'afa', members: members(3), aggregatorId: 'agg1', defaults }).defaults, defaults);
    const afa = (change: Record<string, unknown>) => ({ name: 'x', method: 'afa', members: members(2), defaults: change });
    refuses(afa({ width: 60 }), /default width must be a whole number from 64 to 2048, a multiple of 8/);
    refuses(afa({ seed: -1 }), /default seed/);
    refuses(afa({ steps: 0 }), /default steps/);
    refuses(afa({ guidance: 80 }), /default guidance/);
    refuses(afa({ prompt: 7 }), /default prompt must be text/);
    refuses(afa({ sampler: 'plms' }), /Unknown sampler 'plms'/);
    refuses({ name: 'x', method: 'afa', members: members(2), defaults: [] }, /defaults must be a JSON object/);
  });

  it('refuses what is not a recipe, with what to do', () => {
    refuses(null, /JSON object/);
    refuses({ method: 'afa', members: members(2) }, /needs a name/);
    refuses({ name: 'x', method: 'blend', members: members(2) }, /Unknown method 'blend'.*Choose one of/);
    refuses({ name: 'x', method: 'afa' }, /list of members/);
    refuses({ name: 'x', method: 'afa', members: [{ name: 'no id' }, { modelId: 'b' }] }, /Member 1 has no model id/);
  });

  it('enforces each method\'s member count', () => {
    refuses({ name: 'x', method: 'afa', members: members(1) }, /takes 2 to 6 models; the recipe has 1/);
    refuses({ name: 'x', method: 'output-average', members: members(7) }, /takes 2 to 6 models; the recipe has 7/);
    refuses({ name: 'x', method: 'single', members: members(2) }, /takes exactly 1 model; the recipe has 2/);
    refuses({ name: 'x', method: 'magicfusion', members: members(3) }, /takes exactly 2 models/);
    refuses({ name: 'x', method: 'afa', members: [{ modelId: 'a' }, { modelId: 'a' }] }, /appears twice/);
  });

  it('checks weights, MBW blocks and aggregators', () => {
    refuses({ name: 'x', method: 'merge', members: members(2), weights: [1] }, /list of 2 numbers/);
    refuses({ name: 'x', method: 'merge', members: members(2), weights: [1, -1] }, /must not be negative/);
    refuses({ name: 'x', method: 'merge', members: members(2), weights: [0, 0] }, /above 0/);
    refuses({ name: 'x', method: 'mbw', members: members(2), mbw: { blocks: [0.5], base: 0.3 } }, /list of 25 numbers/);
    refuses({ name: 'x', method: 'mbw', members: members(2), mbw: { blocks: MBW_BLOCKS.map(() => 0.5) } }, /base weight/);
    refuses({ name: 'x', method: 'merge', members: members(2), aggregatorId: 'a' }, /Only AFA recipes take an aggregator/);
    refuses({ name: 'x', method: 'afa', members: members(2), defaults: { sampler: 'heun' } }, /Unknown sampler 'heun'/);
    const mbw = validateRecipe({ name: 'x', method: 'mbw', members: members(2), mbw: { blocks: MBW_BLOCKS.map(() => 0.5), base: 0.3 } });
    assert.equal(mbw.mbw?.blocks.length, 25);
  });

  it('normalises member weights, uniform when absent', () => {
    assert.deepEqual(memberWeights(validateRecipe({ name: 'x', method: 'merge', members: members(2), weights: [3, 1] })), [0.75, 0.25]);
    assert.deepEqual(memberWeights(validateRecipe({ name: 'x', method: 'output-average', members: members(4) })), [0.25, 0.25, 0.25, 0.25]);
  });
});
