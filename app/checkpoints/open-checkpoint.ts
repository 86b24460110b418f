// Opens whatever the user points at — a single-file `.safetensors` checkpoint (LDM layout) or a diffusers
// folder — as per-component configs and lazily read, diffusers-named weights. Pickle checkpoints are
// refused before a byte of them is interpreted (file-format.ts).
import { statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { UserError } from '../common/errors.ts';
import { PICKLE_EXTENSIONS, unsafeFileError } from './file-format.ts';
import { isDiffusersFolder, openDiffusersFolder } from './open-diffusers-folder.ts';
import type { OpenOptions } from './open-single-file.ts';
import { openSingleFile } from './open-single-file.ts';
import type { OpenedCheckpoint } from './opened-checkpoint.ts';

export type { OpenOptions } from './open-single-file.ts';

/** The caller owns the result and must call `close()` when done with the weights. */
export function openCheckpoint(path: string, options: OpenOptions = {}): OpenedCheckpoint {
  const absolute = resolve(path);
  let isFolder: boolean;
  try {
    isFolder = statSync(absolute).isDirectory();
  } catch {
    throw new UserError('not-found', `${absolute} does not exist.`, 'Check the path of the checkpoint.');
  }
  if (isFolder) {
    if (!isDiffusersFolder(absolute)) {
      throw new UserError(
        'invalid-argument',
        `${absolute} is a folder but not a diffusers model folder (it has no model_index.json nor unet/config.json).`,
        'Point at a .safetensors checkpoint file or at a diffusers pipeline folder.',
      );
    }
    return openDiffusersFolder(absolute, options);
  }
  const extension = extname(absolute).toLowerCase();
  if (PICKLE_EXTENSIONS.has(extension)) throw unsafeFileError(absolute, `is a PyTorch pickle checkpoint (${extension})`);
  return openSingleFile(absolute, options);
}
