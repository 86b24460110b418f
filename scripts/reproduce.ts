// npm run reproduce [-- --home <studio home>] [--quick] [--out <folder>] [--prompts N] [--error-images N]
//                      [--recipe <AFA recipe name or id>] [--pack <demo pack folder>]
// The AFA paper's experiment at toy scale on a studio home's AFA recipe (by default the demo family the
// studio installs at first start): writes <out>/reproduction.md and its images in <out>/reproduction/
// (default out: the repository's docs/). See app/demo/reproduction.ts. Ctrl+C stops; a stopped training
// of the ablation's aggregators resumes on the next run.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../app/common/errors.ts';
import { defaultStudioHome } from '../app/common/paths.ts';
import { runReproduction } from '../app/demo/reproduction.ts';
import { writeReport } from '../app/demo/reproduction-report.ts';

const args = process.argv.slice(2);
const known = new Set(['--home', '--quick', '--out', '--prompts', '--error-images', '--recipe', '--pack']);
const option = (name: string): string | undefined => {
  const index = args.indexOf(name);
  if (index < 0) return undefined;
  const value = args[index + 1];
  if (value === undefined || value.startsWith('--')) throw new UserError('invalid-argument', `${name} needs a value.`);
  return value;
};
const count = (name: string): number | undefined => {
  const value = option(name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UserError('invalid-argument', `${name} takes a whole number from 1 up, got '${value}'.`);
  return n;
};

const controller = new AbortController();
process.once('SIGINT', () => {
  console.log('\nStopping…');
  controller.abort();
});

try {
  const unknown = args.filter((arg) => arg.startsWith('--') && !known.has(arg));
  if (unknown.length > 0) throw new UserError('invalid-argument', `Unknown option ${unknown.join(', ')}.`, `Options: ${[...known].join(', ')}.`);
  const home = resolve(option('--home') ?? defaultStudioHome());
  const outDir = resolve(option('--out') ?? fileURLToPath(new URL('../docs', import.meta.url)));
  const quick = args.includes('--quick');
  const result = await runReproduction({
    home,
    quick,
    prompts: count('--prompts'),
    errorImages: count('--error-images'),
    recipe: option('--recipe'),
    pack: option('--pack'),
    signal: controller.signal,
    log: (line) => console.log(line),
  });
  // The command as a person would type it, without the machine's paths (the report is committed).
  const shown = args.filter((arg, i) => !['--home', '--out', '--pack'].includes(arg) && !['--home', '--out', '--pack'].includes(args[i - 1] ?? ''));
  const path = writeReport(outDir, { result, command: `npm run reproduce${shown.length ? ` -- ${shown.join(' ')}` : ''}`, cores: availableParallelism() });
  console.log(`Wrote ${path} in ${(result.timings.total / 60).toFixed(1)} min.`);
} catch (error) {
  console.error(error instanceof UserError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
}
