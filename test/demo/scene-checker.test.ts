// The scene checker reads the generator's clean renders back (≥ 95 % per attribute over 1000 scenes
// at 64 px, and at 128 px), and judges an image against the scene asked for attribute by attribute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectScene, detectedAsScene, judgeImage, nearestColour, oklab } from '../../app/demo/scene-checker.ts';
import { degradeImage } from '../../app/demo/degrade.ts';
import { COLOURS, COLOUR_RGB, captionOf, parseCaption, renderScene, sceneAt } from '../../app/demo/scenes.ts';
import { ATTRIBUTES, formatAccuracy, measureAccuracy } from './scene-accuracy.ts';

test('clean renders at 64 px: every attribute read right in at least 95 % of 1000 scenes', () => {
  const accuracy = measureAccuracy(31, 1000, 64);
  console.log(formatAccuracy('clean renders, 64 px', accuracy));
  for (const attribute of ATTRIBUTES) assert.ok(accuracy.scene[attribute] >= 0.95, `${attribute}: ${accuracy.scene[attribute]}`);
});

test('clean renders at 128 px: every attribute read right in at least 95 % of 100 scenes', () => {
  const accuracy = measureAccuracy(32, 100, 128);
  console.log(formatAccuracy('clean renders, 128 px', accuracy));
  for (const attribute of ATTRIBUTES) assert.ok(accuracy.scene[attribute] >= 0.95, `${attribute}: ${accuracy.scene[attribute]}`);
});

test('a detected scene of a clean render captions as the scene itself', () => {
  for (let i = 0; i < 40; i++) {
    const scene = sceneAt(33, i, 'train');
    const detected = detectedAsScene(detectScene(renderScene(scene), 64));
    assert.ok(detected, captionOf(scene));
    assert.equal(captionOf(detected), captionOf(scene));
  }
});

test('judgeImage says which attribute is wrong, and matches two objects by what they look like', () => {
  const image = renderScene(parseCaption('a large green circle on the left and a small yellow square on the right, plain blue background'));
  const judge = (caption: string) => {
    const { detected: _, ...verdict } = judgeImage(image, 64, parseCaption(caption));
    return verdict;
  };
  assert.deepEqual(judge('a large green circle on the left and a small yellow square on the right, plain blue background'), {
    shape: true, colour: true, size: true, position: true, background: true, count: true, all: true,
  });
  assert.deepEqual(judge('a large green star on the left and a small yellow square on the right, plain blue background'), {
    shape: false, colour: true, size: true, position: true, background: true, count: true, all: false,
  });
  assert.deepEqual(judge('a large green circle on the left and a small red square on the right, blue checked background'), {
    shape: true, colour: false, size: true, position: true, background: false, count: true, all: false,
  });
  // Swapped: each object is matched to the one that looks like it, so only the places are wrong.
  assert.deepEqual(judge('a small yellow square on the left and a large green circle on the right, plain blue background'), {
    shape: true, colour: true, size: true, position: false, background: true, count: true, all: false,
  });
  assert.deepEqual(judge('a small yellow square at the top and a large green circle at the bottom, plain blue background'), {
    shape: true, colour: true, size: true, position: false, background: true, count: true, all: false,
  });
  // One object asked for, two drawn: the one that fits is judged, and the count is wrong.
  assert.deepEqual(judge('a large green circle on the left, plain blue background'), {
    shape: true, colour: true, size: true, position: true, background: true, count: false, all: false,
  });
  // An empty picture: nothing found, every object attribute wrong.
  const empty = new Uint8Array(64 * 64 * 3);
  for (let p = 0; p < 64 * 64; p++) empty.set(COLOUR_RGB.blue, p * 3);
  const { detected, ...verdict } = judgeImage(empty, 64, parseCaption('a large green circle on the left, plain blue background'));
  assert.equal(detected.objects.length, 0);
  assert.deepEqual(verdict, { shape: false, colour: false, size: false, position: false, background: true, count: false, all: false });
});

test('a blotchy plain background stays plain; stripes of another width are still stripes', () => {
  // Soft shading over a plain background (a small model's typical blotches) is not a pattern.
  const blotchy = renderScene(parseCaption('a large red circle on the left, plain yellow background'));
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) {
      const shade = 1 - 0.2 * Math.sin((x / 64) * Math.PI * 1.3 + 0.4) * Math.cos((y / 64) * Math.PI * 0.9);
      for (let c = 0; c < 3; c++) blotchy[(y * 64 + x) * 3 + c] = Math.min(255, Math.round(blotchy[(y * 64 + x) * 3 + c]! * shade));
    }
  }
  const seen = detectScene(degradeImage(blotchy, 64, 1), 64);
  assert.deepEqual(seen.background, { pattern: 'plain', colour: 'yellow' });
  assert.deepEqual(seen.objects.map((o) => [o.shape, o.colour, o.size, o.position]), [['circle', 'red', 'large', 'left']]);
  // Stripes 6 px wide instead of the renderer's 8.
  const striped = renderScene(parseCaption('a small white star at the top, plain blue background'));
  for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) if (Math.floor(y / 6) % 2 === 1 && striped[(y * 64 + x) * 3]! < 100) striped.set([105, 140, 228], (y * 64 + x) * 3);
  assert.deepEqual(detectScene(degradeImage(striped, 64, 2), 64).background, { pattern: 'horizontal-stripes', colour: 'blue' });
});

test('named colours are their own nearest colour; bad images are refused', () => {
  for (const colour of COLOURS) assert.equal(nearestColour(oklab(...COLOUR_RGB[colour])), colour);
  assert.throws(() => detectScene(new Uint8Array(10), 64), /64×64 RGB image has 12288 bytes, got 10/);
  assert.throws(() => detectScene(new Uint8Array(0), 0), /at least 16 pixels/);
});
