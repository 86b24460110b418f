// The golden tiny SD1.x pipeline folder (models/afa: expert 1 with its own 1000-token tokenizer),
// imported once per test file into a temporary studio home. Read in place from ../shared/golden.
import { mkdtempSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importCheckpoint } from '../../app/checkpoints/import-checkpoint.ts';
import type { ModelManifest } from '../../app/checkpoints/model-store.ts';
import { Library } from '../../app/library/library.ts';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const goldenDir = join(repoRoot, '..', 'shared', 'golden');
export const TINY_FOLDER = join(goldenDir, 'models', 'afa');
export const TINY_SINGLE_FILE = join(goldenDir, 'models', 'single_file', 'expert1_fp32.safetensors');

export function temporaryDirectory(t: { after(fn: () => void): void }, prefix = 'afa-pipeline-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A studio home with the tiny model imported and the library open (closed after the test). */
export async function tinyStudio(t: { after(fn: () => void): void }): Promise<{ home: string; library: Library; model: ModelManifest }> {
  const home = temporaryDirectory(t);
  const library = Library.open({ home });
  t.after(() => library.close());
  const imported = await importCheckpoint(TINY_FOLDER, { home, catalog: library.models });
  return { home, library, model: imported.manifest };
}

/** Files (not folders) below `dir`, relative, sorted; [] when it does not exist. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}
