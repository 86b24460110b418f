// Exports a merge / MBW recipe as ONE single-file checkpoint in the original CompVis/LDM layout
// (`model.diffusion_model.*`, `first_stage_model.*`, `cond_stage_model.transformer.text_model.*`), the
// layout sd-webui, ComfyUI and the studio's own importer read. Running a recipe never writes such a file;
// only this export does, when the user asks for one (`afa merge --out model.safetensors`).
//
// Every component is merged: the U-Net with the recipe's weights (MBW: per block), the text encoder and
// the VAE with the same weights (MBW: with `base`, as MBW's loop does for every non-U-Net key). Tensors
// are computed, converted and written one at a time (peak memory: a few copies of the largest tensor),
// into a temporary sibling renamed over `out` at the end (SafetensorsWriter); cancellation is checked
// before each tensor, and an error, a cancel or a full disk leaves nothing behind.
import { existsSync, statSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { UserError } from '../common/errors.ts';
import type { JobControl } from '../common/progress.ts';
import type { ComponentConfig, ComponentName } from '../checkpoints/component-config.ts';
import { textEncoderLayout, unetLayout, vaeLayout } from '../checkpoints/component-config.ts';
import { TEXT_ENCODER_LDM_PREFIX, textEncoderKeyMap, unetKeyMap, vaeKeyMap } from '../checkpoints/ldm-keys.ts';
import { castFloat } from '../tensor/cast.ts';
import { SafetensorsWriter, type SafetensorsWriteEntry } from '../tensor/safetensors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { WeightSource } from '../tensor/weights.ts';
import { mergeComponentWeights, type MergeMethod } from './merge-method.ts';

/** One recipe member: per component its config.json fields and its diffusers-named weights. */
export interface ExportMember {
  /** Display name, for messages and the file's metadata. */
  readonly name: string;
  readonly components: Readonly<Record<ComponentName, { readonly config: ComponentConfig; readonly weights: WeightSource }>>;
}

export interface ExportOptions {
  /** Stored float dtype; default 'fp32' (the merge is computed in float32). 'fp16' halves the file. */
  readonly precision?: 'fp32' | 'fp16';
  /** Replace an existing file at `out`; default false (refused). */
  readonly overwrite?: boolean;
}

export interface ExportedCheckpoint {
  readonly path: string;
  readonly tensors: number;
  readonly bytes: number;
}

const COMPONENTS: readonly ComponentName[] = ['unet', 'textEncoder', 'vae'];

interface PlannedTensor {
  readonly entry: SafetensorsWriteEntry;
  readonly read: () => Tensor;
}

/**
 * Writes the merge of `members` as a single-file `.safetensors` checkpoint at `out` (atomically).
 * Progress: phase 'export-merge', unit bytes written.
 */
export function exportMerged(
  members: readonly ExportMember[],
  method: MergeMethod,
  out: string,
  control: JobControl = {},
  options: ExportOptions = {},
): ExportedCheckpoint {
  const path = resolve(out);
  checkTarget(path, options.overwrite ?? false);
  checkSameConfigs(members);
  const dtype = (options.precision ?? 'fp32') === 'fp16' ? 'float16' : 'float32';
  const labels = members.map((member) => `'${member.name}'`);
  const planned: PlannedTensor[] = [];
  for (const component of COMPONENTS) {
    const config = members[0]!.components[component].config;
    const merged = mergeComponentWeights(
      component,
      members.map((member) => member.components[component].weights),
      method,
      { unetConfig: members[0]!.components.unet.config, labels },
    );
    for (const { diffusers, ldm, shape } of ldmNames(component, config)) {
      const source = merged.get(diffusers);
      const ldmShape = shape ? shape(source.shape) : source.shape;
      planned.push({
        entry: { name: ldm, dtype: isFloat(source.dtype) ? dtype : source.dtype, shape: ldmShape },
        read: () => {
          const tensor = source.read();
          const stored = isFloat(tensor.dtype) ? castFloat(tensor, dtype) : tensor;
          return { ...stored, shape: ldmShape };
        },
      });
    }
  }
  // Name order, like writeSafetensors: the same merge always gives the same bytes.
  planned.sort((a, b) => (a.entry.name < b.entry.name ? -1 : a.entry.name > b.entry.name ? 1 : 0));
  const metadata = {
    format: 'pt',
    // sd-webui's checkpoint merger stores its recipe under this key; ours names the members and the method.
    sd_merge_recipe: JSON.stringify({ type: 'afa-studio', method, members: members.map((member) => member.name) }),
  };
  const writer = new SafetensorsWriter(path, planned.map((item) => item.entry), { metadata, control, phase: 'export-merge' });
  let bytes = 0;
  try {
    for (const item of planned) {
      const tensor = item.read();
      writer.write(item.entry.name, tensor);
      bytes += tensor.data.byteLength;
    }
    writer.commit();
  } catch (error) {
    writer.abort();
    throw error;
  }
  return { path, tensors: planned.length, bytes };
}

function isFloat(dtype: string): boolean {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16' || dtype === 'float64';
}

/** The diffusers → LDM names of a component (and the VAE attention reshape [C, C] → [C, C, 1, 1]). */
function ldmNames(component: ComponentName, config: ComponentConfig): { diffusers: string; ldm: string; shape?: (shape: readonly number[]) => number[] }[] {
  switch (component) {
    case 'unet':
      return unetKeyMap(unetLayout(config)).map(({ diffusers, ldm }) => ({ diffusers, ldm }));
    case 'textEncoder':
      return textEncoderKeyMap(textEncoderLayout(config), TEXT_ENCODER_LDM_PREFIX).map(({ diffusers, ldm }) => ({ diffusers, ldm }));
    case 'vae':
      return vaeKeyMap(vaeLayout(config)).map(({ diffusers, ldm, reshape }) =>
        // LDM stores the VAE mid-attention projections as 1×1 convolutions (same bytes, rank 4).
        reshape ? { diffusers, ldm, shape: (shape: readonly number[]) => (shape.length === 2 ? [...shape, 1, 1] : [...shape]) } : { diffusers, ldm },
      );
  }
}

function checkTarget(path: string, overwrite: boolean): void {
  if (extname(path).toLowerCase() !== '.safetensors') {
    throw new UserError('invalid-argument', `The merged checkpoint ${path} must be a .safetensors file.`, 'Choose a file name ending in .safetensors.');
  }
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError('not-found', `The folder ${dir} does not exist.`, 'Create it first or choose another location.');
  if (existsSync(path)) {
    if (statSync(path).isDirectory()) throw new UserError('invalid-argument', `${path} is a folder.`);
    if (!overwrite) throw new UserError('conflict', `${path} already exists.`, 'Choose another file name, or allow replacing it.');
  }
}

/** Members must share every component's architecture: the same layout-defining config fields. */
function checkSameConfigs(members: readonly ExportMember[]): void {
  if (members.length < 2) throw new UserError('invalid-argument', `A merge needs at least 2 models; got ${members.length}.`);
  const describe = (member: ExportMember) =>
    JSON.stringify({
      unet: unetLayout(member.components.unet.config),
      textEncoder: textEncoderLayout(member.components.textEncoder.config),
      vae: vaeLayout(member.components.vae.config),
    });
  const reference = describe(members[0]!);
  members.slice(1).forEach((member) => {
    if (describe(member) !== reference) {
      throw new UserError(
        'mismatch',
        `'${member.name}' has a different architecture than '${members[0]!.name}'.`,
        'Only checkpoints of the same family and size (e.g. all SD1.x) can be merged.',
      );
    }
  });
}
