// Small hand-written schema validators for API requests. A schema is a function that returns the value,
// typed, or throws ApiError('bad-request') naming the field path ('request.recipe.members[2].weight'),
// what was expected and what came. Objects reject unknown keys, so a misspelt field never passes silently.
import { ApiError } from './api-error.ts';

export type Schema<T> = (value: unknown, path: string) => T;
export type Infer<S> = S extends Schema<infer T> ? T : never;

type Shape = Record<string, Schema<unknown>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type ObjectOf<R extends Shape, O extends Shape> = Simplify<{ [K in keyof R]: Infer<R[K]> } & { [K in keyof O]?: Infer<O[K]> }>;

export function fail(path: string, expected: string, value: unknown): never {
  throw new ApiError('bad-request', `${path}: expected ${expected}, got ${describe(value)}.`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}

export function string(options: { min?: number; max: number; trim?: boolean }): Schema<string> {
  const min = options.min ?? 0;
  return (value, path) => {
    if (typeof value !== 'string') fail(path, 'a string', value);
    const text = options.trim ? value.trim() : value;
    if (text.length < min || text.length > options.max) {
      fail(path, min > 0 ? `${min}–${options.max} characters` : `at most ${options.max} characters`, value);
    }
    // Control characters other than tab/newline have no business in prompts, names or paths.
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(text)) fail(path, 'text without control characters', value);
    return text;
  };
}

export function number(options: { min: number; max: number; integer?: boolean }): Schema<number> {
  return (value, path) => {
    const kind = options.integer ? 'an integer' : 'a number';
    if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, kind, value);
    if (options.integer && !Number.isInteger(value)) fail(path, kind, value);
    if (value < options.min || value > options.max) fail(path, `${kind} in [${options.min}, ${options.max}]`, value);
    return value;
  };
}

export function integer(min: number, max: number): Schema<number> {
  return number({ min, max, integer: true });
}

export const boolean: Schema<boolean> = (value, path) => (typeof value === 'boolean' ? value : fail(path, 'true or false', value));

export function literal<const T extends string>(...choices: T[]): Schema<T> {
  return (value, path) =>
    typeof value === 'string' && (choices as string[]).includes(value)
      ? (value as T)
      : fail(path, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
}

export function array<T>(item: Schema<T>, options: { min?: number; max: number }): Schema<T[]> {
  const min = options.min ?? 0;
  return (value, path) => {
    if (!Array.isArray(value)) fail(path, 'an array', value);
    if (value.length < min || value.length > options.max) fail(path, `an array of ${min}–${options.max} items`, value);
    return value.map((element, index) => item(element, `${path}[${index}]`));
  };
}

export function nullable<T>(schema: Schema<T>): Schema<T | null> {
  return (value, path) => (value === null ? null : schema(value, path));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** An object with `required` and `optional` fields; any other key is refused. `undefined` counts as absent. */
export function object<R extends Shape, O extends Shape = Record<never, never>>(required: R, optional?: O): Schema<ObjectOf<R, O>> {
  const optionalShape: Shape = optional ?? {};
  return (value, path) => {
    if (!isPlainObject(value)) fail(path, 'an object', value);
    const result: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      // Own keys only: `in` would also find Object.prototype's ('__proto__', 'constructor', 'toString').
      if (!Object.hasOwn(required, key) && !Object.hasOwn(optionalShape, key)) {
        const known = [...Object.keys(required), ...Object.keys(optionalShape)];
        throw new ApiError('bad-request', `${path}: unknown field '${key}' (known: ${known.join(', ') || 'none'}).`);
      }
    }
    for (const [key, schema] of Object.entries(required)) {
      if (value[key] === undefined) throw new ApiError('bad-request', `${path}.${key}: required.`);
      result[key] = schema(value[key], `${path}.${key}`);
    }
    for (const [key, schema] of Object.entries(optionalShape)) {
      if (value[key] !== undefined) result[key] = schema(value[key], `${path}.${key}`);
    }
    return result as ObjectOf<R, O>;
  };
}

/** Picks the object schema by which of its keys is present (e.g. `{ recipeId }` or `{ spec }`). */
export function byKey<const V extends Record<string, Schema<unknown>>>(variants: V): Schema<Infer<V[keyof V]>> {
  return (value, path) => {
    if (!isPlainObject(value)) fail(path, 'an object', value);
    const present = Object.keys(variants).filter((key) => value[key] !== undefined);
    if (present.length !== 1) fail(path, `an object with exactly one of ${Object.keys(variants).join(', ')}`, value);
    return variants[present[0]](value, path) as Infer<V[keyof V]>;
  };
}

/** Picks the object schema by the value of a discriminant field (e.g. `kind: 'path' | 'upload'`). */
export function byTag<const V extends Record<string, Schema<unknown>>>(tag: string, variants: V): Schema<Infer<V[keyof V]>> {
  const choose = literal(...Object.keys(variants));
  return (value, path) => {
    if (!isPlainObject(value)) fail(path, 'an object', value);
    return variants[choose(value[tag], `${path}.${tag}`)](value, path) as Infer<V[keyof V]>;
  };
}

/** No request: `undefined` (an empty object is accepted too, since some transports always send a body). */
export const none: Schema<undefined> = (value, path) => {
  if (value === undefined || value === null) return undefined;
  if (isPlainObject(value) && Object.keys(value).length === 0) return undefined;
  return fail(path, 'no request', value);
};

/** Runs `check` after `schema`; `check` returns an error message for a value that is well-formed but wrong. */
export function refine<T>(schema: Schema<T>, check: (value: T) => string | undefined): Schema<T> {
  return (value, path) => {
    const parsed = schema(value, path);
    const problem = check(parsed);
    if (problem) throw new ApiError('bad-request', `${path}: ${problem}`);
    return parsed;
  };
}
