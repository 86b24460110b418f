// Help pages: the command list for `afa --help`, and each command's usage, description, options and
// examples for `afa <command> --help`, formatted from the same declarations the parser uses.
import type { OptionSpec } from './cli-arguments.ts';
import type { CliCommand } from './cli-command.ts';

function optionLabel(spec: OptionSpec): string {
  const short = spec.short ? `-${spec.short}, ` : '    ';
  const value = spec.kind === 'flag' ? '' : ` ${spec.value ?? '<value>'}`;
  return `${short}--${spec.name}${value}`;
}

function columns(rows: readonly (readonly [string, string])[], indent = '  '): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `${indent}${left.padEnd(width)}  ${right}`.trimEnd());
}

export function commandHelp(command: CliCommand, commonOptions: readonly OptionSpec[]): string {
  const lines = [`Usage: ${command.usage}`, '', command.description, ''];
  const options = [...command.options, ...commonOptions];
  if (options.length > 0) {
    lines.push('Options:', ...columns(options.map((spec) => [optionLabel(spec), spec.description])), '');
  }
  if (command.examples && command.examples.length > 0) lines.push('Examples:', ...command.examples.map((example) => `  ${example}`), '');
  return `${lines.join('\n').trimEnd()}\n`;
}

export function mainHelp(commands: readonly CliCommand[], exitCodes: string): string {
  return [
    'AFA Studio on the command line: import Stable Diffusion 1.x checkpoints and generate images,',
    'with one model or an ensemble of them.',
    '',
    'Usage: afa <command> [options]        afa <command> --help   shows a command’s options',
    '',
    'Commands:',
    ...columns(commands.map((command) => [command.name, command.summary])),
    '',
    'Getting started:',
    '  afa import ~/Downloads/model.safetensors     convert a checkpoint once (takes a minute)',
    '  afa models                                   list imported models and their ids',
    '  afa generate --model <id> --prompt "a lighthouse at night" --out lighthouse.png',
    '',
    'Data lives in the studio home: --home <folder>, else $AFA_STUDIO_HOME, else the platform’s',
    'application-data folder. Every image is also kept in the studio’s history (images/ below the home).',
    '',
    exitCodes,
    '',
  ].join('\n');
}
