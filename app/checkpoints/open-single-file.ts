// Opens an original CompVis/LDM single-file `.safetensors` checkpoint (what sd-webui, ComfyUI and
// model sites distribute) as three diffusers-named components, reading only the header. Tensors no
// component uses — EMA copies (`model_ema.*`, ignored as diffusers' converter does by default),
// `position_ids`, noise-schedule buffers (`betas`, `alphas_cumprod`, ...), optimizer leftovers — are
// ignored and listed in `ignoredTensors`.
import { resolve } from 'node:path';
import { UserError } from '../common/errors.ts';
import { SafetensorsFile } from '../tensor/safetensors.ts';
import type { ComponentConfigs, ConfigOverrides } from './component-config.ts';
import { SD15_CONFIGS, mergeConfigs, textEncoderLayout, unetLayout, vaeLayout } from './component-config.ts';
import { assertSupported, detectCheckpoint } from './detect.ts';
import { assertSafetensorsFile } from './file-format.ts';
import {
  crossCheckConfig,
  inferTextEncoderConfig,
  inferUnetConfig,
  inferVaeConfig,
  ldmUnetNaming,
  ldmVaeNaming,
} from './infer-config.ts';
import { TEXT_ENCODER_LDM_PREFIX, UNET_LDM_PREFIX, VAE_LDM_PREFIX, textEncoderKeyMap, unetKeyMap, vaeKeyMap } from './ldm-keys.ts';
import type { MappedTensor } from './mapped-weights.ts';
import { MappedWeights } from './mapped-weights.ts';
import type { OpenedCheckpoint } from './opened-checkpoint.ts';
import { assertComplete, sourcePrecisionOf } from './opened-checkpoint.ts';

export interface OpenOptions {
  /** Config fields per component, over the SD1.5 defaults (single files) or the folder's config.json. */
  readonly configOverrides?: ConfigOverrides;
  /**
   * Diffusers folders only: component subfolders other than unet/, text_encoder/, vae/ — an official AFA
   * folder keeps experts 2… as additional_unet_k/ and additional_text_encoder_k/ beside expert 1's.
   */
  readonly subfolders?: Partial<Readonly<Record<'unet' | 'textEncoder' | 'vae', string>>>;
}

const CONFIG_HINT =
  'A single-file checkpoint carries no config, so the studio assumes the Stable Diffusion 1.5 architecture; for a model of another size give the folder with its unet/, text_encoder/ and vae/ config.json (the config folder when importing; --config-dir in the CLI).';

export function openSingleFile(path: string, options: OpenOptions = {}): OpenedCheckpoint {
  const absolute = resolve(path);
  assertSafetensorsFile(absolute);
  const file = SafetensorsFile.open(absolute);
  try {
    const detection = detectCheckpoint(file, file.metadata);
    assertSupported(detection, absolute);
    const configs: ComponentConfigs = mergeConfigs(SD15_CONFIGS, options.configOverrides);
    const textEncoderPrefix = detection.textEncoderPrefix ?? TEXT_ENCODER_LDM_PREFIX;
    requirePart(file, UNET_LDM_PREFIX, 'U-Net', absolute);
    requirePart(file, textEncoderPrefix, 'CLIP text encoder', absolute);
    requirePart(file, VAE_LDM_PREFIX, 'VAE', absolute);

    crossCheckConfig('unet', inferUnetConfig(file, ldmUnetNaming), configs.unet, absolute, CONFIG_HINT);
    crossCheckConfig('vae', inferVaeConfig(file, ldmVaeNaming), configs.vae, absolute, CONFIG_HINT);
    crossCheckConfig('textEncoder', inferTextEncoderConfig(file, textEncoderPrefix), configs.textEncoder, absolute, CONFIG_HINT);

    const unetMapping: MappedTensor[] = unetKeyMap(unetLayout(configs.unet)).map((key) => ({ name: key.diffusers, sourceName: key.ldm }));
    const textMapping: MappedTensor[] = textEncoderKeyMap(textEncoderLayout(configs.textEncoder), textEncoderPrefix).map((key) => ({
      name: key.diffusers,
      sourceName: key.ldm,
    }));
    const vaeMapping: MappedTensor[] = vaeKeyMap(vaeLayout(configs.vae)).map((key) => {
      if (!key.reshape) return { name: key.diffusers, sourceName: key.ldm };
      // LDM stores the mid attention projections as 1×1 convs [C, C, 1, 1]; diffusers as linears [C, C].
      const shape = file.has(key.ldm) ? file.get(key.ldm).shape : [];
      return { name: key.diffusers, sourceName: key.ldm, shape: shape.length === 4 ? shape.slice(0, 2) : undefined };
    });
    assertComplete(unetMapping, file, 'SD1.x U-Net', absolute);
    assertComplete(textMapping, file, 'CLIP text encoder', absolute);
    assertComplete(vaeMapping, file, 'VAE', absolute);

    const components = {
      unet: { config: configs.unet, weights: new MappedWeights(file, unetMapping, `the U-Net of ${absolute}`) },
      textEncoder: { config: configs.textEncoder, weights: new MappedWeights(file, textMapping, `the text encoder of ${absolute}`) },
      vae: { config: configs.vae, weights: new MappedWeights(file, vaeMapping, `the VAE of ${absolute}`) },
    };
    const used = new Set([...unetMapping, ...textMapping, ...vaeMapping].map((entry) => entry.sourceName));
    return Object.freeze({
      format: 'single-file',
      path: absolute,
      detection,
      components: Object.freeze(components),
      tokenizer: Object.freeze({ kind: 'default' }),
      weightFiles: Object.freeze([absolute]),
      sourcePrecision: sourcePrecisionOf([components.unet.weights, components.textEncoder.weights, components.vae.weights]),
      ignoredTensors: Object.freeze(file.names().filter((name) => !used.has(name))),
      close: () => file.close(),
    });
  } catch (error) {
    file.close();
    throw error;
  }
}

function requirePart(file: SafetensorsFile, prefix: string, what: string, path: string): void {
  if (file.names().some((name) => name.startsWith(prefix))) return;
  throw new UserError(
    'unsupported',
    `${path} has no ${what} (no tensor starts with '${prefix}'). The studio imports complete checkpoints (U-Net, text encoder and VAE).`,
    'Use the full version of this checkpoint, or its diffusers folder.',
  );
}
