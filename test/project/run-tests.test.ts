// test/run-tests.ts, the runner behind `npm test`: the files run two at a time unless
// AFA_TEST_CONCURRENCY says otherwise, and a wrong value stops it with a message before any test runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../pipeline/tiny-model.ts';

function runner(filters: readonly string[], concurrency?: string) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AFA_TEST_CONCURRENCY;
  // Node's test runner marks its child processes; without this the nested runner would skip its files.
  delete env.NODE_TEST_CONTEXT;
  if (concurrency !== undefined) env.AFA_TEST_CONCURRENCY = concurrency;
  return spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'run-tests.ts'), ...filters], { cwd: repoRoot, env, encoding: 'utf8', timeout: 120_000 });
}

test('the runner runs the files a filter names, one or two at a time, and says what is wrong with a bad AFA_TEST_CONCURRENCY', () => {
  const files = ['test/schedulers/beta-schedule.test.ts', 'test/schedulers/noise.test.ts'];
  const expected = availableParallelism() >= 2 ? '2 at a time' : 'one at a time';
  for (const [concurrency, says] of [[undefined, expected], ['1', 'one at a time'], ['3', '3 at a time']] as const) {
    const run = runner(files, concurrency);
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.ok(run.stdout.startsWith(`2 test files, ${says}\n`), run.stdout);
    assert.match(run.stdout, /ℹ fail 0/);
    const passed = Number(/ℹ pass (\d+)/.exec(run.stdout)?.[1]);
    assert.ok(passed > 0, run.stdout);
  }
  for (const wrong of ['0', 'two', '1.5']) {
    const run = runner(files, wrong);
    assert.equal(run.status, 1);
    assert.match(run.stderr, new RegExp(`AFA_TEST_CONCURRENCY must be a whole number of test files at a time \\(1 or more\\), got '${wrong.replace('.', '\\.')}'`));
    assert.doesNotMatch(run.stdout, /ℹ pass/);
  }
  const none = runner(['no-such-test-file']);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no test files match no-such-test-file/);
});
