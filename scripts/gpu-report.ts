// `node --import tsx scripts/gpu-report.ts [--golden <dir>] [--with-cpu] [--skip-bench]` — for a machine with a GPU.
// For every GPU provider that works here (WebGPU; CUDA when onnxruntime's CUDA libraries are installed):
//   1. the golden GPU subset (test/golden/gpu-cases.ts) held to test/golden/provider-tolerance.ts, in
//      float32 and in float16 compute (`--precision fp16`), and
//   2. `npm run bench -- unet ensemble --backend <provider> --precision fp32|fp16` with the ensemble at
//      SD1.5 512² (AFA_BENCH_ENSEMBLE_SIZE=512; the U-Net suite measures 256² and 512²),
// then prints one table: provider, what, value, unit, target/status. Each run is a child process (a GPU
// provider that hangs or crashes loses its own rows, not the report). `--with-cpu` adds the CPU bench
// for comparison (slow on SD1.5 512²). Exit status 1 when a golden case fails on a provider.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { probeBackends } from '../app/runtime/backend-probe.ts';
import type { Backend } from '../app/runtime/onnx-runtime.ts';
import { GPU_CI_CASES } from '../test/golden/gpu-cases.ts';
import type { GoldenReport } from '../test/golden/golden-runner.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: { golden: { type: 'string' }, 'with-cpu': { type: 'boolean' }, 'skip-bench': { type: 'boolean' } },
});
const goldenDir = resolve(values.golden ?? join(root, '..', 'shared', 'golden'));
const GOLDEN_LIMIT_S = 15 * 60;
const BENCH_LIMIT_S = 45 * 60;

interface Row {
  readonly provider: string;
  readonly what: string;
  readonly value: string;
  readonly unit: string;
  readonly status: string;
}

const rows: Row[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'afa-gpu-report-'));
let failed = false;

function child(args: readonly string[], limitSeconds: number, env: NodeJS.ProcessEnv = {}): { status: number | null; seconds: number } {
  const started = performance.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env }, timeout: limitSeconds * 1000 });
  return { status: result.status, seconds: (performance.now() - started) / 1000 };
}

type Precision = 'fp32' | 'fp16';

function golden(backend: Backend, precision: Precision): void {
  const provider = `${backend} ${precision}`;
  const json = join(scratch, `golden-${backend}-${precision}.json`);
  const { status, seconds } = child(['test/golden/run-golden.ts', goldenDir, '--backend', backend, '--precision', precision, '--json', json, ...GPU_CI_CASES.flatMap((id) => ['--case', id])], GOLDEN_LIMIT_S);
  let report: GoldenReport;
  try {
    report = JSON.parse(readFileSync(json, 'utf8')) as GoldenReport;
  } catch {
    rows.push({ provider, what: 'golden subset', value: '-', unit: '', status: `no report (exit ${status ?? 'killed at the time limit'})` });
    failed = true;
    return;
  }
  for (const result of report.cases) {
    const worst = result.worst;
    const error = worst?.maxAbsError === undefined ? '-' : `${worst.maxAbsError.toExponential(2)} (${worst.name})`;
    rows.push({ provider, what: `golden ${result.id}`, value: error, unit: `max|err|, allowed ${worst?.atol?.toExponential(2) ?? '-'}`, status: `${result.status.toUpperCase()} ${result.seconds.toFixed(1)} s` });
  }
  rows.push({ provider, what: 'golden subset', value: seconds.toFixed(1), unit: 's', status: report.ok ? 'PASS' : 'FAIL' });
  if (!report.ok) failed = true;
}

function bench(backend: Backend, precision: Precision): void {
  const provider = `${backend} ${precision}`;
  const json = join(scratch, `bench-${backend}-${precision}.json`);
  const { status } = child(['bench/run-bench.ts', 'unet', 'ensemble', '--backend', backend, '--precision', precision, '--json', json], BENCH_LIMIT_S, { AFA_BENCH_ENSEMBLE_SIZE: '512' });
  try {
    const report = JSON.parse(readFileSync(json, 'utf8')) as { results: { suite: string; name: string; value: number; unit: string; target?: string; pass?: boolean }[]; failures: string[] };
    for (const row of report.results) {
      rows.push({ provider, what: `${row.suite}: ${row.name}`, value: Number.isInteger(row.value) ? String(row.value) : row.value.toPrecision(4), unit: row.unit, status: row.target ? `${row.target} ${row.pass ? 'yes' : 'NO'}` : '' });
    }
    for (const failure of report.failures) rows.push({ provider, what: 'bench suite failed', value: '-', unit: '', status: failure });
  } catch {
    rows.push({ provider, what: 'bench unet ensemble', value: '-', unit: '', status: `no report (exit ${status ?? 'killed at the time limit'})` });
  }
}

function printTable(): void {
  const header: Row = { provider: 'provider', what: 'what', value: 'value', unit: 'unit', status: 'status' };
  const keys = ['provider', 'what', 'value', 'unit', 'status'] as const;
  const widths = keys.map((key) => Math.max(...[header, ...rows].map((row) => row[key].length)));
  const line = (row: Row) => keys.map((key, index) => row[key].padEnd(widths[index]!)).join(' | ');
  console.log(['', line(header), widths.map((width) => '-'.repeat(width)).join('-|-'), ...rows.map(line)].join('\n'));
}

try {
  const backends = await probeBackends();
  for (const info of backends) {
    if (info.backend !== 'cpu' && !info.available) rows.push({ provider: info.backend, what: 'available', value: 'no', unit: '', status: info.reason ?? '' });
  }
  const gpus = backends.filter((info) => info.available && (info.backend === 'webgpu' || info.backend === 'cuda')).map((info) => info.backend);
  if (gpus.length === 0) console.error('no GPU provider works on this machine (see the table); nothing to measure');
  for (const provider of gpus) {
    for (const precision of ['fp32', 'fp16'] as const) {
      console.error(`== ${provider} ${precision}: golden subset`);
      golden(provider, precision);
    }
    if (!values['skip-bench']) {
      // fp16 first: it is the one users get ('auto'), and the one the anchors are measured in.
      for (const precision of ['fp16', 'fp32'] as const) {
        console.error(`== ${provider} ${precision}: bench unet ensemble (512²)`);
        bench(provider, precision);
      }
    }
  }
  if (values['with-cpu'] && !values['skip-bench']) bench('cpu', 'fp32');
  printTable();
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
