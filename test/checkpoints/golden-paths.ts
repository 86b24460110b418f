// Where the shared golden data lives: ../shared/golden next to the repository, read in place, never copied.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const goldenDir = join(repoRoot, '..', 'shared', 'golden');

export function golden(...parts: string[]): string {
  return join(goldenDir, ...parts);
}
