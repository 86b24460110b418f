// The Generate screen's form: what the person edits, and how it becomes a GenerationRequest (and back,
// for "Use these settings" in History).
import type { EnsembleMethod, GenerationRecord, GenerationRequest, ImageSettingsReading, Recipe, RecipeSpec, SamplerName } from '../../app/api/contract.ts';

export interface RecipeDraft {
  readonly method: EnsembleMethod;
  /**
   * Chosen members in order, with their weights. `name` and `shortHash` are what an image said about a
   * model that may not be imported (reusing another tool's PNG).
   */
  readonly members: readonly { readonly modelId: string; readonly weight: number; readonly name?: string; readonly shortHash?: string }[];
  readonly aggregatorId: string;
  /** MBW: 25 comma-separated α values (IN00…OUT11) and the base α. */
  readonly mbwBlocks: string;
  readonly mbwBase: number;
  /** The members were chosen by the studio (the only imported model), not by the person. */
  readonly autoPicked?: boolean;
}

export interface GenerationForm {
  readonly prompt: string;
  readonly negativePrompt: string;
  /** A saved recipe, or null for the draft built on the screen. */
  readonly recipeId: string | null;
  readonly draft: RecipeDraft;
  readonly sampler: SamplerName;
  readonly steps: number;
  readonly guidance: number;
  readonly seed: number;
  readonly randomSeed: boolean;
  readonly width: number;
  readonly height: number;
  readonly batchCount: number;
}

export const samplers: readonly { readonly value: SamplerName; readonly label: string }[] = [
  { value: 'ddim', label: 'DDIM' },
  { value: 'euler', label: 'Euler' },
  { value: 'euler-a', label: 'Euler ancestral' },
  { value: 'dpmpp-2m', label: 'DPM++ 2M' },
  { value: 'dpmpp-2m-karras', label: 'DPM++ 2M Karras' },
  { value: 'pndm', label: 'PNDM' },
  { value: 'lms', label: 'LMS' },
];

export const methods: readonly { readonly value: EnsembleMethod; readonly label: string; readonly members: readonly [number, number] }[] = [
  { value: 'single', label: 'Single model', members: [1, 1] },
  { value: 'afa', label: 'AFA · adaptive feature aggregation', members: [2, 6] },
  { value: 'feature-average', label: 'Feature average', members: [2, 6] },
  { value: 'output-average', label: 'Output average', members: [2, 6] },
  { value: 'merge', label: 'Weight merge', members: [2, 6] },
  { value: 'mbw', label: 'Merge block weighted', members: [2, 2] },
  { value: 'magicfusion', label: 'MagicFusion', members: [2, 2] },
];

export function methodLabel(method: EnsembleMethod): string {
  return methods.find((m) => m.value === method)?.label ?? method;
}

const weighted: readonly EnsembleMethod[] = ['feature-average', 'output-average', 'merge'];

export function usesWeights(method: EnsembleMethod): boolean {
  return weighted.includes(method);
}

export const initialForm: GenerationForm = {
  prompt: '',
  negativePrompt: '',
  recipeId: null,
  draft: { method: 'single', members: [], aggregatorId: '', mbwBlocks: Array(25).fill('0.5').join(', '), mbwBase: 0.5 },
  sampler: 'ddim',
  steps: 25,
  guidance: 7.5,
  seed: 1234,
  randomSeed: true,
  width: 512,
  height: 512,
  batchCount: 1,
};

export function specFromDraft(draft: RecipeDraft): RecipeSpec {
  const members = draft.members.map((m) => ({ modelId: m.modelId }));
  return {
    method: draft.method,
    members,
    ...(usesWeights(draft.method) ? { weights: draft.members.map((m) => m.weight) } : {}),
    ...(draft.method === 'afa' && draft.aggregatorId ? { aggregatorId: draft.aggregatorId } : {}),
    ...(draft.method === 'mbw' ? { mbw: { blocks: draft.mbwBlocks.split(',').map((v) => Number(v.trim())), base: draft.mbwBase } } : {}),
  };
}

export function draftFromSpec(spec: RecipeSpec): RecipeDraft {
  return {
    method: spec.method,
    members: spec.members.map((m, i) => ({ modelId: m.modelId, weight: spec.weights?.[i] ?? 1, ...(m.name ? { name: m.name } : {}), ...(m.shortHash ? { shortHash: m.shortHash } : {}) })),
    aggregatorId: spec.aggregatorId ?? '',
    mbwBlocks: spec.mbw ? spec.mbw.blocks.join(', ') : initialForm.draft.mbwBlocks,
    mbwBase: spec.mbw?.base ?? 0.5,
  };
}

export function toRequest(form: GenerationForm): GenerationRequest {
  return {
    prompt: form.prompt,
    negativePrompt: form.negativePrompt,
    recipe: form.recipeId ? { recipeId: form.recipeId } : { spec: specFromDraft(form.draft) },
    sampler: form.sampler,
    steps: form.steps,
    guidance: form.guidance,
    seed: form.randomSeed ? null : form.seed,
    width: form.width,
    height: form.height,
    batchCount: form.batchCount,
  };
}

/** "Use these settings": the record's request as it ran, with its seed fixed and its recipe as a draft. */
export function formFromRecord(record: Pick<GenerationRecord, 'request'>): GenerationForm {
  const request = record.request;
  return {
    prompt: request.prompt,
    negativePrompt: request.negativePrompt,
    recipeId: null,
    draft: draftFromSpec(request.recipe.spec),
    sampler: request.sampler,
    steps: request.steps,
    guidance: request.guidance,
    seed: request.seed,
    randomSeed: false,
    width: request.width,
    height: request.height,
    batchCount: 1,
  };
}

/** Whether the person has started on the form: chosen a recipe or models, or written a prompt. */
export function formTouched(form: GenerationForm): boolean {
  return form.recipeId !== null || (form.draft.members.length > 0 && form.draft.autoPicked !== true) || form.prompt.trim() !== '' || form.negativePrompt.trim() !== '';
}

/**
 * The form opened on a recipe with its defaults (the built-in demo's: its prompt, sampler, size and seed,
 * the seed fixed so the first picture is the one the demo was made to show).
 */
export function formWithRecipe(form: GenerationForm, recipe: Recipe): GenerationForm {
  const d = recipe.defaults ?? {};
  return {
    ...form,
    recipeId: recipe.id,
    draft: draftFromSpec(recipe),
    ...(d.prompt === undefined ? {} : { prompt: d.prompt }),
    ...(d.negativePrompt === undefined ? {} : { negativePrompt: d.negativePrompt }),
    ...(d.sampler === undefined ? {} : { sampler: d.sampler }),
    ...(d.steps === undefined ? {} : { steps: d.steps }),
    ...(d.guidance === undefined ? {} : { guidance: d.guidance }),
    ...(d.width === undefined || d.height === undefined ? {} : { width: d.width, height: d.height }),
    ...(d.seed === undefined ? {} : { seed: d.seed, randomSeed: false }),
    batchCount: 1,
  };
}

/** The form fields a problem can point at (the field is highlighted and named). */
export type FormField = 'prompt' | 'models' | 'aggregator' | 'steps' | 'guidance' | 'batchCount' | 'width' | 'height' | 'seed';

export interface FormProblem {
  readonly field: FormField;
  /** In the person's words, saying what to change. */
  readonly message: string;
}

/** The same limits the API checks (app/api/validate.ts), said before anything is sent. */
function sizeProblem(label: string, value: number): string | undefined {
  if (!Number.isFinite(value)) return `Enter a ${label.toLowerCase()} in pixels.`;
  if (value < 64 || value > 2048) return `${label} must be 64–2048 pixels.`;
  if (value % 8 !== 0) {
    const lower = Math.max(64, Math.floor(value / 8) * 8);
    return `${label} must be a multiple of 8 pixels: try ${lower} or ${Math.min(2048, lower + 8)}.`;
  }
  return undefined;
}

/** The form with what an image's settings fill in (app/api/image-settings.ts decides what maps). */
export function formWithImageSettings(form: GenerationForm, fill: ImageSettingsReading['fill'], missingModel?: ImageSettingsReading['missingModel']): GenerationForm {
  // A model the image names but the catalog lacks stays the form's model, by name and hash: formProblem
  // says "Made with X (hash …), which is not imported" and Generate waits for an import or another pick.
  const missingId = missingModel?.hash ?? missingModel?.name;
  const missing = fill.recipe === undefined && missingId !== undefined
    ? { recipeId: null, draft: { ...form.draft, method: 'single' as const, members: [{ modelId: missingId, weight: 1, ...(missingModel?.name ? { name: missingModel.name } : {}), ...(missingModel?.hash ? { shortHash: missingModel.hash } : {}) }] } }
    : {};
  return {
    ...form,
    ...missing,
    ...(fill.prompt === undefined ? {} : { prompt: fill.prompt }),
    ...(fill.negativePrompt === undefined ? {} : { negativePrompt: fill.negativePrompt }),
    ...(fill.sampler === undefined ? {} : { sampler: fill.sampler }),
    ...(fill.steps === undefined ? {} : { steps: fill.steps }),
    ...(fill.guidance === undefined ? {} : { guidance: fill.guidance }),
    ...(fill.seed === undefined ? {} : { seed: fill.seed, randomSeed: false }),
    ...(fill.width === undefined || fill.height === undefined ? {} : { width: fill.width, height: fill.height }),
    ...(fill.recipe === undefined ? {} : { recipeId: null, draft: draftFromSpec(fill.recipe) }),
  };
}

/**
 * The first thing that keeps Generate disabled, with the field it concerns; undefined when the form can
 * run. `importedModelIds` (once the model list has loaded) finds members that are not imported.
 */
export function formProblem(form: GenerationForm, importedModelIds?: ReadonlySet<string>): FormProblem | undefined {
  if (!form.prompt.trim()) return { field: 'prompt', message: 'Write a prompt.' };
  if (!form.recipeId) {
    const missing = importedModelIds ? form.draft.members.find((member) => !importedModelIds.has(member.modelId)) : undefined;
    if (missing) {
      const name = missing.name ?? missing.modelId;
      const hash = missing.shortHash ?? (/^[0-9a-f]{10,}$/.test(missing.modelId) ? missing.modelId.slice(0, 10) : undefined);
      return { field: 'models', message: `Made with ${name}${hash && hash !== name ? ` (hash ${hash})` : ''}, which is not imported — import it or pick a model.` };
    }
    const method = methods.find((m) => m.value === form.draft.method)!;
    const count = form.draft.members.length;
    const [min, max] = method.members;
    if (count < min) return { field: 'models', message: min === 1 ? 'Pick a model.' : `Pick ${min === max ? min : `${min}–${max}`} models for ${method.label}.` };
    if (count > max) return { field: 'models', message: `${method.label} takes at most ${max} models.` };
    // Untrained AFA is feature-average; the engine refuses AFA without trained aggregators.
    if (form.draft.method === 'afa' && !form.draft.aggregatorId) return { field: 'aggregator', message: 'Pick an aggregator set for AFA.' };
  }
  if (!Number.isInteger(form.steps) || form.steps < 1 || form.steps > 500) return { field: 'steps', message: 'Steps must be a whole number from 1 to 500.' };
  if (!Number.isFinite(form.guidance) || form.guidance < 0 || form.guidance > 50) return { field: 'guidance', message: 'Guidance must be from 0 to 50.' };
  if (!Number.isInteger(form.batchCount) || form.batchCount < 1 || form.batchCount > 64) return { field: 'batchCount', message: 'Batch count must be a whole number from 1 to 64.' };
  const width = sizeProblem('Width', form.width);
  if (width) return { field: 'width', message: width };
  const height = sizeProblem('Height', form.height);
  if (height) return { field: 'height', message: height };
  if (!form.randomSeed && (!Number.isInteger(form.seed) || form.seed < 0)) return { field: 'seed', message: 'The seed must be a whole number, 0 or more.' };
  return undefined;
}

const STORAGE_KEY = 'afa-studio.generate-form';

/** The form as last left (it survives a reload); fields missing or of another type fall back to the defaults. */
export function loadSavedForm(storage: Pick<Storage, 'getItem'> | undefined): GenerationForm {
  try {
    const saved = JSON.parse(storage?.getItem(STORAGE_KEY) ?? 'null') as Partial<Record<keyof GenerationForm, unknown>> | null;
    if (!saved || typeof saved !== 'object') return initialForm;
    const pick = <K extends keyof GenerationForm>(key: K): GenerationForm[K] =>
      typeof saved[key] === typeof initialForm[key] || (key === 'recipeId' && (saved[key] === null || typeof saved[key] === 'string')) ? (saved[key] as GenerationForm[K]) : initialForm[key];
    const draft = saved.draft as Partial<RecipeDraft> | undefined;
    return {
      prompt: pick('prompt'),
      negativePrompt: pick('negativePrompt'),
      recipeId: pick('recipeId'),
      draft: draft && typeof draft === 'object' && Array.isArray(draft.members) ? { ...initialForm.draft, ...draft } : initialForm.draft,
      sampler: pick('sampler'),
      steps: pick('steps'),
      guidance: pick('guidance'),
      seed: pick('seed'),
      randomSeed: pick('randomSeed'),
      width: pick('width'),
      height: pick('height'),
      batchCount: pick('batchCount'),
    };
  } catch {
    return initialForm;
  }
}

export function saveForm(storage: Pick<Storage, 'setItem'> | undefined, form: GenerationForm): void {
  try {
    storage?.setItem(STORAGE_KEY, JSON.stringify(form));
  } catch {
    // Storage full or disabled: the form simply does not survive a reload.
  }
}
