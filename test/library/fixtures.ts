// Helpers shared by the library tests: a temporary studio home, settings and small images.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GenerationSettings, RecipeSnapshot } from '../../app/images/generation-settings.ts';
import type { PixelImage } from '../../app/images/png.ts';

export function temporaryHome(label: string): { home: string; remove: () => void } {
  const home = mkdtempSync(join(tmpdir(), `afa-${label}-`));
  return { home, remove: () => rmSync(home, { recursive: true, force: true }) };
}

export function modelId(index: number): string {
  return index.toString(16).padStart(2, '0').repeat(32);
}

export function singleRecipe(index = 1): RecipeSnapshot {
  return { recipeId: null, name: null, method: 'single', members: [{ modelId: modelId(index), shortHash: modelId(index).slice(0, 10), name: `model-${index}` }], aggregatorId: null };
}

export function settings(overrides: Partial<GenerationSettings> = {}): GenerationSettings {
  return {
    prompt: 'a red fox in the snow',
    negativePrompt: 'blurry',
    seed: 42,
    steps: 20,
    guidance: 7.5,
    sampler: 'ddim',
    width: 32,
    height: 24,
    batchIndex: 0,
    recipe: singleRecipe(),
    ...overrides,
  };
}

export function pixels(width = 32, height = 24, seed = 1): PixelImage {
  const data = new Uint8Array(width * height * 3);
  let state = seed;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = state >>> 24;
  }
  return { width, height, channels: 3, data };
}

/** Every file under `directory`, relative, '/'-separated, sorted. */
export function filesUnder(directory: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, prefix: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path, `${prefix}${name}/`);
      else out.push(`${prefix}${name}`);
    }
  };
  walk(directory, '');
  return out.sort();
}
