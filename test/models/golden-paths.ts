// Where the shared golden reference data lives: next to the repository, never copied into it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ManifestCase } from '../golden/case-kind.ts';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const goldenDir = join(repoRoot, '..', 'shared', 'golden');

let manifest: { cases: ManifestCase[] } | undefined;

export function goldenCase(id: string): ManifestCase {
  if (!manifest) {
    // Python's json writes -Infinity (a scheduler field); -1e999 is a spelling JSON.parse accepts.
    const text = readFileSync(join(goldenDir, 'manifest.json'), 'utf8').replace(/-Infinity\b/g, '-1e999');
    manifest = JSON.parse(text) as { cases: ManifestCase[] };
  }
  const found = manifest.cases.find((c) => c.id === id);
  if (!found) throw new Error(`golden case ${id} not found`);
  return found;
}

export function goldenJson(relativePath: string): unknown {
  return JSON.parse(readFileSync(join(goldenDir, relativePath), 'utf8'));
}
