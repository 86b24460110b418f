// The three golden tiny experts as diffusers folders the studio can import: expert 1 is the official
// AFA folder's own pipeline (unet, text_encoder, vae, tokenizer); experts 2 and 3 are its additional_unet_k
// and additional_text_encoder_k, given the shared VAE and tokenizer through symbolic links in a temp dir.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const goldenAfaDir = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), '..', 'shared', 'golden', 'models', 'afa');

/** Folders of the three experts (made once per process, inside `scratch`). */
export function goldenExpertFolders(scratch: string): string[] {
  const root = mkdtempSync(join(scratch, 'experts-'));
  return [0, 1, 2].map((k) => {
    const folder = join(root, `expert${k + 1}`);
    mkdirSync(folder);
    const link = (name: string, target: string) => symlinkSync(join(goldenAfaDir, target), join(folder, name));
    link('unet', k === 0 ? 'unet' : `additional_unet_${k - 1}`);
    link('text_encoder', k === 0 ? 'text_encoder' : `additional_text_encoder_${k - 1}`);
    link('vae', 'vae');
    link('tokenizer', 'tokenizer');
    link('scheduler', 'scheduler');
    writeFileSync(
      join(folder, 'model_index.json'),
      JSON.stringify({ _class_name: 'StableDiffusionPipeline', unet: ['diffusers', 'UNet2DConditionModel'], text_encoder: ['transformers', 'CLIPTextModel'], vae: ['diffusers', 'AutoencoderKL'], tokenizer: ['transformers', 'CLIPTokenizer'], scheduler: ['diffusers', 'DDIMScheduler'] }),
    );
    return folder;
  });
}

export function scratchDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
