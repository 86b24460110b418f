// The scene checker on degraded renders (blur σ = 1 px, noise σ = 8 levels, colour cast up to ±10
// levels and ±5 % gain: DEFAULT_DEGRADATION), a stand-in for a tiny diffusion model's pictures. The
// numbers are reported; the floor below them catches a checker that stops coping with blur and noise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DEGRADATION, degradeImage } from '../../app/demo/degrade.ts';
import { renderScene, sceneAt } from '../../app/demo/scenes.ts';
import { ATTRIBUTES, formatAccuracy, measureAccuracy } from './scene-accuracy.ts';

test('degraded renders at 64 px: accuracy over 1000 scenes (reported; at least 90 % per attribute)', () => {
  const accuracy = measureAccuracy(41, 1000, 64, (image, index) => degradeImage(image, 64, index));
  console.log(formatAccuracy(`degraded renders, 64 px (${JSON.stringify(DEFAULT_DEGRADATION)})`, accuracy));
  for (const attribute of ATTRIBUTES) assert.ok(accuracy.scene[attribute] >= 0.9, `${attribute}: ${accuracy.scene[attribute]}`);
});

test('degradation is seeded: the same seed gives the same bytes, another seed other noise', () => {
  const image = renderScene(sceneAt(1, 0), 64);
  assert.deepEqual(degradeImage(image, 64, 5), degradeImage(image, 64, 5));
  assert.notDeepEqual(degradeImage(image, 64, 5), degradeImage(image, 64, 6));
  const plain = degradeImage(image, 64, 5, { blur: 0, noise: 0, shift: 0, gain: 0 });
  assert.deepEqual(plain, image);
  assert.throws(() => degradeImage(image, 32, 1), /32×32 RGB image has 3072 bytes/);
});
