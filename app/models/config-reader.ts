// Reads one model config.json (diffusers/transformers field names) field by field, with errors that name
// the file, the field and what is accepted. Unknown fields are ignored (configs carry bookkeeping such as
// `_diffusers_version`); fields that would change the architecture are checked by the callers with
// `refuse`, so a config we cannot run is rejected up front instead of producing a wrong image.
import { UserError } from '../common/errors.ts';

type JsonObject = Readonly<Record<string, unknown>>;

export class ConfigReader {
  private readonly json: JsonObject;

  /** `what` names the component and file for messages, e.g. "U-Net config models/x/unet/config.json". */
  constructor(
    json: unknown,
    readonly what: string,
  ) {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new UserError('corrupt-file', `The ${what} is not a JSON object.`, 'Check that the file is a model config.json.');
    }
    this.json = json as JsonObject;
  }

  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  raw(key: string): unknown {
    return this.json[key];
  }

  /** A positive (or, with `min`, bounded) integer; `fallback` is used when the field is absent or null. */
  integer(key: string, fallback?: number, min = 1): number {
    const value = this.present(key, fallback);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw this.invalid(key, value, `an integer ≥ ${min}`);
    }
    return value;
  }

  number(key: string, fallback?: number): number {
    const value = this.present(key, fallback);
    if (typeof value !== 'number' || !Number.isFinite(value)) throw this.invalid(key, value, 'a finite number');
    return value;
  }

  boolean(key: string, fallback?: boolean): boolean {
    const value = this.present(key, fallback);
    if (typeof value !== 'boolean') throw this.invalid(key, value, 'true or false');
    return value;
  }

  /** A string that must be one of `allowed`. */
  choice<T extends string>(key: string, allowed: readonly T[], fallback?: T): T {
    const value = this.present(key, fallback);
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      throw this.unsupported(key, value, allowed);
    }
    return value as T;
  }

  integers(key: string, fallback?: readonly number[]): readonly number[] {
    const value = this.present(key, fallback);
    if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 1)) {
      throw this.invalid(key, value, 'a non-empty list of positive integers');
    }
    return Object.freeze([...(value as number[])]);
  }

  /** A list whose entries must each be one of `allowed`. */
  choices<T extends string>(key: string, allowed: readonly T[], fallback?: readonly T[]): readonly T[] {
    const value = this.present(key, fallback);
    if (!Array.isArray(value) || value.length === 0) throw this.invalid(key, value, 'a non-empty list');
    for (const entry of value) {
      if (typeof entry !== 'string' || !(allowed as readonly string[]).includes(entry)) throw this.unsupported(key, entry, allowed);
    }
    return Object.freeze([...(value as T[])]);
  }

  /** Throws unless the field is absent/null or equals one of `accepted` (the values we implement). */
  refuse(key: string, accepted: readonly unknown[], why: string): void {
    const value = this.json[key];
    if (value === undefined || value === null) return;
    if (accepted.some((a) => a === value)) return;
    throw new UserError(
      'unsupported',
      `The ${this.what} sets ${key} = ${JSON.stringify(value)}, which this studio does not support (${why}).`,
      `Only Stable Diffusion 1.x models are supported; ${key} must be ${[...accepted.map((a) => JSON.stringify(a)), 'null'].join(' or ')} (or absent).`,
    );
  }

  /** A value that breaks an invariant between fields (e.g. channels not divisible by groups). */
  mismatch(message: string): UserError {
    return new UserError('unsupported', `The ${this.what} is inconsistent: ${message}.`, 'Check that the config.json belongs to a Stable Diffusion 1.x model.');
  }

  private present(key: string, fallback: unknown): unknown {
    const value = this.json[key];
    if (value === undefined || value === null) {
      if (fallback === undefined) {
        throw new UserError('corrupt-file', `The ${this.what} has no '${key}' field.`, 'Check that the config.json is complete.');
      }
      return fallback;
    }
    return value;
  }

  private invalid(key: string, value: unknown, expected: string): UserError {
    return new UserError('corrupt-file', `The ${this.what} has ${key} = ${JSON.stringify(value)}; expected ${expected}.`, 'Check that the config.json is a valid model config.');
  }

  private unsupported(key: string, value: unknown, allowed: readonly string[]): UserError {
    return new UserError(
      'unsupported',
      `The ${this.what} has ${key} = ${JSON.stringify(value)}, which this studio does not support.`,
      `Supported values: ${allowed.join(', ')} (Stable Diffusion 1.x).`,
    );
  }
}
