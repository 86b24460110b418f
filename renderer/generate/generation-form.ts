// The Generate screen's form: what the person edits, and how it becomes a GenerationRequest (and back,
// for "Use these settings" in History).
import type { EnsembleMethod, GenerationRecord, GenerationRequest, ImageSettingsReading, RecipeSpec, SamplerName } from '../../app/api/contract.ts';

export interface RecipeDraft {
  readonly method: EnsembleMethod;
  /** Chosen members in order, with their weights. */
  readonly members: readonly { readonly modelId: string; readonly weight: number }[];
  readonly aggregatorId: string;
  /** MBW: 25 comma-separated α values (IN00…OUT11) and the base α. */
  readonly mbwBlocks: string;
  readonly mbwBase: number;
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
  { value: 'afa', label: 'AFA (adaptive feature aggregation)', members: [2, 6] },
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
    members: spec.members.map((m, i) => ({ modelId: m.modelId, weight: spec.weights?.[i] ?? 1 })),
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
export function formFromRecord(record: GenerationRecord): GenerationForm {
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

/** What keeps Generate disabled, in words; undefined when the form can run. */
export function formProblem(form: GenerationForm): string | undefined {
  if (!form.prompt.trim()) return 'Write a prompt.';
  if (form.recipeId) return undefined;
  const method = methods.find((m) => m.value === form.draft.method)!;
  const count = form.draft.members.length;
  const [min, max] = method.members;
  if (count < min) return min === 1 ? 'Pick a model.' : `Pick ${min === max ? min : `${min}–${max}`} models for ${method.label}.`;
  if (count > max) return `${method.label} takes at most ${max} models.`;
  // Untrained AFA is feature-average; the engine refuses AFA without trained aggregators.
  if (form.draft.method === 'afa' && !form.draft.aggregatorId) return 'Pick an aggregator set for AFA.';
  return undefined;
}

/** The form with what an image's settings fill in (app/api/image-settings.ts decides what maps). */
export function formWithImageSettings(form: GenerationForm, fill: ImageSettingsReading['fill']): GenerationForm {
  return {
    ...form,
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
