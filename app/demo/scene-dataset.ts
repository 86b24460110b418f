// Demo scenes as training data: a dataset folder in kohya's sd-scripts layout (`000000.png` +
// `000000.txt`, which app/datasets/image-dataset.ts reads), or a batch of pixels in memory for training
// code that does not go through files.
//
// The folder appears whole or not at all: it is written as a temporary sibling and renamed into place
// when complete, and removed on failure or cancellation. `dataset.json` beside the images records the
// generator settings (the caption reader ignores it: it reads only images and their .txt files).
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CancelledError, UserError, throwIfCancelled } from '../common/errors.ts';
import { diskFullError, isDiskFull } from '../common/atomic-write.ts';
import type { JobControl } from '../common/progress.ts';
import { encodePng } from '../images/png.ts';
import { DEMO_DOMAIN_NAMES, captionOf, domainSceneAt, renderScene, sceneAt, type DemoDomainName, type Scene, type Split } from './scenes.ts';

export interface SceneDatasetOptions {
  /** 'train' or 'test' scenes; a domain implies 'train'. */
  readonly split?: Split;
  /** Only training scenes of this expert domain (see DEMO_DOMAINS). */
  readonly domain?: DemoDomainName;
  readonly count: number;
  readonly seed: number;
  /** Image side in pixels (default 64). */
  readonly size?: number;
  /** Replace an existing folder (default: refuse). */
  readonly replace?: boolean;
}

/** What `dataset.json` records. */
export interface SceneDatasetInfo {
  readonly generator: 'afa-demo-scenes';
  readonly version: 1;
  readonly split: Split;
  readonly domain: DemoDomainName | null;
  readonly count: number;
  readonly seed: number;
  readonly size: number;
}

/** Scenes `0 … count − 1` of a split or domain, the ones a dataset with these options holds. */
export function datasetScenes(options: Pick<SceneDatasetOptions, 'split' | 'domain' | 'seed'>, count: number): Scene[] {
  const scenes: Scene[] = [];
  for (let index = 0; index < count; index++) {
    scenes.push(options.domain !== undefined ? domainSceneAt(options.domain, options.seed, index) : sceneAt(options.seed, index, options.split ?? 'train'));
  }
  return scenes;
}

/** The file stem of item `index`: six digits, so name order is index order. */
export function itemName(index: number): string {
  return String(index).padStart(6, '0');
}

function checkOptions(options: SceneDatasetOptions): Required<Omit<SceneDatasetOptions, 'domain'>> & { domain: DemoDomainName | undefined } {
  const { count, seed, domain } = options;
  const size = options.size ?? 64;
  const split = options.split ?? 'train';
  if (!Number.isInteger(count) || count < 1 || count > 999_999) throw new UserError('invalid-argument', `A demo dataset holds 1 to 999999 scenes, got ${count}.`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new UserError('invalid-argument', `The seed must be a whole number from 0 to 2^53 − 1, got ${seed}.`);
  if (domain !== undefined && !DEMO_DOMAIN_NAMES.includes(domain)) throw new UserError('invalid-argument', `There is no demo domain '${String(domain)}'.`, `Choose one of ${DEMO_DOMAIN_NAMES.join(', ')}.`);
  if (domain !== undefined && split !== 'train') throw new UserError('invalid-argument', `Expert domains are parts of the training data; the '${domain}' domain has no '${split}' split.`);
  if (split !== 'train' && split !== 'test') throw new UserError('invalid-argument', `The split must be 'train' or 'test', got '${String(split)}'.`);
  if (!Number.isInteger(size) || size < 64 || size % 64 !== 0) throw new UserError('invalid-argument', `Training images are a multiple of 64 pixels on a side (64, 128, …), got ${size}.`);
  return { count, seed, domain, size, split, replace: options.replace ?? false };
}

/**
 * Writes `count` scenes into `folder` as `NNNNNN.png` + `NNNNNN.txt` and `dataset.json`. Refuses an
 * existing non-empty folder unless `replace`. Progress is reported per image; a cancel removes
 * everything written.
 */
export async function writeSceneDataset(folder: string, options: SceneDatasetOptions, control: JobControl = {}): Promise<SceneDatasetInfo> {
  const { count, seed, domain, size, split, replace } = checkOptions(options);
  const target = resolve(folder);
  if (existsSync(target) && readdirSync(target).length > 0 && !replace) {
    throw new UserError('conflict', `${target} already exists and is not empty.`, 'Choose a new folder, or replace it.');
  }
  mkdirSync(dirname(target), { recursive: true });
  const temporary = join(dirname(target), `.tmp-${basename(target)}-${randomBytes(6).toString('hex')}`);
  const info: SceneDatasetInfo = { generator: 'afa-demo-scenes', version: 1, split, domain: domain ?? null, count, seed, size };
  try {
    mkdirSync(temporary);
    const report = (done: number) => control.onProgress?.({ phase: 'render-scenes', done, total: count, unit: 'items', message: `Rendered ${done} of ${count} demo scenes` });
    report(0);
    for (let index = 0; index < count; index++) {
      throwIfCancelled(control.signal);
      const scene = domain !== undefined ? domainSceneAt(domain, seed, index) : sceneAt(seed, index, split);
      const png = encodePng({ width: size, height: size, channels: 3, data: renderScene(scene, size) });
      writeFileSync(join(temporary, `${itemName(index)}.png`), png);
      writeFileSync(join(temporary, `${itemName(index)}.txt`), `${captionOf(scene)}\n`);
      // A turn of the event loop every 64 images keeps the process answering (and seeing a cancel).
      if (index % 64 === 63) {
        report(index + 1);
        await new Promise<void>((resolveTurn) => setImmediate(resolveTurn));
      }
    }
    throwIfCancelled(control.signal);
    writeFileSync(join(temporary, 'dataset.json'), `${JSON.stringify(info, null, 2)}\n`);
    report(count);
    if (existsSync(target)) {
      // Replace: move the old folder aside first, so the target is never half old and half new.
      const old = `${temporary}-old`;
      renameSync(target, old);
      renameSync(temporary, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(temporary, target);
    }
    return info;
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true });
    if (error instanceof CancelledError) throw error;
    if (isDiskFull(error)) throw diskFullError(target);
    throw error;
  }
}

// (x / 255 − 0.5) / 0.5 in float32 steps, exactly as load-training-image.ts scales a decoded image, so
// a batch from memory equals the same scenes read back from a dataset folder.
const toUnit = (x: number): number => Math.fround(Math.fround(Math.fround(x / 255) - 0.5) / 0.5);

/** A batch of scenes as float32 NCHW pixels in [-1, 1], with their captions. */
export interface SceneBatch {
  /** [B, 3, size, size]. */
  readonly pixels: Float32Array;
  readonly shape: readonly [number, 3, number, number];
  readonly captions: string[];
}

export function sceneBatch(scenes: readonly Scene[], size = 64): SceneBatch {
  const plane = size * size;
  const pixels = new Float32Array(scenes.length * 3 * plane);
  scenes.forEach((scene, b) => {
    const image = renderScene(scene, size);
    const offset = b * 3 * plane;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) pixels[offset + c * plane + p] = toUnit(image[p * 3 + c]!);
    }
  });
  return { pixels, shape: [scenes.length, 3, size, size], captions: scenes.map(captionOf) };
}
