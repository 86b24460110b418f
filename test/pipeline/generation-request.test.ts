import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../app/common/errors.ts';
import { DEFAULT_SETTINGS, MAX_SEED, imageSeed, validateGenerationInput, type GenerationInput } from '../../app/pipeline/generation-request.ts';

function refusal(input: GenerationInput): string {
  try {
    validateGenerationInput(input);
  } catch (error) {
    assert.ok(error instanceof UserError, String(error));
    assert.equal(error.code, 'invalid-argument');
    return error.message;
  }
  assert.fail('the input was accepted');
}

test('defaults fill what the request leaves out; a missing seed is drawn at random and kept', () => {
  const settings = validateGenerationInput({ prompt: 'a cat' });
  assert.equal(settings.width, DEFAULT_SETTINGS.width);
  assert.equal(settings.steps, 25);
  assert.equal(settings.sampler, 'ddim');
  assert.ok(Number.isSafeInteger(settings.seed) && settings.seed >= 0);
  assert.ok(Object.isFrozen(settings));
  const seeds = new Set(Array.from({ length: 8 }, () => validateGenerationInput({ prompt: 'x' }).seed));
  assert.ok(seeds.size > 1, 'random seeds differ');
});

test('a size that is not a multiple of 8 is refused with the nearest valid sizes', () => {
  assert.match(refusal({ prompt: 'x', width: 100, height: 64 }), /width must be a multiple of 8.*got 100\. Try 96 or 104\./);
  assert.match(refusal({ prompt: 'x', width: 64, height: 36 }), /whole number from 64 to 2048; got 36/);
});

test('unknown samplers and out-of-range numbers are refused naming the field', () => {
  assert.match(refusal({ prompt: 'x', sampler: 'heun' as never }), /Unknown sampler 'heun'.*ddim, euler/);
  assert.match(refusal({ prompt: 'x', steps: 0 }), /steps must be a whole number from 1 to 500/);
  assert.match(refusal({ prompt: 'x', guidance: Number.NaN }), /guidance scale/);
  assert.match(refusal({ prompt: 'x', seed: -1 }), /seed must be a whole number/);
  assert.match(refusal({ prompt: 'x', eta: 2 }), /η/);
});

test('image i of a batch uses seed + i, which must stay a safe integer', () => {
  const settings = validateGenerationInput({ prompt: 'x', seed: 10, batchCount: 3 });
  assert.deepEqual([0, 1, 2].map((index) => imageSeed(settings, index)), [10, 11, 12]);
  assert.match(refusal({ prompt: 'x', seed: MAX_SEED, batchCount: 2 }), /too large for a batch of 2/);
  const random = validateGenerationInput({ prompt: 'x', batchCount: 64 });
  assert.ok(random.seed + 63 <= MAX_SEED);
});
