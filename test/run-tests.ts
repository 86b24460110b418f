// Runs every `*.test.ts` under test/ with Node's own test runner (through tsx), so CI reads its closing
// summary. Usage: `node --import tsx test/run-tests.ts [substring ...]` — substrings filter test file paths.
// Two files run at a time (AFA_TEST_CONCURRENCY overrides; 1 runs them one after another): a file alone
// keeps the 2 cores busy only part of the time (browser and child-process waits, compiles, one-thread
// stretches). Measured on 4 heavy files (training, CLI, browser, recipe targets) on the 2-core machine:
// 246 s one at a time (1.26 cores busy on average), 200 s two at a time, the same CPU time within 4 %.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function collect(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.ts') || name.endsWith('.test.tsx')) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = collect(join(root, 'test'), [])
  .map((file) => relative(root, file))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
function concurrency(): number {
  const asked = process.env.AFA_TEST_CONCURRENCY;
  if (asked === undefined || asked === '') return Math.min(2, availableParallelism());
  const value = Number(asked);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`AFA_TEST_CONCURRENCY must be a whole number of test files at a time (1 or more), got '${asked}'`);
    process.exit(1);
  }
  return value;
}

const atATime = concurrency();
console.log(`${files.length} test ${files.length === 1 ? 'file' : 'files'}, ${atATime === 1 ? 'one at a time' : `${atATime} at a time`}`);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${atATime}`, '--test-reporter=spec', ...files],
  // No built-in demo in the homes tests start the studio on (a test of the demo names its own pack).
  { cwd: root, stdio: 'inherit', env: { ...process.env, AFA_TEST: '1', AFA_STUDIO_DEMO_PACK: process.env.AFA_STUDIO_DEMO_PACK ?? 'none' } },
);
process.exit(result.status ?? 1);
