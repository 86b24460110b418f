// The float16-compute forms of a stored model's graphs, for GPU providers (ModelRuntime.offerFloat16).
// Each is built from the stored weights and config the first time a job wants it, into a folder beside
// the float32 graph (`<model>/float16-v<N>/unet.onnx`, `<shared vae>/float16-v<N>/vae_decoder.onnx`).
// The graph casts the stored weights at session creation, so no weights are written: the folder holds a
// hard link to the weights file and a graph of a few hundred kilobytes. Removing the model removes it.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { saveComponent, type ComponentSpec } from '../models/compile-component.ts';
import { parseClipTextConfig } from '../models/clip-text-config.ts';
import { parseUnetConfig } from '../models/unet-config.ts';
import { parseVaeConfig } from '../models/vae-config.ts';
import { SafetensorsFile } from '../tensor/safetensors.ts';
import { storedModelFiles, UNET_GRAPH_VERSION, type ModelManifest } from './model-store.ts';

/** Bump when the float16 graphs change (their upcasts, their I/O); older folders are rebuilt. */
export const FLOAT16_FORM_VERSION = 1;

/** The folder name of the current float16 forms: both the form version and the U-Net graph version. */
export const FLOAT16_FOLDER = `float16-v${FLOAT16_FORM_VERSION}.${UNET_GRAPH_VERSION}`;

export type Float16Component = 'unet' | 'text-encoder' | 'vae-decoder';

/** The stored graph (float32 form) of `component`; the key ModelRuntime.offerFloat16 is told. */
export function storedGraphPath(home: string, manifest: ModelManifest, component: Float16Component): string {
  const files = storedModelFiles(home, manifest);
  return component === 'unet' ? files.unet : component === 'text-encoder' ? files.textEncoder : files.vaeDecoder;
}

/**
 * Writes (when missing) the float16 form of `component` of a stored model and returns its path. Atomic:
 * a folder killed halfway holds no graph, and the next call writes it again. Forms of older versions
 * beside it are removed.
 */
export function storedFloat16Form(home: string, manifest: ModelManifest, component: Float16Component): string {
  const files = storedModelFiles(home, manifest);
  const graphPath = storedGraphPath(home, manifest, component);
  const folder = join(dirname(graphPath), FLOAT16_FOLDER);
  const target = join(folder, basename(graphPath));
  if (existsSync(target)) return target;
  for (const entry of readdirSync(dirname(graphPath))) {
    if (entry.startsWith('float16-v') && entry !== FLOAT16_FOLDER) rmSync(join(dirname(graphPath), entry), { recursive: true, force: true });
  }
  const weightsPath = component === 'unet' ? files.unetWeights : component === 'text-encoder' ? files.textEncoderWeights : files.vaeWeights;
  const weights = SafetensorsFile.open(weightsPath);
  try {
    const label = `of '${manifest.name}'`;
    const spec: ComponentSpec =
      component === 'unet'
        ? { kind: 'unet', config: parseUnetConfig(manifest.configs.unet, `U-Net config ${label}`), weights, computeDtype: 'float16' }
        : component === 'text-encoder'
          ? { kind: 'text-encoder', config: parseClipTextConfig(manifest.configs.textEncoder, `text encoder config ${label}`), weights, computeDtype: 'float16' }
          : { kind: 'vae-decoder', config: parseVaeConfig(manifest.configs.vae, `VAE config ${label}`), weights, computeDtype: 'float16' };
    const saved = saveComponent(spec, folder);
    const path = [...saved.values()][0]!;
    if (basename(path) !== basename(graphPath)) throw new Error(`the float16 graph was saved as ${basename(path)}, not ${basename(graphPath)}`);
    return path;
  } finally {
    weights.close();
  }
}
