// `npm run bench [-- suite ...] [--backend provider] [--precision fp32|fp16] [--json out.json]`: runs the benchmark suites one after another (never in
// parallel: they measure CPU time on the same cores), prints a readable table and writes JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult, BenchSuite } from './bench-result.ts';
import { benchBackend, benchComputeDtype } from './bench-options.ts';

interface SuiteEntry {
  readonly name: string;
  readonly load: () => Promise<BenchSuite>;
}

// Each suite lives in its own file and exports one function; loading lazily keeps a failing or
// unfinished suite from stopping the others.
const suites: readonly SuiteEntry[] = [
  { name: 'library', load: async () => (await import('./library.ts')).benchLibrary },
  { name: 'unet', load: async () => (await import('./unet.ts')).benchUnet },
  { name: 'import', load: async () => (await import('./import.ts')).benchImport },
  { name: 'pipeline', load: async () => (await import('./pipeline.ts')).benchPipeline },
  { name: 'ensemble', load: async () => (await import('./ensemble.ts')).benchEnsemble },
  { name: 'load', load: async () => (await import('./load.ts')).benchLoad },
  { name: 'train', load: async () => (await import('./train.ts')).benchTrain },
  { name: 'train-job', load: async () => (await import('./train-job.ts')).benchTrainJob },
  { name: 'demo-scenes', load: async () => (await import('./demo-scenes.ts')).benchDemoScenes },
  { name: 'demo', load: async () => (await import('./demo.ts')).benchDemo },
];

function parseArguments(argv: readonly string[]): { names: string[]; json: string } {
  const names: string[] = [];
  let json = join(dirname(fileURLToPath(import.meta.url)), 'results', 'bench.json');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') json = argv[++i] ?? json;
    else if (argv[i] === '--backend') process.env.AFA_BENCH_BACKEND = argv[++i] ?? 'cpu';
    else if (argv[i] === '--precision') process.env.AFA_BENCH_PRECISION = argv[++i] ?? 'fp32';
    else names.push(argv[i]!);
  }
  const unknown = names.filter((name) => !suites.some((suite) => suite.name === name));
  if (unknown.length > 0) {
    console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${suites.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  return { names, json };
}

function formatTable(rows: readonly (BenchResult & { suite: string })[]): string {
  const header = ['suite', 'measure', 'value', 'unit', 'target', 'pass'];
  const cells = rows.map((row) => [
    row.suite,
    row.name,
    Number.isInteger(row.value) ? String(row.value) : row.value.toPrecision(4),
    row.unit,
    row.target ?? '',
    row.pass === undefined ? '' : row.pass ? 'yes' : 'NO',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((cell) => cell[column]!.length)));
  const line = (cell: readonly string[]) => cell.map((text, column) => text.padEnd(widths[column]!)).join(' | ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('-|-'), ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { names, json } = parseArguments(process.argv.slice(2));
  const chosen = suites.filter((suite) => names.length === 0 || names.includes(suite.name));
  const rows: (BenchResult & { suite: string })[] = [];
  const failures: string[] = [];
  for (const suite of chosen) {
    console.error(`running ${suite.name} …`);
    try {
      const run = await suite.load();
      for (const result of await run()) rows.push({ suite: suite.name, ...result });
    } catch (error) {
      failures.push(`${suite.name}: ${(error as Error).message}`);
    }
  }
  mkdirSync(dirname(json), { recursive: true });
  const backend = benchBackend();
  const precision = benchComputeDtype() === 'float16' ? 'fp16' : 'fp32';
  writeFileSync(json, JSON.stringify({ date: new Date().toISOString(), backend, precision, results: rows, failures }, null, 2));
  console.log(`provider: ${backend}; the U-Net and ensemble graphs compute in ${precision}`);
  console.log(formatTable(rows));
  for (const failure of failures) console.log(`suite failed: ${failure}`);
  console.log(`\nJSON written to ${json}`);
  if (failures.length > 0) process.exitCode = 1;
}

await main();
