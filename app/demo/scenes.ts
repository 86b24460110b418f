// The demo family's training data (issue #12): small procedural scenes — one or two flat shapes over a
// plain, striped, checked or gradient background — each with a plain-English caption that says
// everything about it ("a small red star on the left, blue background with horizontal stripes").
//
// Everything is a pure function of (seed, index): scene i is drawn from its own random stream keyed by
// (seed, index, split, attempt), never from a shared generator, so it does not depend on how many scenes
// were drawn before or in which order, and a dataset of any size is a prefix of a larger one.
//
// Some caption combinations are held out of training entirely (`isHeldOut`): the 'test' split holds
// only those, the 'train' split none, so the test split measures compositional generalisation — prompts
// whose parts every model saw, but never together.
//
// The attribute values are chosen so that an independent deterministic analysis (scene-checker.ts) can
// read them back from an image, also a blurred and noisy one: colours far apart in OKLab, shapes that
// differ in fill, convexity, holes and symmetry, positions a quarter of the image apart.
import { UserError } from '../common/errors.ts';

export const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'star', 'cross', 'ring'] as const;
export const COLOURS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'white', 'black'] as const;
export const SIZES = ['small', 'large'] as const;
export const POSITIONS = ['left', 'right', 'top', 'bottom', 'centre'] as const;
export const PATTERNS = ['plain', 'horizontal-stripes', 'vertical-stripes', 'checks', 'gradient'] as const;

export type Shape = (typeof SHAPES)[number];
export type Colour = (typeof COLOURS)[number];
export type Size = (typeof SIZES)[number];
export type Position = (typeof POSITIONS)[number];
export type Pattern = (typeof PATTERNS)[number];
export type Split = 'train' | 'test';

export interface SceneObject {
  readonly shape: Shape;
  readonly colour: Colour;
  readonly size: Size;
  readonly position: Position;
}

export interface Background {
  readonly pattern: Pattern;
  readonly colour: Colour;
}

export interface Scene {
  /** One object, or two at the pairs of `TWO_OBJECT_LAYOUTS` (left+right or top+bottom), in that order. */
  readonly objects: readonly SceneObject[];
  readonly background: Background;
  /**
   * Uncaptioned variety (uint32): a jitter of each object's place (±1.5 px at 64), size (−6 %…+4 %) and
   * shade (±6 per channel), and the phase of stripes and checks. Absent: the canonical picture.
   * Captions do not carry it, so `parseCaption(captionOf(s))` equals `s` without it.
   */
  readonly variation?: number;
}

/** The position pairs two objects may take: objects at other pairs could overlap. */
export const TWO_OBJECT_LAYOUTS: readonly (readonly [Position, Position])[] = [
  ['left', 'right'],
  ['top', 'bottom'],
];

/** sRGB of each named colour: the renderer draws exactly these (± the variation's shade jitter). */
export const COLOUR_RGB: Readonly<Record<Colour, readonly [number, number, number]>> = {
  red: [210, 40, 40],
  orange: [240, 135, 25],
  yellow: [240, 210, 40],
  green: [45, 160, 70],
  blue: [40, 90, 210],
  purple: [140, 60, 180],
  white: [240, 240, 240],
  black: [30, 30, 30],
};

/**
 * The second tone of a patterned background: the colour mixed 35 % toward white (toward black for
 * white), so stripes, checks and gradients stay recognisably the named colour and never come close to
 * another named colour, which would blur the boundary between background and objects.
 */
export const SECOND_TONE_MIX = 0.35;

export function secondTone(colour: Colour): [number, number, number] {
  const [r, g, b] = COLOUR_RGB[colour];
  const toward = colour === 'white' ? 0 : 255;
  const k = SECOND_TONE_MIX;
  return [r + (toward - r) * k, g + (toward - g) * k, b + (toward - b) * k];
}

// ---------------------------------------------------------------------------------------------------
// Held-out combinations (the test split). Each (shape, colour) pair below never appears in a training
// scene, nor does a shape below on the background pattern it is paired with; every shape, colour and
// pattern still appears in training in other combinations. Over the whole scene space (one or two
// objects) this holds out about 14.5 % of scenes: 10.4 % of one-object scenes, 18.6 % of two-object
// ones (measured in test/demo/scenes.test.ts).

export const HELD_OUT_SHAPE_COLOURS: readonly (readonly [Shape, Colour])[] = [
  ['star', 'red'],
  ['square', 'blue'],
  ['ring', 'yellow'],
];

export const HELD_OUT_SHAPE_PATTERNS: readonly (readonly [Shape, Pattern])[] = [
  ['circle', 'checks'],
  ['triangle', 'vertical-stripes'],
];

/** True when the scene has a held-out combination, i.e. it belongs to the test split. */
export function isHeldOut(scene: Scene): boolean {
  return scene.objects.some(
    (object) =>
      HELD_OUT_SHAPE_COLOURS.some(([shape, colour]) => object.shape === shape && object.colour === colour) ||
      HELD_OUT_SHAPE_PATTERNS.some(([shape, pattern]) => object.shape === shape && scene.background.pattern === pattern),
  );
}

// ---------------------------------------------------------------------------------------------------
// Random streams. A key (seed, index, purpose, attempt) is hashed into a 32-bit state with the murmur3
// finaliser; the stream then runs splitmix32 (a Weyl sequence through the same finaliser). No Math.random.

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of a list of non-negative integers (each below 2^53). */
export function hashKey(parts: readonly number[]): number {
  let h = 0x2f6b3a1d;
  for (const part of parts) {
    const low = part >>> 0;
    const high = Math.floor(part / 0x100000000) >>> 0;
    h = fmix32((h ^ low) + 0x9e3779b9);
    h = fmix32((h ^ high) + 0x7f4a7c15);
  }
  return h;
}

/** A small seeded generator (splitmix32). */
export class SceneRandom {
  private state: number;
  constructor(key: readonly number[]) {
    this.state = hashKey(key);
  }
  /** A uint32. */
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return fmix32(this.state);
  }
  /** In [0, 1). */
  float(): number {
    return this.next() / 0x100000000;
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
}

// Purposes keep the streams of the splits and domains apart.
const PURPOSE_TRAIN = 1;
const PURPOSE_TEST = 2;
const PURPOSE_ALL = 3;
const PURPOSE_DOMAIN = 16;
const PURPOSE_GROUP = 5;
/** Rejection sampling gives up after this many draws: far beyond any share used here (≥ 10 %: p < 1e-45). */
const MAX_ATTEMPTS = 1000;

// Plain backgrounds are a third of the scenes, the four patterns a sixth each, so the 'plain-warm'
// domain is a fair share of the training data (see DEMO_DOMAINS).
const PATTERN_WEIGHTS: Readonly<Record<Pattern, number>> = { plain: 2, 'horizontal-stripes': 1, 'vertical-stripes': 1, checks: 1, gradient: 1 };

function drawPattern(random: SceneRandom): Pattern {
  const total = PATTERNS.reduce((sum, pattern) => sum + PATTERN_WEIGHTS[pattern], 0);
  let u = random.float() * total;
  for (const pattern of PATTERNS) {
    u -= PATTERN_WEIGHTS[pattern];
    if (u < 0) return pattern;
  }
  return PATTERNS[PATTERNS.length - 1]!;
}

/** One scene from the whole space (no split): half with one object, half with two. */
function drawScene(random: SceneRandom): Scene {
  const background: Background = { pattern: drawPattern(random), colour: random.pick(COLOURS) };
  const objectColours = COLOURS.filter((colour) => colour !== background.colour);
  const object = (position: Position): SceneObject => ({
    shape: random.pick(SHAPES),
    colour: random.pick(objectColours),
    size: random.pick(SIZES),
    position,
  });
  const positions = random.float() < 0.5 ? [random.pick(POSITIONS)] : random.pick(TWO_OBJECT_LAYOUTS);
  const objects = positions.map(object);
  return { objects, background, variation: random.next() };
}

function checkSeedIndex(seed: number, index: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new UserError('invalid-argument', `The scene seed must be a whole number from 0 to 2^53 − 1, got ${seed}.`);
  if (!Number.isSafeInteger(index) || index < 0) throw new UserError('invalid-argument', `The scene index must be a whole number from 0 up, got ${index}.`);
}

function sample(key: readonly number[], accept: (scene: Scene) => boolean, what: string): Scene {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const scene = drawScene(new SceneRandom([...key, attempt]));
    if (accept(scene)) return scene;
  }
  throw new Error(`No ${what} scene in ${MAX_ATTEMPTS} draws for key ${key.join(',')}: the acceptance rule accepts (almost) nothing.`);
}

/** Scene `index` of the whole scene space, before the split (what the held-out share is measured on). */
export function unsplitSceneAt(seed: number, index: number): Scene {
  checkSeedIndex(seed, index);
  return drawScene(new SceneRandom([seed, index, PURPOSE_ALL]));
}

/**
 * Scene `index` of the given split for `seed`: 'train' never returns a held-out combination, 'test'
 * only held-out ones. Each is the first accepted draw of its own stream, so it is independent of every
 * other index.
 */
export function sceneAt(seed: number, index: number, split: Split = 'train'): Scene {
  checkSeedIndex(seed, index);
  if (split !== 'train' && split !== 'test') throw new UserError('invalid-argument', `The split must be 'train' or 'test', got '${String(split)}'.`);
  return split === 'train'
    ? sample([seed, index, PURPOSE_TRAIN], (scene) => !isHeldOut(scene), 'training')
    : sample([seed, index, PURPOSE_TEST], isHeldOut, 'held-out');
}

// ---------------------------------------------------------------------------------------------------
// Contrastive groups: a training scene with variants that differ from it in one attribute only — its
// background pattern, its first object's shape, or where its objects are (everything else the same, the
// uncaptioned variation included). In a batch of random scenes, position and colour alone already tell
// almost every caption's image apart, so the contrastive loss stops asking for pattern and shape (the
// encoder trained that way told two patterned backgrounds apart at chance); a group makes each of them
// the only difference somewhere in the batch. The position variant keeps position from being traded
// away for the others (groups without it left "on the left" and "at the top" nearly the same caption).
// Colour and size variants, and stripes turned the other way, are options (`GroupOptions`, the text
// recipe's `groupChanges` and `swapStripes`); what they did in the text stage's check is written at
// FamilyRecipe.text in family-config.ts.

/** What a variant changes: the background pattern, the first object's shape, colour or size, or the objects' places. */
export const VARIANT_CHANGES = ['pattern', 'shape', 'position', 'colour', 'size'] as const;
export type VariantChange = (typeof VARIANT_CHANGES)[number];

/**
 * A training-split scene that differs from the training scene `scene` in exactly what `change` names,
 * the new value drawn from the stream `key` among those that keep it out of the held-out combinations.
 * Position: one object moves to another of the five places; two objects swap layouts (left + right ↔
 * top + bottom, the first object taking the layout's first place). Colour: never the background's.
 */
export function sceneVariant(scene: Scene, change: VariantChange, key: readonly number[]): Scene {
  checkScene(scene);
  if (isHeldOut(scene)) throw new Error('sceneVariant takes a training scene; this one is held out.');
  const random = new SceneRandom(key);
  const [first, ...rest] = scene.objects;
  const withFirst = (object: SceneObject): Scene => ({ ...scene, objects: [object, ...rest] });
  switch (change) {
    case 'pattern': {
      const withPattern = (pattern: Pattern): Scene => ({ ...scene, background: { ...scene.background, pattern } });
      return withPattern(random.pick(PATTERNS.filter((pattern) => pattern !== scene.background.pattern && !isHeldOut(withPattern(pattern)))));
    }
    case 'shape':
      return withFirst({ ...first!, shape: random.pick(SHAPES.filter((shape) => shape !== first!.shape && !isHeldOut(withFirst({ ...first!, shape })))) });
    case 'colour':
      return withFirst({ ...first!, colour: random.pick(COLOURS.filter((colour) => colour !== first!.colour && colour !== scene.background.colour && !isHeldOut(withFirst({ ...first!, colour })))) });
    case 'size':
      return withFirst({ ...first!, size: first!.size === 'small' ? 'large' : 'small' });
    case 'position': {
      if (rest.length === 0) return { ...scene, objects: [{ ...first!, position: random.pick(POSITIONS.filter((position) => position !== first!.position)) }] };
      const layout = TWO_OBJECT_LAYOUTS.find(([position]) => position !== first!.position)!;
      return { ...scene, objects: [{ ...first!, position: layout[0] }, { ...rest[0]!, position: layout[1] }] };
    }
  }
}

/** What a contrastive group's variants change, in order. */
export const GROUP_CHANGES: readonly VariantChange[] = ['pattern', 'shape', 'position'];
/** Scenes in a contrastive group: the scene and one variant per change. */
export const CONTRASTIVE_GROUP_SIZE = 1 + GROUP_CHANGES.length;

/** The other stripe direction, for striped patterns. */
export const OTHER_STRIPES: Readonly<Partial<Record<Pattern, Pattern>>> = { 'horizontal-stripes': 'vertical-stripes', 'vertical-stripes': 'horizontal-stripes' };

export interface GroupOptions {
  /** What the variants change, in order (default `GROUP_CHANGES`). */
  readonly changes?: readonly VariantChange[];
  /** A striped scene's pattern variant is its stripes turned the other way, where that is a training scene. */
  readonly swapStripes?: boolean;
}

/**
 * Training scene `index`'s contrastive group for `seed`: the scene, then its variants in the order of
 * `options.changes`. Its own stream, independent of `sceneAt`'s indices.
 */
export function contrastiveGroupAt(seed: number, index: number, options: GroupOptions = {}): readonly Scene[] {
  checkSeedIndex(seed, index);
  const scene = sample([seed, index, PURPOSE_GROUP], (candidate) => !isHeldOut(candidate), 'training');
  const swapped = options.swapStripes ? OTHER_STRIPES[scene.background.pattern] : undefined;
  const turned: Scene | undefined = swapped && { ...scene, background: { ...scene.background, pattern: swapped } };
  return [
    scene,
    ...(options.changes ?? GROUP_CHANGES).map((change, k) => (change === 'pattern' && turned && !isHeldOut(turned) ? turned : sceneVariant(scene, change, [seed, index, PURPOSE_GROUP, k + 1]))),
  ];
}

// ---------------------------------------------------------------------------------------------------
// Expert domains: the parts of the training data the demo's experts are fine-tuned on. They overlap;
// each is at least a fifth of the training scenes (shares measured in test/demo/scenes.test.ts).

export const WARM_COLOURS: readonly Colour[] = ['red', 'orange', 'yellow'];

export const DEMO_DOMAIN_NAMES = ['plain-warm', 'textures', 'small-objects'] as const;
export type DemoDomainName = (typeof DEMO_DOMAIN_NAMES)[number];

export interface DemoDomain {
  readonly name: DemoDomainName;
  readonly description: string;
  readonly includes: (scene: Scene) => boolean;
}

export const DEMO_DOMAINS: readonly DemoDomain[] = [
  {
    name: 'plain-warm',
    description: 'plain backgrounds with a warm colour (red, orange or yellow) in the scene, on an object or the background',
    includes: (scene) =>
      scene.background.pattern === 'plain' && (WARM_COLOURS.includes(scene.background.colour) || scene.objects.some((object) => WARM_COLOURS.includes(object.colour))),
  },
  {
    name: 'textures',
    description: 'striped and checked backgrounds',
    includes: (scene) => scene.background.pattern === 'horizontal-stripes' || scene.background.pattern === 'vertical-stripes' || scene.background.pattern === 'checks',
  },
  {
    name: 'small-objects',
    description: 'scenes whose objects are all small',
    includes: (scene) => scene.objects.every((object) => object.size === 'small'),
  },
];

export function demoDomain(name: DemoDomainName): DemoDomain {
  const domain = DEMO_DOMAINS.find((candidate) => candidate.name === name);
  if (!domain) throw new UserError('invalid-argument', `There is no demo domain '${String(name)}'.`, `Choose one of ${DEMO_DOMAIN_NAMES.join(', ')}.`);
  return domain;
}

/** Training scene `index` of a domain for `seed`: never held out, always in the domain. */
export function domainSceneAt(domain: DemoDomainName, seed: number, index: number): Scene {
  checkSeedIndex(seed, index);
  const chosen = demoDomain(domain);
  const purpose = PURPOSE_DOMAIN + DEMO_DOMAIN_NAMES.indexOf(chosen.name);
  return sample([seed, index, purpose], (scene) => chosen.includes(scene) && !isHeldOut(scene), `'${domain}' training`);
}

// ---------------------------------------------------------------------------------------------------
// Validity and captions.

function describe(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

/** Throws a UserError saying what is wrong when `scene` is not one the generator could make. */
export function checkScene(scene: Scene): void {
  const bad = (message: string): never => {
    throw new UserError('invalid-argument', `Not a demo scene: ${message}.`);
  };
  if (!scene || !Array.isArray(scene.objects) || !scene.background) bad('it needs objects and a background');
  const { pattern, colour } = scene.background;
  if (!PATTERNS.includes(pattern)) bad(`unknown background pattern ${describe(pattern)} (known: ${PATTERNS.join(', ')})`);
  if (!COLOURS.includes(colour)) bad(`unknown background colour ${describe(colour)} (known: ${COLOURS.join(', ')})`);
  if (scene.objects.length < 1 || scene.objects.length > 2) bad(`it has ${scene.objects.length} objects; scenes have one or two`);
  for (const object of scene.objects) {
    if (!SHAPES.includes(object.shape)) bad(`unknown shape ${describe(object.shape)} (known: ${SHAPES.join(', ')})`);
    if (!COLOURS.includes(object.colour)) bad(`unknown colour ${describe(object.colour)} (known: ${COLOURS.join(', ')})`);
    if (!SIZES.includes(object.size)) bad(`unknown size ${describe(object.size)} (known: ${SIZES.join(', ')})`);
    if (!POSITIONS.includes(object.position)) bad(`unknown position ${describe(object.position)} (known: ${POSITIONS.join(', ')})`);
    if (object.colour === colour) bad(`a ${object.colour} object on a ${colour} background would not stand out`);
  }
  if (scene.objects.length === 2) {
    const [a, b] = scene.objects;
    if (!TWO_OBJECT_LAYOUTS.some(([first, second]) => a!.position === first && b!.position === second)) {
      bad(`two objects go left then right, or top then bottom, not ${a!.position} then ${b!.position}`);
    }
  }
  if (scene.variation !== undefined && !(Number.isInteger(scene.variation) && scene.variation >= 0 && scene.variation <= 0xffffffff)) {
    bad(`the variation must be a uint32, got ${scene.variation}`);
  }
}

const POSITION_PHRASES: Readonly<Record<Position, string>> = {
  left: 'on the left',
  right: 'on the right',
  top: 'at the top',
  bottom: 'at the bottom',
  centre: 'in the centre',
};

function backgroundPhrase({ pattern, colour }: Background): string {
  switch (pattern) {
    case 'plain':
      return `plain ${colour} background`;
    case 'horizontal-stripes':
      return `${colour} background with horizontal stripes`;
    case 'vertical-stripes':
      return `${colour} background with vertical stripes`;
    case 'checks':
      return `${colour} checked background`;
    case 'gradient':
      return `${colour} gradient background`;
  }
}

/** "a small red star on the left and a large blue ring on the right, plain white background". */
export function captionOf(scene: Scene): string {
  checkScene(scene);
  const objects = scene.objects.map((o) => `a ${o.size} ${o.colour} ${o.shape} ${POSITION_PHRASES[o.position]}`);
  return `${objects.join(' and ')}, ${backgroundPhrase(scene.background)}`;
}

const alternatives = (values: readonly string[]): string => `(${values.join('|')})`;
const OBJECT_SOURCE = `a ${alternatives([...SIZES])} ${alternatives([...COLOURS])} ${alternatives([...SHAPES])} ${alternatives(POSITIONS.map((p) => POSITION_PHRASES[p]))}`;
const BACKGROUND_SOURCE = `(?:plain ${alternatives([...COLOURS])} background|${alternatives([...COLOURS])} (background with horizontal stripes|background with vertical stripes|checked background|gradient background))`;
const CAPTION = new RegExp(`^${OBJECT_SOURCE}(?: and ${OBJECT_SOURCE})?, ${BACKGROUND_SOURCE}$`);
const PATTERN_OF_PHRASE: Readonly<Record<string, Pattern>> = {
  'background with horizontal stripes': 'horizontal-stripes',
  'background with vertical stripes': 'vertical-stripes',
  'checked background': 'checks',
  'gradient background': 'gradient',
};
const POSITION_OF_PHRASE = new Map(POSITIONS.map((p) => [POSITION_PHRASES[p], p] as const));

/** The scene a caption describes; exact inverse of `captionOf` (the variation is not in captions). */
export function parseCaption(caption: string): Scene {
  const match = CAPTION.exec(caption.trim());
  if (!match) {
    throw new UserError(
      'invalid-argument',
      `"${caption}" is not a demo scene caption.`,
      `Captions read "a <small|large> <colour> <shape> <on the left|on the right|at the top|at the bottom|in the centre>", optionally "and" a second object, then ", plain <colour> background" or ", <colour> background with horizontal stripes" (or vertical stripes, checked, gradient); shapes: ${SHAPES.join(', ')}; colours: ${COLOURS.join(', ')}.`,
    );
  }
  const object = (at: number): SceneObject => ({
    size: match[at] as Size,
    colour: match[at + 1] as Colour,
    shape: match[at + 2] as Shape,
    position: POSITION_OF_PHRASE.get(match[at + 3]!)!,
  });
  const objects = match[5] === undefined ? [object(1)] : [object(1), object(5)];
  const background: Background = match[9] !== undefined ? { pattern: 'plain', colour: match[9] as Colour } : { pattern: PATTERN_OF_PHRASE[match[11]!]!, colour: match[10] as Colour };
  const scene: Scene = { objects, background };
  checkScene(scene);
  return scene;
}

// ---------------------------------------------------------------------------------------------------
// Rendering. Geometry is in pixels of a 64-pixel image scaled by size/64, with pixel centres at
// (x + 0.5, y + 0.5). Each shape is a signed distance function (negative inside); a pixel's coverage
// is clamp(0.5 − distance, 0, 1), an analytic anti-aliasing that costs one SDF per pixel of the
// object's box instead of supersampling.

/** Half the side of an object's bounding box at 64 px. */
export const OBJECT_RADIUS: Readonly<Record<Size, number>> = { small: 7, large: 12 };

/** Centre of each position as a fraction of the image side. */
export const POSITION_CENTRES: Readonly<Record<Position, readonly [number, number]>> = {
  left: [0.25, 0.5],
  right: [0.75, 0.5],
  top: [0.5, 0.25],
  bottom: [0.5, 0.75],
  centre: [0.5, 0.5],
};

/** Stripes and check squares are an eighth of the image wide. */
export const PATTERN_CELLS = 8;

/** The inner radius of a ring, and of a star's notches, as a share of the outer; a cross's half arm width. */
const RING_INNER = 0.55;
const STAR_INNER = 0.45;
const CROSS_HALF_ARM = 0.38;

export type Sdf = (x: number, y: number) => number;

function polygonSdf(points: readonly (readonly [number, number])[]): Sdf {
  // Inigo Quilez's exact polygon distance: nearest edge for the magnitude, crossing parity for the sign.
  return (px, py) => {
    let d = (px - points[0]![0]) ** 2 + (py - points[0]![1]) ** 2;
    let sign = 1;
    for (let i = 0, j = points.length - 1; i < points.length; j = i, i++) {
      const [xi, yi] = points[i]!;
      const [xj, yj] = points[j]!;
      const ex = xj - xi;
      const ey = yj - yi;
      const wx = px - xi;
      const wy = py - yi;
      const t = Math.min(1, Math.max(0, (wx * ex + wy * ey) / (ex * ex + ey * ey)));
      const bx = wx - ex * t;
      const by = wy - ey * t;
      d = Math.min(d, bx * bx + by * by);
      const c1 = py >= yi;
      const c2 = py < yj;
      const c3 = ex * wy > ey * wx;
      if ((c1 && c2 && c3) || (!c1 && !c2 && !c3)) sign = -sign;
    }
    return sign * Math.sqrt(d);
  };
}

function boxSdf(cx: number, cy: number, hx: number, hy: number): Sdf {
  return (px, py) => {
    const qx = Math.abs(px - cx) - hx;
    const qy = Math.abs(py - cy) - hy;
    return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0);
  };
}

/**
 * The signed distance (pixels, negative inside) to a shape whose bounding box is centred on (cx, cy)
 * with half side r; the scene checker fits these same outlines to an image.
 */
export function shapeSdf(shape: Shape, cx: number, cy: number, r: number): Sdf {
  switch (shape) {
    case 'circle':
      return (px, py) => Math.hypot(px - cx, py - cy) - r;
    case 'ring': {
      const mid = (r * (1 + RING_INNER)) / 2;
      const half = (r * (1 - RING_INNER)) / 2;
      return (px, py) => Math.abs(Math.hypot(px - cx, py - cy) - mid) - half;
    }
    case 'square':
      return boxSdf(cx, cy, r, r);
    case 'diamond':
      return (px, py) => (Math.abs(px - cx) + Math.abs(py - cy) - r) / Math.SQRT2;
    case 'triangle':
      // Apex up, base down: its centroid sits low, which tells it from a diamond.
      return polygonSdf([
        [cx, cy - r],
        [cx + r, cy + r],
        [cx - r, cy + r],
      ]);
    case 'star': {
      // Five points, one up; the outer radius makes the star r·2 wide (2·R·sin 72°), and the centre
      // moves down so the box (R above the centre, R·cos 36° below) is centred on cy.
      const outer = r / Math.sin((2 * Math.PI) / 5);
      const sy = cy + (outer * (1 - Math.cos(Math.PI / 5))) / 2;
      const points: [number, number][] = [];
      for (let k = 0; k < 10; k++) {
        const radius = k % 2 === 0 ? outer : outer * STAR_INNER;
        const angle = (k * Math.PI) / 5;
        points.push([cx + radius * Math.sin(angle), sy - radius * Math.cos(angle)]);
      }
      return polygonSdf(points);
    }
    case 'cross': {
      const arm = r * CROSS_HALF_ARM;
      const horizontal = boxSdf(cx, cy, r, arm);
      const vertical = boxSdf(cx, cy, arm, r);
      return (px, py) => Math.min(horizontal(px, py), vertical(px, py));
    }
  }
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 32 || size > 1024) throw new UserError('invalid-argument', `Scenes render at 32 to 1024 pixels, got ${size}.`);
}

/** Where and how an object is drawn (after the variation's jitter), in pixels of a `size` image. */
export interface PlacedObject {
  readonly object: SceneObject;
  readonly cx: number;
  readonly cy: number;
  /** Half the side of the bounding box. */
  readonly r: number;
  readonly rgb: readonly [number, number, number];
}

function jitterRgb(rgb: readonly [number, number, number], random: SceneRandom | undefined, amount: number): [number, number, number] {
  return rgb.map((v) => Math.min(255, Math.max(0, v + (random ? Math.round((random.float() * 2 - 1) * amount) : 0)))) as [number, number, number];
}

/** The objects of `scene` as drawn at `size`: centres, radii and colours after the variation's jitter. */
export function placeObjects(scene: Scene, size = 64): PlacedObject[] {
  const scale = size / 64;
  return scene.objects.map((object, k) => {
    const random = scene.variation === undefined ? undefined : new SceneRandom([scene.variation, 100 + k]);
    const jitter = (amount: number) => (random ? (random.float() * 2 - 1) * amount : 0);
    const [fx, fy] = POSITION_CENTRES[object.position];
    const cx = fx * size + jitter(1.5 * scale);
    const cy = fy * size + jitter(1.5 * scale);
    const r = OBJECT_RADIUS[object.size] * scale * (random ? 0.94 + 0.1 * random.float() : 1);
    return { object, cx, cy, r, rgb: jitterRgb(COLOUR_RGB[object.colour], random, 6) };
  });
}

/** The background alone: RGB, HWC, `size`² × 3 floats in 0…255. */
function renderBackground(scene: Scene, size: number, out: Float32Array): void {
  const random = scene.variation === undefined ? undefined : new SceneRandom([scene.variation, 99]);
  const base = jitterRgb(COLOUR_RGB[scene.background.colour], random, 4);
  const tone = secondTone(scene.background.colour);
  const cell = size / PATTERN_CELLS;
  // Phases of stripes and checks, whole pixels so the cell edges stay sharp; the gradient may run up or down.
  const phaseX = random ? random.below(2 * cell) : 0;
  const phaseY = random ? random.below(2 * cell) : 0;
  const flip = random ? random.float() < 0.5 : false;
  const { pattern } = scene.background;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let t: number;
      if (pattern === 'plain') t = 0;
      else if (pattern === 'horizontal-stripes') t = Math.floor((y + phaseY) / cell) % 2;
      else if (pattern === 'vertical-stripes') t = Math.floor((x + phaseX) / cell) % 2;
      else if (pattern === 'checks') t = (Math.floor((x + phaseX) / cell) + Math.floor((y + phaseY) / cell)) % 2;
      else t = flip ? 1 - y / (size - 1) : y / (size - 1);
      const i = (y * size + x) * 3;
      out[i] = base[0] + (tone[0] - base[0]) * t;
      out[i + 1] = base[1] + (tone[1] - base[1]) * t;
      out[i + 2] = base[2] + (tone[2] - base[2]) * t;
    }
  }
}

/** The scene as 8-bit RGB, HWC, row-major: `size`² × 3 bytes. */
export function renderScene(scene: Scene, size = 64): Uint8Array {
  checkScene(scene);
  checkSize(size);
  const canvas = new Float32Array(size * size * 3);
  renderBackground(scene, size, canvas);
  for (const placed of placeObjects(scene, size)) {
    const sdf = shapeSdf(placed.object.shape, placed.cx, placed.cy, placed.r);
    const x0 = Math.max(0, Math.floor(placed.cx - placed.r - 1));
    const x1 = Math.min(size - 1, Math.ceil(placed.cx + placed.r + 1));
    const y0 = Math.max(0, Math.floor(placed.cy - placed.r - 1));
    const y1 = Math.min(size - 1, Math.ceil(placed.cy + placed.r + 1));
    const [r, g, b] = placed.rgb;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const coverage = Math.min(1, Math.max(0, 0.5 - sdf(x + 0.5, y + 0.5)));
        if (coverage === 0) continue;
        const i = (y * size + x) * 3;
        canvas[i] += (r - canvas[i]) * coverage;
        canvas[i + 1] += (g - canvas[i + 1]) * coverage;
        canvas[i + 2] += (b - canvas[i + 2]) * coverage;
      }
    }
  }
  const image = new Uint8Array(canvas.length);
  for (let i = 0; i < canvas.length; i++) image[i] = Math.round(canvas[i]);
  return image;
}
