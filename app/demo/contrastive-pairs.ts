// How well the demo's contrastively trained text encoder tells apart captions that differ in one
// attribute (the check after the text stage of train-family.ts). For each kind of difference, pairs of
// training-distribution scenes that differ only there (scenes.ts `sceneVariant`, or stripes turned the
// other way; from an index range no stage trains on) go through the contrastive model the text stage
// trained, and each image must score its own caption above its pair's: two decisions per pair. 50 % is
// chance; an attribute the encoder cannot tell apart here is one no U-Net conditioned on it can follow.
import { rmSync } from 'node:fs';
import type { ClipTextConfig } from '../models/clip-text-config.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { MemoryWeights } from '../tensor/weights.ts';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { buildContrastiveTrainingGraph, CONTRASTIVE_INPUTS, CONTRASTIVE_LOGITS_OUTPUT, type ContrastiveOptions } from '../training/contrastive-training-graph.ts';
import { TrainingSession } from '../training/training-session.ts';
import { sceneBatch } from './scene-dataset.ts';
import { captionOf, isHeldOut, OTHER_STRIPES, sceneAt, sceneVariant, type Scene } from './scenes.ts';

/** What the two scenes of a pair differ in: 'stripes' is horizontal against vertical stripes, 'pattern' any other change of pattern. */
export const PAIR_KINDS = ['stripes', 'pattern', 'shape', 'colour', 'size', 'position'] as const;
export type PairKind = (typeof PAIR_KINDS)[number];

/** First scene index of the pairs: far above every index a family stage draws. */
const PAIR_INDEX_BASE = 90_000_000;

/** `count` pairs of training scenes that differ only in `kind`, a pure function of (seed, kind, count). */
export function contrastivePairs(seed: number, kind: PairKind, count: number): [Scene, Scene][] {
  const pairs: [Scene, Scene][] = [];
  for (let index = PAIR_INDEX_BASE + PAIR_KINDS.indexOf(kind) * 1_000_000; pairs.length < count; index++) {
    const scene = sceneAt(seed, index);
    const swapped = OTHER_STRIPES[scene.background.pattern];
    if (kind === 'stripes') {
      const variant: Scene | undefined = swapped && { ...scene, background: { ...scene.background, pattern: swapped } };
      if (variant && !isHeldOut(variant)) pairs.push([scene, variant]);
      continue;
    }
    if (kind === 'pattern' && swapped) continue;
    pairs.push([scene, sceneVariant(scene, kind, [seed, index, 7])]);
  }
  return pairs;
}

export interface PairAccuracy {
  readonly kind: PairKind;
  readonly pairs: number;
  /** Share of the 2·pairs decisions (each image against its own and its pair's caption) that were right. */
  readonly accuracy: number;
}

/**
 * Runs the pairs of every kind through the contrastive model with weights `weights` (text encoder,
 * text projection and image encoder, as the text stage trains them). `dir` is scratch for the compiled
 * graph and is removed afterwards.
 */
export async function contrastivePairAccuracy(options: {
  readonly weights: ReadonlyMap<string, Tensor<'float32'>>;
  readonly textConfig: ClipTextConfig;
  readonly contrastive: ContrastiveOptions;
  readonly imageSize: number;
  readonly seed: number;
  readonly dir: string;
  /** Pairs per kind (default 32). */
  readonly pairs?: number;
}): Promise<PairAccuracy[]> {
  const count = options.pairs ?? 32;
  const batch = 2 * count;
  const weights = new MemoryWeights(new Map(options.weights));
  const session = await TrainingSession.create(buildContrastiveTrainingGraph({ weights, config: options.textConfig }, weights, { batch, size: options.imageSize }, { ...options.contrastive, name: 'contrastive_pairs' }), { dir: options.dir });
  const tokenizer = ClipTokenizer.default();
  try {
    const parameters = Object.fromEntries([...session.parameters].map(([name, data]) => [name, { dtype: 'float32' as const, shape: session.shapes.get(name)!, data }]));
    const results: PairAccuracy[] = [];
    for (const kind of PAIR_KINDS) {
      const scenes = contrastivePairs(options.seed, kind, count).flat();
      const images = sceneBatch(scenes, options.imageSize);
      const outputs = await session.session.run({
        ...parameters,
        [CONTRASTIVE_INPUTS.image]: { dtype: 'float32', shape: [...images.shape], data: images.pixels },
        [CONTRASTIVE_INPUTS.inputIds]: tokenizer.encodeBatch(scenes.map(captionOf)),
      });
      const logits = outputs[CONTRASTIVE_LOGITS_OUTPUT]!.data as Float32Array;
      const at = (image: number, caption: number) => logits[image * batch + caption]!;
      let right = 0;
      for (let p = 0; p < count; p++) {
        const a = 2 * p;
        const b = a + 1;
        if (at(a, a) > at(a, b)) right++;
        if (at(b, b) > at(b, a)) right++;
      }
      results.push({ kind, pairs: count, accuracy: right / batch });
    }
    return results;
  } finally {
    await session.release();
    rmSync(options.dir, { recursive: true, force: true });
  }
}
