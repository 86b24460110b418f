// Importing trained aggregator sets (the golden official AFA layout) for the tiny experts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../app/common/errors.ts';
import { createStudioServices, type StudioServices } from '../../app/api/services.ts';
import { goldenAfa, importTinyExperts } from './tiny-experts.ts';

let home: string;
let services: StudioServices;
const ids: string[] = [];

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'afa-aggregators-'));
  services = createStudioServices({ home });
  ids.push(...(await importTinyExperts(services, home, [1, 2, 3])));
});

after(async () => {
  await services.dispose();
  rmSync(home, { recursive: true, force: true });
});

test('an official aggregator folder is imported for its experts, listed and deleted', async () => {
  const changes: string[] = [];
  const off = services.aggregators.onDidChange((change) => changes.push(change.reason));
  const imported = await services.aggregators.import({ path: goldenAfa, name: 'Golden', memberModelIds: ids });
  assert.deepEqual(imported.memberModelIds, ids);
  assert.equal(imported.points, 25);
  // Stored in the studio's format, which records the experts by SHA-256 (checked whenever it is used).
  const stored = JSON.parse(readFileSync(join(home, 'aggregators', imported.id, 'aggregators.json'), 'utf8')) as { experts: { sha256: string }[] };
  assert.deepEqual(stored.experts.map((expert) => expert.sha256), ids);
  assert.deepEqual((await services.aggregators.list()).map((a) => a.id), [imported.id]);
  await services.aggregators.delete({ id: imported.id });
  assert.deepEqual(await services.aggregators.list(), []);
  assert.equal(existsSync(join(home, 'aggregators', imported.id)), false);
  off();
  assert.deepEqual(changes, ['import', 'delete']);
});

test('aggregators for three experts are refused for two models, and a folder without aggregators is refused', async () => {
  await assert.rejects(services.aggregators.import({ path: goldenAfa, name: 'Pair', memberModelIds: ids.slice(0, 2) }), (error: unknown) => error instanceof UserError && error.code === 'mismatch' && /trained for 3 experts and the recipe has 2/.test(error.message));
  await assert.rejects(services.aggregators.import({ path: home, name: 'Empty', memberModelIds: ids }), /holds no aggregators/);
  assert.deepEqual(await services.aggregators.list(), []);
});
