// The text stage's check (app/demo/contrastive-pairs.ts): pairs of training scenes that differ in one
// attribute, and the share of them the contrastive model tells apart.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { contrastivePairAccuracy, contrastivePairs, PAIR_KINDS } from '../../app/demo/contrastive-pairs.ts';
import { DEMO_CONTRASTIVE, DEMO_IMAGE_SIZE, DEMO_TEXT_ENCODER_CONFIG } from '../../app/demo/family-config.ts';
import { captionOf, isHeldOut, type Scene } from '../../app/demo/scenes.ts';
import { parseClipTextConfig } from '../../app/models/clip-text-config.ts';
import { plausibleWeight, SyntheticWeights } from '../../app/models/synthetic-weights.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { buildContrastiveTrainingGraph, TEXT_PROJECTION } from '../../app/training/contrastive-training-graph.ts';
import { TrainingSession } from '../../app/training/training-session.ts';

/** What differs between two scenes, as attribute names. */
function differences(a: Scene, b: Scene): string[] {
  const out: string[] = [];
  if (a.background.pattern !== b.background.pattern) out.push('pattern');
  if (a.background.colour !== b.background.colour) out.push('background colour');
  if (a.variation !== b.variation) out.push('variation');
  if (a.objects.length !== b.objects.length) return [...out, 'objects'];
  a.objects.forEach((object, i) => {
    for (const key of ['shape', 'colour', 'size', 'position'] as const) if (object[key] !== b.objects[i]![key]) out.push(i === 0 || key === 'position' ? key : `second ${key}`);
  });
  return [...new Set(out)];
}

test('each kind\'s pairs are training scenes that differ in that attribute only, the same every time', () => {
  for (const kind of PAIR_KINDS) {
    const pairs = contrastivePairs(2026, kind, 40);
    assert.equal(pairs.length, 40);
    assert.deepEqual(contrastivePairs(2026, kind, 40), pairs);
    assert.deepEqual(contrastivePairs(2026, kind, 10), pairs.slice(0, 10), 'a prefix of a longer list');
    for (const [a, b] of pairs) {
      assert.ok(!isHeldOut(a) && !isHeldOut(b), `${captionOf(a)} / ${captionOf(b)}`);
      assert.deepEqual(differences(a, b), [kind === 'stripes' ? 'pattern' : kind], `${kind}: ${captionOf(a)} / ${captionOf(b)}`);
      const striped = [a, b].map((scene) => scene.background.pattern.endsWith('stripes'));
      // 'pattern' starts from a background that is not striped (the stripe swap is a kind of its own).
      if (kind === 'stripes') assert.deepEqual(striped, [true, true]);
      if (kind === 'pattern') assert.equal(striped[0], false);
    }
  }
  // Another seed, other scenes.
  assert.notDeepEqual(contrastivePairs(7, 'colour', 5), contrastivePairs(2026, 'colour', 5));
});

test('the accuracy is the share of images that score their own caption above their pair\'s; a tie counts as wrong', async () => {
  const textConfig = parseClipTextConfig({ ...DEMO_TEXT_ENCODER_CONFIG, num_hidden_layers: 1 });
  const initial = new SyntheticWeights((name, shape) => plausibleWeight(name, shape, 3), 'initial');
  // Materialise the model's own initial weights, as a trained stage's file holds them.
  const scratch = mkdtempSync(join(tmpdir(), 'afa-pairs-'));
  try {
    const session = await TrainingSession.create(buildContrastiveTrainingGraph({ weights: initial, config: textConfig }, initial, { batch: 2, size: DEMO_IMAGE_SIZE }, DEMO_CONTRASTIVE), { dir: join(scratch, 'init') });
    const weights = new Map<string, Tensor<'float32'>>([...session.parameters].map(([name, data]) => [name, { dtype: 'float32', shape: [...session.shapes.get(name)!], data: data.slice() }]));
    await session.release();
    const options = { textConfig, contrastive: DEMO_CONTRASTIVE, imageSize: DEMO_IMAGE_SIZE, seed: 2026, pairs: 4 };
    const results = await contrastivePairAccuracy({ ...options, weights, dir: join(scratch, 'a') });
    assert.deepEqual(results.map((r) => r.kind), [...PAIR_KINDS]);
    for (const r of results) {
      assert.equal(r.pairs, 4);
      assert.ok(Number.isInteger(r.accuracy * 8) && r.accuracy >= 0 && r.accuracy <= 1, `${r.kind} ${r.accuracy}`);
    }
    assert.deepEqual(await contrastivePairAccuracy({ ...options, weights, dir: join(scratch, 'b') }), results, 'the same weights, the same answer');
    // A zero text projection makes every caption's embedding zero: all logits tie, nothing is right.
    const blind = new Map(weights);
    const projection = weights.get(TEXT_PROJECTION)!;
    blind.set(TEXT_PROJECTION, { ...projection, data: new Float32Array(projection.data.length) });
    for (const r of await contrastivePairAccuracy({ ...options, weights: blind, dir: join(scratch, 'c') })) assert.equal(r.accuracy, 0, r.kind);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
