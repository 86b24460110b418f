// The scene checker's accuracy on the generator's own images, per attribute, shared by the clean and
// the degraded checker tests.
import { judgeImage } from '../../app/demo/scene-checker.ts';
import { renderScene, sceneAt, type SceneObject } from '../../app/demo/scenes.ts';

export const ATTRIBUTES = ['shape', 'colour', 'size', 'position', 'background', 'count', 'all'] as const;
export type Attribute = (typeof ATTRIBUTES)[number];

export interface Accuracy {
  readonly scenes: number;
  /** Share of scenes judged right, per attribute (object attributes: every object right). */
  readonly scene: Readonly<Record<Attribute, number>>;
  /** Share of objects whose shape was right, per expected shape (objects found where expected). */
  readonly shapes: Readonly<Record<string, number>>;
  /** Expected → detected shape confusions, most frequent first. */
  readonly confusions: readonly string[];
}

/**
 * Judges `count` scenes (even indices from the 'test' split, odd from 'train') rendered at `size` and
 * passed through `transform` (the identity for clean renders).
 */
export function measureAccuracy(seed: number, count: number, size: number, transform: (image: Uint8Array, index: number) => Uint8Array = (image) => image): Accuracy {
  const right = Object.fromEntries(ATTRIBUTES.map((a) => [a, 0])) as Record<Attribute, number>;
  const shapeRight = new Map<string, [number, number]>();
  const confusions = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const scene = sceneAt(seed, i, i % 2 === 0 ? 'test' : 'train');
    const judgement = judgeImage(transform(renderScene(scene, size), i), size, scene);
    for (const attribute of ATTRIBUTES) if (judgement[attribute]) right[attribute]++;
    for (const expected of scene.objects) {
      const found: SceneObject | undefined = judgement.detected.objects.find((o) => o.position === expected.position);
      const tally = shapeRight.get(expected.shape) ?? [0, 0];
      tally[1]++;
      if (found?.shape === expected.shape) tally[0]++;
      else if (found) confusions.set(`${expected.size} ${expected.shape} → ${found.shape}`, (confusions.get(`${expected.size} ${expected.shape} → ${found.shape}`) ?? 0) + 1);
      shapeRight.set(expected.shape, tally);
    }
  }
  return {
    scenes: count,
    scene: Object.fromEntries(ATTRIBUTES.map((a) => [a, right[a] / count])) as Record<Attribute, number>,
    shapes: Object.fromEntries([...shapeRight].map(([shape, [ok, all]]) => [shape, ok / all])),
    confusions: [...confusions].sort((a, b) => b[1] - a[1]).map(([what, n]) => `${what} ×${n}`),
  };
}

export function formatAccuracy(label: string, accuracy: Accuracy): string {
  const percent = (v: number) => `${(100 * v).toFixed(1)} %`;
  return [
    `${label} (${accuracy.scenes} scenes): ${ATTRIBUTES.map((a) => `${a} ${percent(accuracy.scene[a])}`).join(', ')}`,
    `  shape by kind: ${Object.entries(accuracy.shapes).map(([shape, v]) => `${shape} ${percent(v)}`).join(', ')}`,
    `  confusions: ${accuracy.confusions.slice(0, 8).join(', ') || 'none'}`,
  ].join('\n');
}
