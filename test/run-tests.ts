// Runs every `*.test.ts` under test/ with Node's own test runner (through tsx), so CI reads its closing
// summary. Usage: `node --import tsx test/run-tests.ts [substring ...]` — substrings filter test file paths.
import { spawnSync } from 'node:child_process';
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
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', ...files],
  // No built-in demo in the homes tests start the studio on (a test of the demo names its own pack).
  { cwd: root, stdio: 'inherit', env: { ...process.env, AFA_TEST: '1', AFA_STUDIO_DEMO_PACK: process.env.AFA_STUDIO_DEMO_PACK ?? 'none' } },
);
process.exit(result.status ?? 1);
