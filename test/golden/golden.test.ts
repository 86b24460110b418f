// Runs the shared golden cases (../shared/golden, never copied into the repository): one node test per
// case, so the test summary counts them. Every case of a kind registered in test/golden/kinds/ must pass.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openGoldenSession } from './golden-runner.ts';
import { formatDetails } from './report-format.ts';

/** Kinds skipped on purpose, with the reason (none: every kind of the shared set runs). */
const SKIPPED_KINDS: Readonly<Record<string, string>> = {};

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const goldenDir = join(repoRoot, '..', 'shared', 'golden');

const session = await openGoldenSession(goldenDir, { skipKinds: Object.keys(SKIPPED_KINDS) });
after(() => session.close());

for (const { file, message } of session.loadErrors) {
  test(`kinds file ${file} loads`, () => assert.fail(message));
}

for (const testCase of session.cases) {
  const name = `${testCase.id} [${testCase.kind}]`;
  const skipReason = SKIPPED_KINDS[testCase.kind];
  if (skipReason) {
    test(name, { skip: skipReason });
  } else if (!session.isRegistered(testCase.kind)) {
    test(name, () => assert.fail(`no file in test/golden/kinds registers kind '${testCase.kind}'`));
  } else {
    test(name, async (t) => {
      const result = await session.runCase(testCase.id);
      for (const output of result.outputs) t.diagnostic(`${output.name}: ${output.status} — ${output.message}`);
      assert.equal(result.status, 'pass', [`${testCase.id}: ${result.status}`, ...formatDetails(result)].join('\n'));
    });
  }
}
