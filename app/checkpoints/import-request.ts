// One set of import rules for every front end: `afa import` and the Models screen (through ModelsService)
// only pass the person's options and show progress. The rules:
// - a path names a .safetensors file, a diffusers folder, a folder of .safetensors files (each in turn),
//   or an official AFA folder (model_index.json + additional_unet_k/): every expert in it, in order;
// - a config folder brings unet/, text_encoder/, vae/ config.json and, laid out like a pipeline, the
//   tokenizer/ the checkpoint needs;
// - names: --name for one model; an AFA folder's experts are "<folder> 1", "<folder> 2", …
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { UserError } from '../common/errors.ts';
import type { JobControl } from '../common/progress.ts';
import type { ComponentConfig, ComponentName, ConfigOverrides } from './component-config.ts';
import { importCheckpoint, type ImportedModel, type ImportOptions } from './import-checkpoint.ts';
import type { StoredPrecision } from './model-store.ts';
import { isDiffusersFolder } from './open-diffusers-folder.ts';

/** What a person chooses when importing (the same fields in the CLI and the UI). */
export interface ImportChoices {
  readonly name?: string;
  /** A folder with unet/, text_encoder/, vae/ config.json (and tokenizer/) for non-SD1.5-size files. */
  readonly configDirectory?: string;
  readonly precision?: StoredPrecision;
}

/** One checkpoint to import. */
export interface ImportItem {
  readonly source: string;
  readonly name?: string;
  readonly subfolders?: ImportOptions['subfolders'];
}

export interface ImportPlan {
  readonly items: readonly ImportItem[];
  readonly configOverrides?: ConfigOverrides;
  readonly tokenizerDirectory?: string;
  readonly precision?: StoredPrecision;
  /**
   * An official AFA folder: its trained aggregators (aggregator_0…) fuse exactly the experts of `items`,
   * in that order; the front end offers to import them once the experts are in.
   */
  readonly aggregatorsFolder?: string;
}

const COMPONENT_FOLDERS: Readonly<Record<ComponentName, string>> = { unet: 'unet', textEncoder: 'text_encoder', vae: 'vae' };

/** `<dir>/{unet,text_encoder,vae}/config.json`, those present (at least one), and `<dir>/tokenizer` when it has one. */
export function readConfigDirectory(directory: string): { readonly configOverrides: ConfigOverrides; readonly tokenizerDirectory?: string } {
  const root = resolve(directory);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UserError('not-found', `The config folder ${root} does not exist.`, 'Pick the folder that holds unet/, text_encoder/ and vae/.');
  const overrides: Partial<Record<ComponentName, ComponentConfig>> = {};
  for (const [component, folder] of Object.entries(COMPONENT_FOLDERS) as [ComponentName, string][]) {
    const path = join(root, folder, 'config.json');
    if (!existsSync(path)) continue;
    try {
      overrides[component] = JSON.parse(readFileSync(path, 'utf8')) as ComponentConfig;
    } catch (error) {
      throw new UserError('corrupt-file', `${path} is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (Object.keys(overrides).length === 0) {
    throw new UserError(
      'invalid-argument',
      `The config folder ${root} has none of unet/config.json, text_encoder/config.json, vae/config.json.`,
      'Pick a diffusers-style folder of configs, or leave it empty for a standard SD 1.x checkpoint.',
    );
  }
  const tokenizer = join(root, 'tokenizer');
  const hasTokenizer = existsSync(join(tokenizer, 'vocab.json')) && existsSync(join(tokenizer, 'merges.txt'));
  return { configOverrides: overrides, ...(hasTokenizer ? { tokenizerDirectory: tokenizer } : {}) };
}

/** The experts' subfolders of an official AFA folder (expert 1 in unet/, then additional_unet_0, …); [] otherwise. */
export function afaExpertSubfolders(folder: string): NonNullable<ImportOptions['subfolders']>[] {
  if (!existsSync(join(folder, 'unet')) || !existsSync(join(folder, 'additional_unet_0'))) return [];
  const experts: NonNullable<ImportOptions['subfolders']>[] = [{ unet: 'unet', textEncoder: 'text_encoder' }];
  for (let k = 0; existsSync(join(folder, `additional_unet_${k}`)); k++) {
    const text = `additional_text_encoder_${k}`;
    experts.push({ unet: `additional_unet_${k}`, textEncoder: existsSync(join(folder, text)) ? text : 'text_encoder' });
  }
  return experts;
}

/** Decides what `path` imports; throws UserError for a path that names nothing importable. */
export function planImport(path: string, choices: ImportChoices = {}): ImportPlan {
  const absolute = resolve(path);
  if (!existsSync(absolute)) throw new UserError('not-found', `${absolute} does not exist.`, 'Check the path of the checkpoint.');
  const config = choices.configDirectory === undefined ? undefined : readConfigDirectory(choices.configDirectory);
  const shared = {
    ...(config ? { configOverrides: config.configOverrides } : {}),
    ...(config?.tokenizerDirectory ? { tokenizerDirectory: config.tokenizerDirectory } : {}),
    ...(choices.precision ? { precision: choices.precision } : {}),
  };
  const one = (item: ImportItem): ImportPlan => ({ items: [item], ...shared });
  if (!statSync(absolute).isDirectory()) return one({ source: absolute, ...(choices.name ? { name: choices.name } : {}) });
  const experts = afaExpertSubfolders(absolute);
  if (experts.length > 0) {
    const base = choices.name ?? basename(absolute);
    return {
      items: experts.map((subfolders, index) => ({ source: absolute, name: `${base} ${index + 1}`, subfolders })),
      ...shared,
      ...(existsSync(join(absolute, 'aggregator_0')) ? { aggregatorsFolder: absolute } : {}),
    };
  }
  if (isDiffusersFolder(absolute)) return one({ source: absolute, ...(choices.name ? { name: choices.name } : {}) });
  const files = readdirSync(absolute)
    .filter((name) => extname(name).toLowerCase() === '.safetensors')
    .sort()
    .map((name) => join(absolute, name));
  if (files.length === 0) {
    throw new UserError(
      'invalid-argument',
      `${absolute} is neither a diffusers model folder nor a folder of .safetensors checkpoints.`,
      'Point at a .safetensors file, a diffusers folder (with model_index.json), or a folder of .safetensors files.',
    );
  }
  if (choices.name !== undefined && files.length > 1) throw new UserError('invalid-argument', 'A name names one model; the folder holds several checkpoints.', 'Leave the name empty: each model is named after its file.');
  return { items: files.map((source) => ({ source, ...(choices.name ? { name: choices.name } : {}) })), ...shared };
}

/** Imports the plan's items one after another; `onItem` hears of each before it starts. */
export async function runImportPlan(
  plan: ImportPlan,
  target: Pick<ImportOptions, 'home' | 'catalog'>,
  control: JobControl & { readonly onItem?: (item: ImportItem, index: number) => void } = {},
): Promise<ImportedModel[]> {
  const imported: ImportedModel[] = [];
  for (const [index, item] of plan.items.entries()) {
    control.onItem?.(item, index);
    imported.push(
      await importCheckpoint(
        item.source,
        {
          ...target,
          ...(item.name ? { name: item.name } : {}),
          ...(item.subfolders ? { subfolders: item.subfolders } : {}),
          ...(plan.configOverrides ? { configOverrides: plan.configOverrides } : {}),
          ...(plan.tokenizerDirectory ? { tokenizerDirectory: plan.tokenizerDirectory } : {}),
          ...(plan.precision ? { precision: plan.precision } : {}),
        },
        control,
      ),
    );
  }
  return imported;
}
