// The request schema of every API method, checked at the boundary before a service sees the request.
// `requestSchemas` is typed over the contract's method names, so a method without a schema (or a schema
// that does not produce the method's request type) is a type error.
import { ApiError } from './api-error.ts';
import { UserError } from '../common/errors.ts';
import { validateRecipe } from '../ensemble/recipe.ts';
import type { ApiMethodName, ApiRequest, BackendName, EnsembleMethod, RecipeSpec, SamplerName } from './contract.ts';
import {
  array, boolean, byKey, byTag, integer, literal, none, nullable, number, object, refine, string, type Schema,
} from './schema.ts';

const id = string({ min: 1, max: 200 });
const name = string({ min: 1, max: 200, trim: true });
const path = string({ min: 1, max: 4096 });
const tags = array(string({ min: 1, max: 64, trim: true }), { max: 64 });
const byId = object({ id });

// The same lists as app/ensemble/recipe.ts METHODS, app/pipeline/generation-request.ts SAMPLERS and
// app/runtime/onnx-runtime.ts BACKENDS (test/api/contract-alignment.test.ts keeps them equal); repeated
// here so validating a request does not load onnxruntime.
export const ensembleMethods = ['single', 'afa', 'feature-average', 'output-average', 'merge', 'mbw', 'magicfusion'] as const satisfies readonly EnsembleMethod[];
export const samplerNames = ['ddim', 'euler', 'euler-a', 'dpmpp-2m', 'dpmpp-2m-karras', 'pndm', 'lms'] as const satisfies readonly SamplerName[];
export const backendNames = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const satisfies readonly BackendName[];

/** SD1.x merge-block-weighted ratios: 12 input blocks, the middle block, 12 output blocks. */
export const mbwBlockCount = 25;

const fraction = number({ min: 0, max: 1 });

const recipeShape = object(
  {
    method: literal(...ensembleMethods),
    members: array(object({ modelId: id }, { name: string({ max: 200 }), shortHash: string({ max: 64 }) }), { min: 1, max: 6 }),
  },
  {
    weights: array(number({ min: 0, max: 1000 }), { min: 1, max: 6 }),
    mbw: object({ blocks: array(fraction, { min: mbwBlockCount, max: mbwBlockCount }), base: fraction }),
    magicFusion: object({}, {
      kappaA: number({ min: 0, max: 1000 }),
      kappaB: number({ min: 0, max: 1000 }),
      fusionStart: fraction,
      fusionEnd: fraction,
      leadModel: literal('a', 'b'),
      mask: literal('hard', 'soft'),
    }),
    aggregatorId: id,
    defaults: object({}, {
      sampler: literal(...samplerNames),
      steps: integer(1, 500),
      guidance: number({ min: 0, max: 50 }),
      prompt: string({ max: 10_000 }),
      negativePrompt: string({ max: 10_000 }),
      width: integer(64, 2048),
      height: integer(64, 2048),
      seed: integer(0, Number.MAX_SAFE_INTEGER),
    }),
  },
);

/** The shape here; the rules between fields (member counts per method, ...) are the ensemble's own. */
const recipeSpec: Schema<RecipeSpec> = refine(recipeShape, (spec) => {
  try {
    validateRecipe({ ...spec, name: 'recipe' });
    return undefined;
  } catch (error) {
    if (error instanceof UserError) return error.message;
    throw error;
  }
});

const multipleOf8 = (label: string) =>
  refine(integer(64, 2048), (value) => (value % 8 === 0 ? undefined : `${label} must be a multiple of 8, got ${value}.`));

const recipeRef = byKey({ recipeId: object({ recipeId: id }), spec: object({ spec: recipeSpec }) });

const generationRequest = object(
  {
    prompt: string({ max: 10_000 }),
    negativePrompt: string({ max: 10_000 }),
    recipe: recipeRef,
    sampler: literal(...samplerNames),
    steps: integer(1, 500),
    guidance: number({ min: 0, max: 50 }),
    seed: nullable(integer(0, Number.MAX_SAFE_INTEGER)),
    width: multipleOf8('width'),
    height: multipleOf8('height'),
    batchCount: integer(1, 64),
  },
  { eta: fraction },
);

const importSource = byTag('kind', {
  path: object({ kind: literal('path'), path }),
  // Upload ids are minted by app/server/upload-route.ts: 32 hex digits, never a path.
  upload: object({
    kind: literal('upload'),
    uploadId: refine(string({ min: 32, max: 32 }), (v) => (/^[0-9a-f]{32}$/.test(v) ? undefined : 'not an upload id.')),
    fileName: string({ min: 1, max: 255 }),
  }),
});

const tagList = object({ id, tags });

/** An ISO 8601 date-time as Date.parse reads it ('2025-01-31T00:00:00.000Z'). */
const isoInstant = refine(string({ min: 10, max: 40 }), (value) =>
  /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(value) && Number.isFinite(Date.parse(value)) ? undefined : `expected an ISO 8601 date, got ${JSON.stringify(value)}.`);

/** A training dataset from the history: picked generations, or a search (words and/or favourites). */
const historySelection = object({}, { ids: array(id, { min: 1, max: 100_000 }), text: string({ max: 1000 }), favouritesOnly: boolean });

function oneDataset(request: { path?: string; history?: unknown }): string | undefined {
  return (request.path === undefined) === (request.history === undefined) ? 'give either a dataset folder or a history selection.' : undefined;
}

export const requestSchemas: { readonly [N in ApiMethodName]: Schema<ApiRequest<N>> } = {
  'models.list': none,
  'models.get': byId,
  'models.import': object({ source: importSource }, { name, configDirectory: path }),
  'models.cancelImport': object({ jobId: id }),
  'models.delete': byId,

  'recipes.list': none,
  'recipes.get': byId,
  'recipes.save': object({ name, spec: recipeSpec }, { id }),
  'recipes.delete': byId,

  'aggregators.list': none,
  'aggregators.import': object({ path, name, memberModelIds: array(id, { min: 2, max: 6 }) }),
  'aggregators.delete': byId,

  'training.list': none,
  'training.get': byId,
  'training.previewDataset': refine(object({}, { path, history: historySelection, missingCaptions: literal('refuse', 'use-file-name') }), oneDataset),
  'training.start': refine(object(
    { memberModelIds: array(id, { min: 2, max: 6 }) },
    {
      dataPath: path,
      history: historySelection,
      name,
      settings: object(
        {},
        {
          resolution: integer(64, 2048),
          steps: integer(1, 10_000_000),
          epochs: integer(1, 100_000),
          batchSize: integer(1, 1024),
          microBatch: integer(1, 1024),
          lr: number({ min: 1e-12, max: 1 }),
          seed: integer(0, Number.MAX_SAFE_INTEGER),
          captionDropout: fraction,
          validationShare: number({ min: 0, max: 0.9 }),
          validationEvery: integer(0, 10_000_000),
          checkpointEvery: integer(1, 10_000_000),
          missingCaptions: literal('refuse', 'use-file-name'),
          smallImages: literal('upscale', 'skip'),
          schedule: literal('constant', 'constant_with_warmup', 'linear', 'cosine'),
          warmupSteps: integer(0, 10_000_000),
          maxGradNorm: number({ min: 0, max: 1e6 }),
          samplePrompts: array(string({ min: 1, max: 1000, trim: true }), { max: 8 }),
          sampleCount: integer(0, 8),
          sampleSteps: integer(1, 200),
          sampleGuidance: number({ min: 0, max: 50 }),
          sampleSeed: integer(0, Number.MAX_SAFE_INTEGER),
        },
      ),
    },
  ), (request) => oneDataset({ path: request.dataPath, history: request.history })),
  'training.resume': byId,
  'training.cancel': byId,
  'training.delete': byId,

  'generation.enqueue': generationRequest,
  'generation.queue': none,
  'generation.reorder': object({ jobId: id, toIndex: integer(0, 100_000) }),
  'generation.remove': object({ jobId: id }),
  'generation.cancel': object({ jobId: id }),
  'generation.prepare': object({ recipe: recipeRef }),
  'generation.readImageSettings': object({ source: importSource }),

  'compare.enqueue': object({ generationId: id }),
  'compare.get': byId,

  'history.search': object(
    {},
    {
      text: string({ max: 500 }),
      favouritesOnly: boolean,
      method: literal(...ensembleMethods),
      modelId: id,
      tag: string({ min: 1, max: 64 }),
      from: isoInstant,
      to: isoInstant,
      cursor: string({ min: 1, max: 200 }),
      limit: integer(1, 500),
    },
  ),
  'history.get': byId,
  'history.setFavourite': object({ id, favourite: boolean }),
  'history.tag': tagList,
  'history.delete': object({ ids: array(id, { min: 1, max: 10_000 }) }),
  'history.undo': object({ undoToken: id }),
  'history.export': object({ ids: array(id, { min: 1, max: 10_000 }) }, { directory: path, settings: literal('json', 'csv', 'both') }),
  'history.contributions': byId,
  'history.importImages': object({ sources: array(importSource, { min: 1, max: 1000 }) }),
  'history.reconcileReport': none,
  'history.importOrphans': object({ paths: array(path, { min: 1, max: 100_000 }) }),
  'history.dismissOrphans': none,
  'history.trashInfo': none,
  'history.emptyTrash': none,

  'prompts.list': none,
  'prompts.search': object({}, { text: string({ max: 500 }), tag: string({ min: 1, max: 64 }), limit: integer(1, 500) }),
  'prompts.save': object({ text: string({ min: 1, max: 10_000, trim: true }) }, { id, negativePrompt: string({ max: 10_000 }), tags }),
  'prompts.tag': tagList,
  'prompts.delete': byId,
  'prompts.use': byId,
  'prompts.countTokens': object({ text: string({ max: 10_000 }) }),

  'settings.get': none,
  'settings.set': object({}, { dataDirectory: path, backend: literal('auto', ...backendNames), threads: integer(0, 256), previews: boolean, precision: literal('auto', 'fp32', 'fp16') }),
  'settings.listBackends': none,

  'system.info': none,

  'demo.status': none,
  'demo.retry': none,
};

export function isApiMethodName(method: string): method is ApiMethodName {
  return Object.hasOwn(requestSchemas, method);
}

/** Validates `request` for `method`; throws ApiError('unknown-method' | 'bad-request'). */
export function validateRequest<N extends ApiMethodName>(method: N, request: unknown): ApiRequest<N>;
export function validateRequest(method: string, request: unknown): unknown;
export function validateRequest(method: string, request: unknown): unknown {
  if (!isApiMethodName(method)) throw new ApiError('unknown-method', `No API method '${method}'.`);
  return requestSchemas[method](request, 'request');
}
