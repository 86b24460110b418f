// The golden tiny experts as diffusers folders that carry their own tiny tokenizer (vocabulary of 1000),
// assembled with symlinks in a temporary folder: expert 1 pairs golden/models/afa's unet/ and text_encoder/, experts 2 and 3
// pair additional_unet_i / additional_text_encoder_i with the shared VAE, tokenizer and scheduler.
// (The single-file checkpoints would get the bundled 49,408-token SD tokenizer, which the tiny text
// encoders cannot embed.) Nothing from ../shared is copied into the repository.
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StudioServices } from '../../app/api/services.ts';

export const golden = fileURLToPath(new URL('../../../shared/golden/', import.meta.url));
export const goldenAfa = join(golden, 'models', 'afa');
export const goldenSingleFiles = join(golden, 'models', 'single_file');

/**
 * Folder of expert `n` (1–3), created below `scratch` when needed. Expert 1 too is a folder of its own:
 * the official AFA folder itself imports all three experts.
 */
export function tinyExpertFolder(scratch: string, n: 1 | 2 | 3): string {
  const dir = join(scratch, `tiny-expert${n}`);
  if (existsSync(dir)) return dir;
  mkdirSync(dir, { recursive: true });
  const parts: [string, string][] = [
    ['unet', n === 1 ? 'unet' : `additional_unet_${n - 2}`],
    ['text_encoder', n === 1 ? 'text_encoder' : `additional_text_encoder_${n - 2}`],
    ['vae', 'vae'],
    ['tokenizer', 'tokenizer'],
    ['scheduler', 'scheduler'],
    ['model_index.json', 'model_index.json'],
  ];
  for (const [name, source] of parts) symlinkSync(join(goldenAfa, source), join(dir, name));
  return dir;
}

/**
 * Imports tiny experts `experts` (named `tiny<n>`, folders below `scratch`) one after another through the
 * models service; resolves with their model ids in that order, rejects with the message of a failed import.
 */
export async function importTinyExperts(services: Pick<StudioServices, 'models'>, scratch: string, experts: readonly (1 | 2 | 3)[]): Promise<string[]> {
  const ids: string[] = [];
  for (const n of experts) {
    const unsubscribe: (() => void)[] = [];
    const finished = new Promise<string>((resolve, reject) => {
      unsubscribe.push(services.models.onDidImportFinish((event) => resolve(event.model.id)));
      unsubscribe.push(services.models.onDidImportFail((event) => reject(new Error(event.error.message))));
    });
    try {
      await services.models.import({ source: { kind: 'path', path: tinyExpertFolder(scratch, n) }, name: `tiny${n}` });
      ids.push(await finished);
    } finally {
      for (const off of unsubscribe) off();
    }
  }
  return ids;
}
