// `npm run golden -- [<dir>] [--case S]... [--kind K]... [--skip-kind K]... [--json FILE] [--kinds-dir DIR]`
// Runs the golden cases of <dir> (default: ../shared/golden next to the repository), prints one row per
// case and a summary. Exit status: 0 all passed, 1 a case failed/errored/had no kind, 2 bad usage.
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runGolden } from './golden-runner.ts';
import type { GoldenReport } from './golden-runner.ts';
import { formatDetails, formatHeader, formatRow, formatSummary } from './report-format.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const USAGE = `usage: npm run golden -- [<dir>] [--case <substring>]... [--kind <kind>]... [--skip-kind <kind>]... [--json <file>]
  <dir>              golden directory with manifest.json (default: ${join(repoRoot, '..', 'shared', 'golden')})
  --case <text>      run only cases whose id contains <text> (repeatable)
  --kind <kind>      run only cases of <kind> (repeatable)
  --skip-kind <kind> report cases of <kind> as skipped (repeatable)
  --json <file>      also write the results as JSON
  --kinds-dir <dir>  discover kinds in <dir> instead of test/golden/kinds`;

/** JSON.stringify turns Infinity into null; keep it readable. */
function finite(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}

export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        case: { type: 'string', multiple: true },
        kind: { type: 'string', multiple: true },
        'skip-kind': { type: 'string', multiple: true },
        json: { type: 'string' },
        'kinds-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    console.error(`expected one golden directory, got ${positionals.join(' ')}\n${USAGE}`);
    return 2;
  }
  const dir = resolve(positionals[0] ?? join(repoRoot, '..', 'shared', 'golden'));
  console.log(`golden: ${dir}`);
  console.log(formatHeader());
  let report: GoldenReport;
  try {
    report = await runGolden(dir, {
      caseFilter: values.case,
      kindFilter: values.kind,
      skipKinds: values['skip-kind'],
      kindsDir: values['kinds-dir'] === undefined ? undefined : resolve(values['kinds-dir']),
      onCase: (result) => {
        console.log(formatRow(result));
        for (const line of formatDetails(result)) console.log(line);
      },
    });
  } catch (error) {
    console.error(`cannot run ${dir}: ${(error as Error).message}`);
    return 2;
  }
  for (const line of formatSummary(report)) console.log(line);
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(report, finite, 2)}\n`);
  return report.ok ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
