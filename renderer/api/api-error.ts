// The renderer's side of app/api/api-error.ts (the renderer may import only types from app/api): an
// error that came back over the transport, with its code and hint intact.
import type { ApiErrorCode, ApiErrorData } from '../../app/api/contract.ts';

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly hint: string | undefined;
  readonly kind: string;

  constructor(data: ApiErrorData) {
    super(data.message);
    this.name = 'ApiError';
    this.kind = data.name;
    this.code = data.code;
    this.hint = data.hint;
  }
}

/** Field paths of the API's request checks, as the screens name those fields. */
const FIELD_LABELS: Readonly<Record<string, string>> = {
  prompt: 'Prompt',
  negativePrompt: 'Negative prompt',
  width: 'Width',
  height: 'Height',
  steps: 'Steps',
  guidance: 'Guidance (CFG)',
  batchCount: 'Batch count',
  seed: 'Seed',
  sampler: 'Sampler',
  name: 'Name',
  configDirectory: 'Architecture config folder',
  members: 'Models',
  weights: 'Weights',
  aggregatorId: 'Aggregator',
};

/**
 * The API's request checks name a field path ("request.recipe.spec.members[2].weight: expected …"); the
 * person sees the field's label instead ("Weights: expected …").
 */
export function inUserWords(message: string): string {
  const match = /^request((?:\.[A-Za-z]+|\[\d+\])*): (.*)$/s.exec(message);
  if (!match) return message;
  const names = match[1]!.split('.').map((part) => part.replace(/\[\d+\]$/, '')).filter(Boolean);
  const label = [...names].reverse().map((part) => FIELD_LABELS[part]).find(Boolean) ?? names.at(-1) ?? 'A field';
  const text = match[2]!.replace(/^expected /, 'must be ');
  return `${label}: ${text}`;
}

/** Message and hint of any error, for the UI. */
export function describeError(error: unknown): { message: string; hint?: string; code?: ApiErrorCode } {
  if (error instanceof ApiError) return { message: inUserWords(error.message), hint: error.hint, code: error.code };
  if (isErrorData(error)) return { message: inUserWords(error.message), hint: error.hint, code: error.code };
  if (error instanceof Error) return { message: error.message, hint: (error as Error & { hint?: string }).hint };
  return { message: String(error) };
}

function isErrorData(value: unknown): value is ApiErrorData {
  return typeof value === 'object' && value !== null && typeof (value as ApiErrorData).message === 'string' && typeof (value as ApiErrorData).code === 'string';
}
