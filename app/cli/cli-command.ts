// What a command of `afa` is: its options (parsed and checked by main.ts before `run`), its help text,
// and `run`, which returns the exit status (exit-codes.ts) or throws (main.ts maps the error to one).
import type { CliArguments, OptionSpec } from './cli-arguments.ts';
import type { CliIo } from './cli-io.ts';

export interface CliContext {
  readonly io: CliIo;
  /** The studio home: --home, else AFA_STUDIO_HOME, else the platform's data folder. */
  readonly home: string;
  /** --json: one JSON document on stdout, nothing else there. */
  readonly json: boolean;
}

export interface CliCommand {
  readonly name: string;
  /** One line for `afa --help`. */
  readonly summary: string;
  /** e.g. 'afa import <file|folder> [options]'. */
  readonly usage: string;
  /** A few sentences for `afa <command> --help`: what it does and what it leaves where. */
  readonly description: string;
  readonly options: readonly OptionSpec[];
  readonly examples?: readonly string[];
  /**
   * The command writes to the studio home (library, images, models): main.ts checks it can, before any
   * work, and says which folder and how to choose another (exit 2).
   */
  readonly writesHome?: boolean;
  /**
   * The command lists or uses models: on a home that wants the built-in demo (a new one) main.ts sets
   * it up first (demo-setup.ts).
   */
  readonly setsUpDemo?: boolean;
  /**
   * When set, the command parses its own arguments (it gets them raw, with --help answered by main.ts
   * from the fields above). Used for commands owned by other modules, e.g. `afa serve`.
   */
  readonly runRaw?: (argv: readonly string[], io: CliIo) => Promise<number>;
  run(args: CliArguments, context: CliContext): Promise<number>;
}
