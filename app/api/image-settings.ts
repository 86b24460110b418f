// "Use the settings of this image" on Generate: an image's settings (any tool, app/images) mapped onto
// a generation request. The studio runs Stable Diffusion 1.x checkpoints from its catalog with its own
// samplers and sizes; whatever falls outside that is said in words instead of being silently dropped.
import type { ModelRow } from '../library/models-table.ts';
import { describeContents, type ImageInfo } from '../images/image-info.ts';
import { SOURCE_NAMES, type ImportedSettings, type ModelFamily } from '../images/imported-settings.ts';
import type { ImageSettingsReading, RecipeSpec, SamplerName } from './contract.ts';
import { specOfSettings } from './generation-records.ts';
import { samplerNames } from './validate.ts';

const FAMILY_NAMES: Readonly<Record<Exclude<ModelFamily, 'sd1'>, string>> = {
  sd2: 'a Stable Diffusion 2.x model',
  sdxl: 'an SDXL model',
  sd3: 'a Stable Diffusion 3 model',
  flux: 'a Flux model',
  other: 'a model of another architecture',
};

/** The labelled text of everything the tool recorded. */
export function recordedText(settings: ImportedSettings): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (label: string, value: unknown) => {
    if (value !== undefined && value !== '') out[label] = String(value);
  };
  put('prompt', settings.prompt);
  put('negative prompt', settings.negativePrompt);
  put('seed', settings.seed);
  put('steps', settings.steps);
  put('sampler', settings.samplerLabel ?? settings.sampler);
  put('scheduler', settings.scheduler);
  put('CFG', settings.guidance);
  put('size', settings.width === undefined ? undefined : `${settings.width}x${settings.height}`);
  put('model', settings.modelName);
  put('model hash', settings.modelHash);
  put('LoRAs', settings.loras?.map((lora) => `${lora.name}${lora.weight === undefined ? '' : `:${lora.weight}`}`).join(', '));
  for (const [key, value] of Object.entries(settings.other)) if (!(key in out)) put(key, value);
  return out;
}

function catalogModel(settings: ImportedSettings, models: readonly ModelRow[]): ModelRow | undefined {
  const hash = settings.modelHash?.trim().toLowerCase();
  const byHash = hash && /^[0-9a-f]{10}$/.test(hash) ? models.find((model) => model.shortHash === hash) : undefined;
  if (byHash) return byHash;
  const name = settings.modelName?.split(/[\\/]/).pop()?.replace(/\.(safetensors|ckpt|pt|bin)$/i, '').toLowerCase();
  return name ? models.find((model) => model.name.toLowerCase() === name) : undefined;
}

const sizeOk = (value: number | undefined) => value !== undefined && Number.isInteger(value) && value >= 64 && value <= 2048 && value % 8 === 0;

export function readingFor(fileName: string, info: ImageInfo, models: readonly ModelRow[]): ImageSettingsReading {
  const settings = info.settings;
  if (!settings) {
    return { fileName, tool: 'none', toolName: null, fill: {}, notes: [`${fileName} carries no generation settings: ${describeContents(info)}.`], recorded: {} };
  }
  const notes: string[] = [];
  let missingModel: ImageSettingsReading['missingModel'];
  const fill: { -readonly [K in keyof ImageSettingsReading['fill']]: ImageSettingsReading['fill'][K] } = {};
  if (settings.prompt !== undefined) fill.prompt = settings.prompt;
  if (settings.negativePrompt !== undefined) fill.negativePrompt = settings.negativePrompt;

  if (typeof settings.seed === 'number' && settings.seed >= 0) fill.seed = settings.seed;
  else if (typeof settings.seed === 'string') notes.push(`The seed ${settings.seed} is beyond the studio's seeds (up to 2^53 − 1), so the same noise cannot be made here; the seed was left as it was.`);
  else if (typeof settings.seed === 'number') notes.push(`The seed ${settings.seed} means "random" in ${SOURCE_NAMES[settings.source]}; the seed was left as it was.`);

  if (settings.steps !== undefined && settings.steps >= 1 && settings.steps <= 500) fill.steps = settings.steps;
  else if (settings.steps !== undefined) notes.push(`${settings.steps} steps is outside 1–500.`);
  if (settings.guidance !== undefined && settings.guidance >= 0 && settings.guidance <= 50) fill.guidance = settings.guidance;

  const sampler = settings.sampler;
  if (sampler !== undefined && (samplerNames as readonly string[]).includes(sampler)) fill.sampler = sampler as SamplerName;
  else if (settings.samplerLabel !== undefined || sampler !== undefined) {
    const label = [settings.samplerLabel ?? sampler, settings.scheduler].filter(Boolean).join(', ');
    notes.push(`The sampler "${label}" has no counterpart in the studio; the sampler was left as it was.`);
  }

  if (sizeOk(settings.width) && sizeOk(settings.height)) {
    fill.width = settings.width;
    fill.height = settings.height;
  } else if (settings.width !== undefined) {
    notes.push(`The size ${settings.width}x${settings.height} is not one the studio makes (64–2048 pixels, multiples of 8); the size was left as it was.`);
  }

  if (settings.settings) {
    // Our own image: its recipe, when every member is still in the catalog.
    const spec: RecipeSpec = specOfSettings(settings.settings);
    const known = spec.members.every((member) => models.some((model) => model.id === member.modelId));
    if (known) fill.recipe = spec;
    else notes.push('A model of its recipe is no longer in the catalog; the recipe was left as it was.');
  } else {
    const family = settings.modelFamily;
    const name = settings.modelName ? ` (${settings.modelName})` : '';
    if (family !== undefined && family !== 'sd1') {
      notes.push(`Made with ${FAMILY_NAMES[family]}${name}, which the studio cannot run: it runs Stable Diffusion 1.x checkpoints.`);
    } else {
      const model = catalogModel(settings, models);
      if (model) fill.recipe = { method: 'single', members: [{ modelId: model.id }] };
      else if (settings.modelName || settings.modelHash) {
        notes.push(`The model${name || ` ${settings.modelHash}`} is not in the catalog; import it on Models to use it.`);
        const shortName = settings.modelName?.split(/[\\/]/).pop()?.replace(/\.(safetensors|ckpt|pt|bin)$/i, '');
        const hash = settings.modelHash?.trim().toLowerCase();
        missingModel = { ...(shortName ? { name: shortName } : {}), ...(hash ? { hash } : {}) };
      }
    }
    if (settings.loras && settings.loras.length > 0) {
      notes.push(`LoRAs are not supported: ${settings.loras.map((lora) => lora.name).join(', ')} ${settings.loras.length === 1 ? 'was' : 'were'} left out.`);
    }
    const secondPass = Object.keys(settings.other).find((key) => /^(Hires |second pass|refiner )/i.test(key));
    if (secondPass) notes.push('Its second pass (hires fix or refiner) is not repeated: the studio makes the image in one pass.');
  }
  return { fileName, tool: settings.source, toolName: SOURCE_NAMES[settings.source], fill, notes, ...(missingModel ? { missingModel } : {}), recorded: recordedText(settings) };
}
