// One component folder as diffusers/transformers save it (`save_pretrained`): config.json plus
// `diffusion_pytorch_model.safetensors` (diffusers) or `model.safetensors` (transformers), or their
// `.fp16` variants. Whole pipeline folders and single-file checkpoints are app/checkpoints' business; this
// reads one component (e.g. AFA's `additional_unet_0/`), which is all the model builders need.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../common/errors.ts';
import { SafetensorsFile } from '../tensor/safetensors.ts';

export interface DiffusersComponent<C> {
  /** Absolute folder path. */
  readonly dir: string;
  readonly config: C;
  /** Raw config.json, for storing with results. */
  readonly configJson: unknown;
  /** Lazily read weights under diffusers/transformers names; call close() when done. */
  readonly weights: SafetensorsFile;
  close(): void;
}

const WEIGHT_FILES = [
  'diffusion_pytorch_model.safetensors',
  'model.safetensors',
  'diffusion_pytorch_model.fp16.safetensors',
  'model.fp16.safetensors',
];

/** Opens `dir`; `parse` turns config.json into the component's config (and refuses what it cannot run). */
export function openDiffusersComponent<C>(dir: string, parse: (json: unknown, source: string) => C): DiffusersComponent<C> {
  const folder = resolve(dir);
  const configPath = join(folder, 'config.json');
  if (!existsSync(configPath)) {
    throw new UserError('not-found', `${folder} has no config.json.`, 'Choose a diffusers component folder (e.g. the unet/ folder of a pipeline).');
  }
  let configJson: unknown;
  try {
    configJson = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (error) {
    throw new UserError('corrupt-file', `${configPath} is not valid JSON (${(error as Error).message}).`);
  }
  const config = parse(configJson, configPath);
  const weightsFile = WEIGHT_FILES.map((name) => join(folder, name)).find((path) => existsSync(path));
  if (!weightsFile) {
    const pickled = ['diffusion_pytorch_model.bin', 'pytorch_model.bin'].some((name) => existsSync(join(folder, name)));
    throw new UserError(
      pickled ? 'unsafe-file' : 'not-found',
      pickled ? `${folder} only has pickled weights (.bin), which can run code when loaded.` : `${folder} has no safetensors weights (${WEIGHT_FILES.join(', ')}).`,
      pickled ? 'Convert the weights to safetensors first.' : 'Check that the folder is complete.',
    );
  }
  const weights = SafetensorsFile.open(weightsFile);
  return { dir: folder, config, configJson, weights, close: () => weights.close() };
}
