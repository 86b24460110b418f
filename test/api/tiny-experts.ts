// The golden tiny experts as diffusers folders that carry their own tiny tokenizer (vocabulary of 1000),
// assembled with symlinks in a temporary folder: expert 1 is golden/models/afa itself; experts 2 and 3
// pair additional_unet_i / additional_text_encoder_i with the shared VAE, tokenizer and scheduler.
// (The single-file checkpoints would get the bundled 49,408-token SD tokenizer, which the tiny text
// encoders cannot embed.) Nothing from ../shared is copied into the repository.
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const golden = fileURLToPath(new URL('../../../shared/golden/', import.meta.url));
export const goldenAfa = join(golden, 'models', 'afa');
export const goldenSingleFiles = join(golden, 'models', 'single_file');

/** Folder of expert `n` (1–3), created below `scratch` when needed. */
export function tinyExpertFolder(scratch: string, n: 1 | 2 | 3): string {
  if (n === 1) return goldenAfa;
  const dir = join(scratch, `tiny-expert${n}`);
  mkdirSync(dir, { recursive: true });
  const parts: [string, string][] = [
    ['unet', `additional_unet_${n - 2}`],
    ['text_encoder', `additional_text_encoder_${n - 2}`],
    ['vae', 'vae'],
    ['tokenizer', 'tokenizer'],
    ['scheduler', 'scheduler'],
    ['model_index.json', 'model_index.json'],
  ];
  for (const [name, source] of parts) symlinkSync(join(goldenAfa, source), join(dir, name));
  return dir;
}
