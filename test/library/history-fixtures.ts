// A history left by an earlier session, for tests of reconciliation and import: settings of a tiny
// single-model generation, and image files written with an old modification time.
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { GenerationSettings } from '../../app/images/generation-settings.ts';

export function tinyGenerationSettings(prompt: string, seed = 1): GenerationSettings {
  return {
    prompt, negativePrompt: '', seed, steps: 4, guidance: 7, sampler: 'ddim', width: 24, height: 16, batchIndex: 0,
    recipe: { recipeId: null, name: null, method: 'single', members: [{ modelId: null, shortHash: null, name: 'tiny' }], aggregatorId: null },
  };
}

/** Writes `bytes` at `path` dated an hour ago: reconciliation leaves younger images alone (a save in progress). */
export function writeOldFile(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(path, hourAgo, hourAgo);
}
