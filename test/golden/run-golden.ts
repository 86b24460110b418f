// `npm run golden -- [<dir>] [--backend B] [--precision P] [--case S]... [--kind K]... [--skip-kind K]... [--json FILE] [--kinds-dir DIR]`
// Runs the golden cases of <dir> (default: ../shared/golden next to the repository) on one execution
// provider, prints one row per case and a summary. Exit status: 0 all passed, 1 a case failed/errored/had
// no kind, 2 bad usage or the provider cannot run here.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runGolden } from './golden-runner.ts';
import type { GoldenReport } from './golden-runner.ts';
import { formatDetails, formatHeader, formatRow, formatSummary } from './report-format.ts';
import { providerTolerance } from './provider-tolerance.ts';
import { SOFTWARE_ADAPTER_MARK, softwareAdapterEnv } from './software-adapter.ts';
import { probeBackends } from '../../app/runtime/backend-probe.ts';
import { BACKENDS, type Backend } from '../../app/runtime/onnx-runtime.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const USAGE = `usage: npm run golden -- [<dir>] [--backend <provider>] [--precision fp32|fp16] [--case <substring>]... [--kind <kind>]... [--skip-kind <kind>]... [--json <file>]
  <dir>              golden directory with manifest.json (default: ${join(repoRoot, '..', 'shared', 'golden')})
  --backend <name>   execution provider for every session: ${BACKENDS.join(', ')} (default cpu); GPU
                     providers are held to test/golden/provider-tolerance.ts. webgpu on a machine
                     without an adapter reruns itself on SwiftShader when chromium ships it
  --precision <p>    what the graphs compute in: fp32 (default) or fp16 (held to a rule relative to
                     each output's magnitude; kinds that compute in float32 only are skipped)
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
        backend: { type: 'string' },
        precision: { type: 'string' },
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
  const backend = (values.backend ?? 'cpu') as Backend;
  if (!BACKENDS.includes(backend)) {
    console.error(`unknown backend '${values.backend}': choose one of ${BACKENDS.join(', ')}\n${USAGE}`);
    return 2;
  }
  const precision = values.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'fp16') {
    console.error(`unknown precision '${precision}': choose fp32 or fp16\n${USAGE}`);
    return 2;
  }
  const computeDtype = precision === 'fp16' ? 'float16' : 'float32';
  const usable = await usableBackend(backend, argv);
  if (typeof usable === 'number') return usable;
  const tolerance = providerTolerance(backend, computeDtype);
  console.log(`golden: ${dir}`);
  console.log(`backend: ${backend}${process.env[SOFTWARE_ADAPTER_MARK] ? ` (software adapter: SwiftShader, ${process.env[SOFTWARE_ADAPTER_MARK]})` : ''}; tolerance: ${tolerance.basis}`);
  console.log(formatHeader());
  let report: GoldenReport;
  try {
    report = await runGolden(dir, {
      caseFilter: values.case,
      kindFilter: values.kind,
      skipKinds: values['skip-kind'],
      kindsDir: values['kinds-dir'] === undefined ? undefined : resolve(values['kinds-dir']),
      session: { backend },
      computeDtype,
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

/**
 * True when `backend` works in this process. Otherwise, for webgpu with SwiftShader installed, the exit
 * status of this same command rerun in a child with the software adapter's environment (the library path
 * must be set before a process starts); else 2 after saying why — fast, never waiting on a device.
 */
async function usableBackend(backend: Backend, argv: readonly string[]): Promise<true | number> {
  if (backend === 'cpu') return true;
  const info = (await probeBackends()).find((entry) => entry.backend === backend);
  if (info?.available) return true;
  const env = backend === 'webgpu' && !process.env[SOFTWARE_ADAPTER_MARK] ? softwareAdapterEnv() : undefined;
  if (env) {
    console.log(`no WebGPU adapter here (${info?.reason ?? 'unknown'}); rerunning on the SwiftShader software adapter (${env.VK_ICD_FILENAMES})`);
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...argv], { env, stdio: 'inherit' });
    return child.status ?? 2;
  }
  const hint = backend === 'webgpu' ? ' (without a GPU: apt-get install chromium, whose SwiftShader driver gives a software adapter)' : '';
  console.error(`cannot run on ${backend}: ${info?.reason ?? 'unknown provider'}${hint}`);
  return 2;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
