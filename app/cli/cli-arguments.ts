// A small argument parser: `--name value`, `--name=value`, `-n value`, flags without a value, `--` to
// end options, positionals anywhere. Each option is declared once (OptionSpec), which also feeds the
// help text, and its value is checked when parsed, so a command reads typed values or nothing.
import { UserError } from '../common/errors.ts';

export type OptionKind = 'string' | 'integer' | 'number' | 'flag';

export interface OptionSpec {
  /** Long name without dashes: 'steps' is `--steps`. */
  readonly name: string;
  /** One letter: 'o' is `-o`. */
  readonly short?: string;
  readonly kind: OptionKind;
  /** Placeholder of the value in the help, e.g. '<n>'. */
  readonly value?: string;
  readonly description: string;
  /** May be given several times (values are collected in order). */
  readonly repeatable?: boolean;
}

type Value = string | number | boolean;

export class CliArguments {
  readonly positionals: readonly string[];
  readonly #values: ReadonlyMap<string, readonly Value[]>;

  constructor(values: ReadonlyMap<string, readonly Value[]>, positionals: readonly string[]) {
    this.#values = values;
    this.positionals = positionals;
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  /** The last value given for a string option. */
  string(name: string): string | undefined {
    const values = this.#values.get(name);
    return values === undefined ? undefined : String(values[values.length - 1]);
  }

  /** Every value given for a repeatable string option, in order. */
  strings(name: string): string[] {
    return (this.#values.get(name) ?? []).map(String);
  }

  /** The last value of an integer or number option. */
  number(name: string): number | undefined {
    const values = this.#values.get(name);
    return values === undefined ? undefined : (values[values.length - 1] as number);
  }

  flag(name: string): boolean {
    return this.#values.has(name);
  }
}

function usageError(message: string, command: string): UserError {
  return new UserError('invalid-argument', message, `Run 'afa ${command} --help' for the options.`);
}

function convert(spec: OptionSpec, raw: string, command: string): Value {
  const flag = `--${spec.name}`;
  if (spec.kind === 'integer') {
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(Number(raw))) throw usageError(`${flag} needs a whole number, got '${raw}'.`, command);
    return Number(raw);
  }
  if (spec.kind === 'number') {
    const value = raw.trim() === '' ? Number.NaN : Number(raw);
    if (!Number.isFinite(value)) throw usageError(`${flag} needs a number, got '${raw}'.`, command);
    return value;
  }
  return raw;
}

/** Parses `argv` against `specs`; throws UserError('invalid-argument') naming the problem and the help. */
export function parseArguments(argv: readonly string[], specs: readonly OptionSpec[], command: string): CliArguments {
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const byShort = new Map(specs.filter((spec) => spec.short).map((spec) => [spec.short!, spec]));
  const values = new Map<string, Value[]>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    if (token.startsWith('--')) {
      const equals = token.indexOf('=');
      const name = equals < 0 ? token.slice(2) : token.slice(2, equals);
      if (equals >= 0) inline = token.slice(equals + 1);
      spec = byName.get(name);
      if (!spec) throw usageError(`Unknown option --${name} for 'afa ${command}'.`, command);
    } else if (token.startsWith('-') && token.length === 2 && !/\d/.test(token[1]!)) {
      spec = byShort.get(token[1]!);
      if (!spec) throw usageError(`Unknown option ${token} for 'afa ${command}'.`, command);
    } else {
      positionals.push(token);
      continue;
    }
    let value: Value;
    if (spec.kind === 'flag') {
      if (inline !== undefined) throw usageError(`--${spec.name} takes no value.`, command);
      value = true;
    } else {
      const raw = inline ?? argv[i + 1];
      // A value may start with '-' only when it is a number (e.g. `--seed -1` is then refused by range).
      if (raw === undefined || (inline === undefined && raw.startsWith('-') && !/^-\d/.test(raw))) {
        throw usageError(`--${spec.name} needs a value${spec.value ? ` ${spec.value}` : ''}.`, command);
      }
      if (inline === undefined) i++;
      value = convert(spec, raw, command);
    }
    const list = values.get(spec.name);
    if (list && !spec.repeatable && spec.kind !== 'flag') throw usageError(`--${spec.name} is given twice.`, command);
    if (list) list.push(value);
    else values.set(spec.name, [value]);
  }
  return new CliArguments(values, positionals);
}
