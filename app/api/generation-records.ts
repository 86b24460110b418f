// History rows (app/library) as the API's GenerationSummary / GenerationRecord.
import type { EnsembleMethod } from '../ensemble/recipe.ts';
import type { GenerationSettings } from '../images/generation-settings.ts';
import type { GenerationRow } from '../library/generations-table.ts';
import type { GenerationRecord, GenerationSummary, RecipeSpec, SamplerName } from './contract.ts';
import { ensembleMethods, samplerNames } from './validate.ts';

function method(settings: GenerationSettings): EnsembleMethod {
  const name = settings.recipe.method;
  return (ensembleMethods as readonly string[]).includes(name) ? (name as EnsembleMethod) : 'single';
}

/** The recipe as it ran: the stored ensemble document when there is one, else the snapshot's members. */
export function specOfSettings(settings: GenerationSettings): RecipeSpec {
  const document = settings.recipe.document;
  if (document && typeof document === 'object' && !Array.isArray(document) && Array.isArray(document.members)) {
    const { version: _version, name: _name, ...spec } = document as unknown as RecipeSpec & { version?: number; name?: string };
    return spec;
  }
  const members = settings.recipe.members.map((member) => ({ modelId: member.modelId ?? member.shortHash ?? member.name, name: member.name, ...(member.shortHash ? { shortHash: member.shortHash } : {}) }));
  const weights = settings.recipe.members.map((member) => member.weight);
  return {
    method: method(settings),
    members,
    ...(weights.every((weight) => typeof weight === 'number') ? { weights: weights as number[] } : {}),
    ...(settings.recipe.aggregatorId ? { aggregatorId: settings.recipe.aggregatorId } : {}),
  };
}

function recipeName(settings: GenerationSettings): string {
  return settings.recipe.name ?? (settings.recipe.members.map((member) => member.name).join(' + ') || 'Unknown model');
}

/** Whether a contribution map was stored with the generation (app/ensemble records it under extra). */
export function hasContributions(settings: GenerationSettings): boolean {
  return typeof settings.extra?.contributions === 'string';
}

export function generationSummary(row: GenerationRow): GenerationSummary {
  const settings = row.settings;
  return {
    id: row.id,
    createdAt: new Date(row.createdAt).toISOString(),
    prompt: settings.prompt,
    method: method(settings),
    recipeName: recipeName(settings),
    // The pipeline records each image's own seed (the batch's seed + the image's index).
    seed: settings.seed,
    width: settings.width,
    height: settings.height,
    thumbnail: { path: row.thumbnailPath ?? row.imagePath ?? '', width: settings.width, height: settings.height },
    favourite: row.favourite,
    hasContributions: hasContributions(settings),
    missing: row.status === 'missing',
  };
}

const IMPORTED_LABELS: readonly (readonly [string, string])[] = [
  ['samplerLabel', 'sampler'],
  ['scheduler', 'scheduler'],
  ['modelName', 'model'],
  ['modelHash', 'model hash'],
  ['modelFamily', 'model family'],
  ['seed', 'seed'],
];

// What an imported image's original tool recorded (extra.imported, app/library/import-images.ts), as
// labelled text: the fields the studio's own settings could not hold exactly, then the tool's other keys.
function importedOf(settings: GenerationRow['settings']): Record<string, string> | undefined {
  const imported = settings.extra?.imported;
  if (imported === null || typeof imported !== 'object' || Array.isArray(imported)) return undefined;
  const out: Record<string, string> = {};
  for (const [key, label] of IMPORTED_LABELS) {
    const value = imported[key];
    if (typeof value === 'string' || typeof value === 'number') out[label] = String(value);
  }
  if (Array.isArray(imported.loras)) {
    out.LoRAs = imported.loras
      .map((lora) => (lora && typeof lora === 'object' && !Array.isArray(lora) ? `${String(lora.name)}${typeof lora.weight === 'number' ? `:${lora.weight}` : ''}` : ''))
      .filter(Boolean)
      .join(', ');
  }
  const other = imported.other;
  if (other && typeof other === 'object' && !Array.isArray(other)) {
    for (const [key, value] of Object.entries(other)) if (typeof value === 'string' && !(key in out)) out[key] = value;
  }
  return out;
}

/** The request that makes an image of these settings again (its own seed, one image). */
export function requestOfSettings(settings: GenerationSettings): GenerationRecord['request'] {
  const eta = settings.extra?.eta;
  return {
    prompt: settings.prompt,
    negativePrompt: settings.negativePrompt,
    recipe: { spec: specOfSettings(settings) },
    sampler: ((samplerNames as readonly string[]).includes(settings.sampler) ? settings.sampler : 'ddim') as SamplerName,
    steps: settings.steps,
    guidance: settings.guidance,
    ...(typeof eta === 'number' ? { eta } : {}),
    seed: settings.seed,
    width: settings.width,
    height: settings.height,
    batchCount: 1,
  };
}

export function generationRecord(row: GenerationRow): GenerationRecord {
  const settings = row.settings;
  const compareSetId = settings.extra?.compareSetId;
  return {
    ...generationSummary(row),
    image: { path: row.imagePath ?? '', width: settings.width, height: settings.height },
    request: requestOfSettings(settings),
    modelNames: Object.fromEntries(settings.recipe.members.filter((member) => member.modelId).map((member) => [member.modelId!, member.name])),
    batchIndex: settings.batchIndex,
    durationMs: row.timings?.totalMs ?? 0,
    tags: row.tags,
    source: row.source,
    ...(typeof compareSetId === 'string' ? { compareSetId } : {}),
    ...(row.source !== 'afa-studio' && importedOf(settings) ? { imported: importedOf(settings)! } : {}),
  };
}
