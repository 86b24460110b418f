// The demo scene generator: determinism (pinned render hashes), the train/test split of held-out
// combinations, captions both ways, the experts' domains, and what a render must look like.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { UserError } from '../../app/common/errors.ts';
import {
  COLOURS,
  COLOUR_RGB,
  DEMO_DOMAINS,
  DEMO_DOMAIN_NAMES,
  HELD_OUT_SHAPE_COLOURS,
  HELD_OUT_SHAPE_PATTERNS,
  PATTERNS,
  POSITIONS,
  SHAPES,
  SIZES,
  captionOf,
  CONTRASTIVE_GROUP_SIZE,
  contrastiveGroupAt,
  OTHER_STRIPES,
  domainSceneAt,
  isHeldOut,
  parseCaption,
  placeObjects,
  renderScene,
  sceneAt,
  sceneVariant,
  unsplitSceneAt,
  type Scene,
} from '../../app/demo/scenes.ts';

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);
const withoutVariation = ({ objects, background }: Scene): Scene => ({ objects, background });

test('a scene and its render are a pure function of (seed, index, split): pinned captions and render hashes', () => {
  // Pinned on Node 20 / V8 (the SDFs use Math.hypot, sin and cos; a different libm could move a byte).
  const pinned = [
    [0, 'train', 'a small purple diamond at the top, green background with horizontal stripes', 'a91060835e32c595'],
    [1, 'train', 'a small yellow circle on the right, plain red background', '1060654255fa104b'],
    [2, 'test', 'a large yellow ring at the top, plain green background', 'a58efb524bd264b2'],
    [3, 'test', 'a small yellow star at the top and a large yellow ring at the bottom, plain white background', '005c085e5867b68b'],
  ] as const;
  for (const [index, split, caption, hash] of pinned) {
    const scene = sceneAt(2024, index, split);
    assert.equal(captionOf(scene), caption);
    assert.equal(sha(renderScene(scene)), hash, `render of scene ${index} (${split})`);
  }
  assert.equal(sha(renderScene(sceneAt(2024, 0), 128)), '6716951bd29b2392');
  // Drawing order does not matter: scene 7 is the same alone, after others, and from a fresh call.
  const alone = sceneAt(5, 7);
  for (let i = 0; i < 7; i++) sceneAt(5, i);
  assert.deepEqual(sceneAt(5, 7), alone);
  assert.deepEqual(renderScene(sceneAt(5, 7)), renderScene(alone));
  // Seeds and indices give different scenes.
  const captions = new Set(Array.from({ length: 200 }, (_, i) => captionOf(sceneAt(1, i))));
  assert.ok(captions.size > 190, `${captions.size} distinct captions in 200 scenes`);
  assert.notDeepEqual(sceneAt(1, 0), sceneAt(2, 0));
  // Seeds beyond 32 bits are their own seeds.
  assert.notDeepEqual(sceneAt(2 ** 40 + 1, 0), sceneAt(1, 0));
});

test("'train' never holds a held-out combination, 'test' only those; about 10–15 % of the space is held out", () => {
  const train = Array.from({ length: 3000 }, (_, i) => sceneAt(11, i, 'train'));
  const held = Array.from({ length: 1000 }, (_, i) => sceneAt(11, i, 'test'));
  assert.equal(train.filter(isHeldOut).length, 0);
  assert.equal(held.filter((scene) => !isHeldOut(scene)).length, 0);
  const trainCaptions = new Set(train.map(captionOf));
  assert.equal(held.filter((scene) => trainCaptions.has(captionOf(scene))).length, 0);
  // Every held-out pair shows up in the test split; every attribute value still shows up in training.
  for (const [shape, colour] of HELD_OUT_SHAPE_COLOURS) assert.ok(held.some((s) => s.objects.some((o) => o.shape === shape && o.colour === colour)), `${colour} ${shape} in test`);
  for (const [shape, pattern] of HELD_OUT_SHAPE_PATTERNS) assert.ok(held.some((s) => s.background.pattern === pattern && s.objects.some((o) => o.shape === shape)), `${shape} on ${pattern} in test`);
  const objects = train.flatMap((scene) => scene.objects);
  for (const shape of SHAPES) assert.ok(objects.some((o) => o.shape === shape), shape);
  for (const colour of COLOURS) assert.ok(objects.some((o) => o.colour === colour) && train.some((s) => s.background.colour === colour), colour);
  for (const size of SIZES) assert.ok(objects.some((o) => o.size === size), size);
  for (const position of POSITIONS) assert.ok(objects.some((o) => o.position === position), position);
  for (const pattern of PATTERNS) assert.ok(train.some((s) => s.background.pattern === pattern), pattern);
  assert.ok(train.some((s) => s.objects.length === 1) && train.some((s) => s.objects.length === 2));
  // The held-out share of the whole space.
  const count = 20000;
  let heldOut = 0;
  for (let i = 0; i < count; i++) if (isHeldOut(unsplitSceneAt(3, i))) heldOut++;
  const share = heldOut / count;
  console.log(`held-out share of the scene space: ${(100 * share).toFixed(1)} % of ${count} scenes`);
  assert.ok(share >= 0.1 && share <= 0.15, `held-out share ${share}`);
});

test('captions round-trip exactly; anything else is refused with the reason', () => {
  const scenes = [
    ...Array.from({ length: 600 }, (_, i) => sceneAt(3, i, 'train')),
    ...Array.from({ length: 300 }, (_, i) => sceneAt(3, i, 'test')),
    ...DEMO_DOMAIN_NAMES.flatMap((domain) => Array.from({ length: 100 }, (_, i) => domainSceneAt(domain, 3, i))),
  ];
  for (const scene of scenes) {
    const caption = captionOf(scene);
    assert.deepEqual(parseCaption(caption), withoutVariation(scene), caption);
    assert.equal(captionOf(parseCaption(caption)), caption);
  }
  assert.equal(
    captionOf({ objects: [{ shape: 'star', colour: 'red', size: 'small', position: 'left' }], background: { pattern: 'vertical-stripes', colour: 'blue' } }),
    'a small red star on the left, blue background with vertical stripes',
  );
  assert.deepEqual(parseCaption('a large green circle on the left and a small yellow square on the right, plain white background'), {
    objects: [
      { size: 'large', colour: 'green', shape: 'circle', position: 'left' },
      { size: 'small', colour: 'yellow', shape: 'square', position: 'right' },
    ],
    background: { pattern: 'plain', colour: 'white' },
  });
  const refused: readonly [string, RegExp][] = [
    ['a small red star', /is not a demo scene caption/],
    ['a huge red star on the left, plain blue background', /is not a demo scene caption.*small\|large/],
    ['a small red hexagon on the left, plain blue background', /is not a demo scene caption.*shapes: circle/],
    ['a small red star on the left, plain red background', /red object on a red background/],
    ['a small red star on the right and a small blue ring on the left, plain white background', /left then right, or top then bottom/],
    ['a small red star on the left and a small blue ring at the top, plain white background', /left then right, or top then bottom/],
  ];
  for (const [caption, message] of refused) {
    assert.throws(() => parseCaption(caption), (error: unknown) => error instanceof UserError && message.test(error.message), caption);
  }
});

test("each expert domain is at least a fifth of the training data; its sampler draws only its own training scenes", () => {
  const train = Array.from({ length: 6000 }, (_, i) => sceneAt(21, i, 'train'));
  for (const domain of DEMO_DOMAINS) {
    const share = train.filter(domain.includes).length / train.length;
    console.log(`domain ${domain.name}: ${(100 * share).toFixed(1)} % of training scenes`);
    assert.ok(share >= 0.2, `${domain.name} share ${share}`);
    const drawn = Array.from({ length: 300 }, (_, i) => domainSceneAt(domain.name, 21, i));
    assert.ok(drawn.every(domain.includes), `${domain.name} sampler stays in the domain`);
    assert.ok(!drawn.some(isHeldOut), `${domain.name} sampler never draws a held-out scene`);
    assert.ok(new Set(drawn.map(captionOf)).size > 280, `${domain.name} sampler varies`);
    assert.deepEqual(domainSceneAt(domain.name, 21, 17), drawn[17]);
  }
  assert.throws(() => domainSceneAt('nope' as never, 1, 0), /no demo domain 'nope'.*plain-warm, textures, small-objects/);
});

test('a contrastive group: the scene, then variants that differ only in pattern, in the first shape, in position; all training scenes', () => {
  const seen = { pattern: new Set<string>(), shape: new Set<string>(), position: new Set<string>() };
  for (let index = 0; index < 400; index++) {
    const group = contrastiveGroupAt(7, index);
    assert.deepEqual(contrastiveGroupAt(7, index), group, 'deterministic');
    assert.equal(group.length, CONTRASTIVE_GROUP_SIZE);
    const [scene, pattern, shape, position] = group as [Scene, Scene, Scene, Scene];
    for (const member of group) {
      assert.equal(isHeldOut(member), false, captionOf(member));
      assert.deepEqual(withoutVariation(parseCaption(captionOf(member))), withoutVariation(member), 'a valid, captionable scene');
    }
    const same = (a: Scene, b: Scene, what: string) => assert.deepEqual(a, b, `${what} in group ${index}: ${captionOf(scene)}`);
    // Everything but the changed attribute is the scene's, the uncaptioned variation included.
    same({ ...pattern, background: scene.background }, scene, 'pattern variant');
    assert.notEqual(pattern.background.pattern, scene.background.pattern);
    same({ ...shape, objects: [{ ...shape.objects[0]!, shape: scene.objects[0]!.shape }, ...shape.objects.slice(1)] }, scene, 'shape variant');
    assert.notEqual(shape.objects[0]!.shape, scene.objects[0]!.shape);
    same({ ...position, objects: position.objects.map((object, i) => ({ ...object, position: scene.objects[i]!.position })) }, scene, 'position variant');
    position.objects.forEach((object, i) => assert.notEqual(object.position, scene.objects[i]!.position));
    seen.pattern.add(`${scene.background.pattern}>${pattern.background.pattern}`);
    seen.shape.add(`${scene.objects[0]!.shape}>${shape.objects[0]!.shape}`);
    seen.position.add(position.objects.map((o) => o.position).join('+') + '<' + scene.objects.map((o) => o.position).join('+'));
  }
  // Every ordered pair of patterns (5·4), of shapes (7·6), of single positions (5·4) and both layout swaps occurs.
  assert.equal(seen.pattern.size, 20);
  assert.equal(seen.shape.size, 42);
  assert.equal(seen.position.size, 22);
  // A variant never lands on a held-out combination, even where only a few values are left.
  const circleOnPlain: Scene = { objects: [{ shape: 'circle', colour: 'blue', size: 'small', position: 'left' }, { shape: 'triangle', colour: 'green', size: 'large', position: 'right' }], background: { pattern: 'plain', colour: 'white' } };
  for (let k = 0; k < 50; k++) {
    const variant = sceneVariant(circleOnPlain, 'pattern', [k]);
    assert.ok(!['checks', 'vertical-stripes', 'plain'].includes(variant.background.pattern), variant.background.pattern);
    assert.ok(!['circle', 'star'].includes(sceneVariant({ ...circleOnPlain, background: { pattern: 'checks', colour: 'white' }, objects: [{ ...circleOnPlain.objects[0]!, shape: 'square', colour: 'red' }] }, 'shape', [k]).objects[0]!.shape));
  }
  assert.throws(() => sceneVariant({ ...circleOnPlain, background: { pattern: 'checks', colour: 'white' } }, 'shape', [0]), /held out/);
});

test('group options: other variants in the asked order, and striped scenes whose pattern variant turns the stripes', () => {
  const changes = ['pattern', 'shape', 'position', 'colour', 'size'] as const;
  let turned = 0;
  for (let index = 0; index < 300; index++) {
    const plain = contrastiveGroupAt(3, index);
    const group = contrastiveGroupAt(3, index, { changes, swapStripes: true });
    assert.equal(group.length, 6);
    // The same scene and the same draws for the variants both have.
    assert.deepEqual(group.slice(0, 1).concat(group.slice(2, 4)), plain.slice(0, 1).concat(plain.slice(2, 4)));
    const [scene, pattern, , , colour, size] = group as [Scene, Scene, Scene, Scene, Scene, Scene];
    assert.deepEqual(colour, sceneVariant(scene, 'colour', [3, index, 5, 4]));
    assert.deepEqual(size, sceneVariant(scene, 'size', [3, index, 5, 5]));
    const other = OTHER_STRIPES[scene.background.pattern];
    const swapAllowed = other !== undefined && !isHeldOut({ ...scene, background: { ...scene.background, pattern: other } });
    if (swapAllowed) {
      turned++;
      assert.deepEqual(pattern, { ...scene, background: { ...scene.background, pattern: other } });
    } else {
      assert.deepEqual(pattern, plain[1]);
    }
    for (const member of group) assert.equal(isHeldOut(member), false);
  }
  assert.ok(turned > 50, `${turned} groups turned their stripes`);
});

test('colour and size variants change the first object only: colour never to the background\'s or a held-out pair, size to the other', () => {
  const colours = new Set<string>();
  for (let index = 0; index < 300; index++) {
    const scene = sceneAt(9, index);
    const colour = sceneVariant(scene, 'colour', [index, 1]);
    const size = sceneVariant(scene, 'size', [index, 2]);
    assert.deepEqual(sceneVariant(scene, 'colour', [index, 1]), colour, 'deterministic');
    for (const [variant, key] of [[colour, 'colour'], [size, 'size']] as const) {
      assert.equal(isHeldOut(variant), false, captionOf(variant));
      assert.deepEqual({ ...variant, objects: [{ ...variant.objects[0]!, [key]: scene.objects[0]![key] }, ...variant.objects.slice(1)] }, scene, `${key} variant of ${captionOf(scene)}`);
      assert.notEqual(variant.objects[0]![key], scene.objects[0]![key]);
    }
    assert.notEqual(colour.objects[0]!.colour, scene.background.colour);
    colours.add(`${scene.objects[0]!.colour}>${colour.objects[0]!.colour}`);
  }
  assert.ok(colours.size > 40, `${colours.size} colour changes seen`);
  // Where only a few colours are left: a star on white may not turn red (held out) nor white.
  const star: Scene = { objects: [{ shape: 'star', colour: 'blue', size: 'small', position: 'left' }], background: { pattern: 'plain', colour: 'white' } };
  for (let k = 0; k < 50; k++) assert.ok(!['red', 'white', 'blue'].includes(sceneVariant(star, 'colour', [k]).objects[0]!.colour));
});

test('renders are RGB of the asked size; each object is drawn in its colour where it is solid, never on its own colour', () => {
  for (const size of [64, 128]) {
    for (let i = 0; i < 200; i++) {
      const scene = sceneAt(8, i, i % 3 === 0 ? 'test' : 'train');
      const image = renderScene(scene, size);
      assert.equal(image.length, size * size * 3);
      assert.ok(scene.objects.every((o) => o.colour !== scene.background.colour));
      for (const placed of placeObjects(scene, size)) {
        // The box centre is inside every shape but the ring, whose hole shows the background there;
        // the point half way along the ring's band at the top is inside it instead.
        const inner = placed.object.shape === 'ring' ? placed.cy - placed.r * 0.775 : placed.object.shape === 'star' ? placed.cy + placed.r * 0.1 : placed.cy;
        const at = (Math.floor(inner) * size + Math.floor(placed.cx)) * 3;
        assert.deepEqual([...image.subarray(at, at + 3)], [...placed.rgb], `${captionOf(scene)} at ${size}: solid colour of the ${placed.object.shape}`);
        const named = COLOUR_RGB[placed.object.colour];
        assert.ok(placed.rgb.every((v, c) => Math.abs(v - named[c]!) <= 6), 'shade jitter within ±6');
      }
    }
  }
  // Without a variation the picture is the canonical one, centred exactly.
  const canonical = parseCaption('a large red square in the centre, plain white background');
  const image = renderScene(canonical, 64);
  const pixel = (x: number, y: number) => [...image.subarray((y * 64 + x) * 3, (y * 64 + x) * 3 + 3)];
  assert.deepEqual(pixel(20, 20), [210, 40, 40]);
  assert.deepEqual(pixel(43, 43), [210, 40, 40]);
  assert.deepEqual(pixel(19, 32), [240, 240, 240]);
  assert.deepEqual(pixel(44, 32), [240, 240, 240]);
});

test('bad arguments are refused with what to pass', () => {
  assert.throws(() => sceneAt(-1, 0), /seed must be a whole number/);
  assert.throws(() => sceneAt(1.5, 0), /seed must be a whole number/);
  assert.throws(() => sceneAt(1, -2), /index must be a whole number/);
  assert.throws(() => sceneAt(1, 0, 'validation' as never), /split must be 'train' or 'test'/);
  const scene = sceneAt(1, 0);
  assert.throws(() => renderScene(scene, 20), /32 to 1024 pixels/);
  assert.throws(() => renderScene({ ...scene, objects: [] }, 64), /0 objects; scenes have one or two/);
  assert.throws(() => renderScene({ ...scene, objects: [{ shape: 'blob', colour: 'red', size: 'small', position: 'left' } as never] }, 64), /unknown shape 'blob'/);
  assert.throws(() => captionOf({ ...scene, variation: -1 }), /variation must be a uint32/);
});
