// The `afa` command line (bin/afa.js loads this file through tsx): finds the command, answers --help,
// parses and checks the options, runs the command and turns what went wrong into a message on stderr
// (plus a JSON error on stdout with --json) and an exit status that says whose fault it was.
import { defaultStudioHome } from '../common/paths.ts';
import { assertWritableHome } from '../common/writable-home.ts';
import { CancelledError, EngineError, UserError } from '../common/errors.ts';
import { parseArguments, type OptionSpec } from './cli-arguments.ts';
import type { CliCommand } from './cli-command.ts';
import type { CliIo } from './cli-io.ts';
import { COMMANDS } from './commands.ts';
import { setUpDemoIfWanted } from './demo-setup.ts';
import { errorJson, EXIT_BAD_INPUT, EXIT_OK, exitCodeOf } from './exit-codes.ts';
import { commandHelp, mainHelp } from './help-text.ts';

/** Options every command (but serve) takes. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { name: 'home', kind: 'string', value: '<folder>', description: 'Studio home (default: $AFA_STUDIO_HOME, else the platform’s data folder)' },
  { name: 'json', kind: 'flag', description: 'Print one JSON document on stdout (errors too) for scripts' },
  { name: 'help', short: 'h', kind: 'flag', description: 'Show this help' },
];

const EXIT_CODES_HELP = [
  'Exit status: 0 done · 2 bad input (options, paths, unknown model) · 3 the engine failed ·',
  '130 cancelled with Ctrl+C (nothing half written is left).',
].join('\n');

function describeError(error: unknown): string {
  if (error instanceof UserError) return `afa: ${error.message}`;
  if (error instanceof CancelledError) return `afa: ${error.message}`;
  if (error instanceof EngineError) return `afa: the engine failed: ${error.message}`;
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return `afa: unexpected error (please report it): ${message}`;
}

function unknownCommand(name: string): UserError {
  const close = COMMANDS.filter((command) => command.name.startsWith(name.slice(0, 2))).map((command) => command.name);
  return new UserError(
    'invalid-argument',
    `Unknown command '${name}'.`,
    close.length > 0 ? `Did you mean: ${close.join(', ')}? Run 'afa --help' for the commands.` : "Run 'afa --help' for the commands.",
  );
}

async function runCommand(command: CliCommand, argv: readonly string[], io: CliIo, json: boolean): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(commandHelp(command, command.runRaw ? [COMMON_OPTIONS[0]!, COMMON_OPTIONS[2]!] : COMMON_OPTIONS));
    return EXIT_OK;
  }
  if (command.runRaw) return command.runRaw(argv, io);
  const args = parseArguments(argv, [...command.options, ...COMMON_OPTIONS], command.name);
  const home = args.string('home') ?? defaultStudioHome(io.env);
  if (command.writesHome) assertWritableHome(home);
  if (command.setsUpDemo) await setUpDemoIfWanted(home, io);
  return command.run(args, { io, home, json });
}

/** Runs `afa <argv…>`; resolves with the exit status (never rejects). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  const json = rest.includes('--json');
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const topic = name === 'help' ? rest[0] : undefined;
      const command = topic === undefined ? undefined : COMMANDS.find((candidate) => candidate.name === topic);
      if (topic !== undefined && !command) throw unknownCommand(topic);
      const text = command ? commandHelp(command, COMMON_OPTIONS) : mainHelp(COMMANDS, EXIT_CODES_HELP);
      // Bare `afa` is a usage mistake: the help goes to stderr and the status says so.
      if (name === undefined) io.stderr.write(text);
      else io.stdout.write(text);
      return name === undefined ? EXIT_BAD_INPUT : EXIT_OK;
    }
    const command = COMMANDS.find((candidate) => candidate.name === name);
    if (!command) throw unknownCommand(name);
    return await runCommand(command, rest, io, json);
  } catch (error) {
    io.stderr.write(`${describeError(error)}\n`);
    if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: errorJson(error) }, null, 2)}\n`);
    return exitCodeOf(error);
  }
}
