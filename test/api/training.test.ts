// The training API over the real services: dataset previews with their problems, request validation at
// the boundary, runs refused for models that are not imported, and an empty run list.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createDispatcher } from '../../app/api/dispatch.ts';
import { createStudioServices, type StudioServices } from '../../app/api/services.ts';
import { scratchDir } from '../ensemble/golden-experts.ts';
import { writeGeneratedDataset } from '../datasets/generated-dataset.ts';

let home: string;
let services: StudioServices;

before(() => {
  home = scratchDir('afa-api-training-');
  services = createStudioServices({ home });
});

after(async () => {
  await services.dispose();
  rmSync(home, { recursive: true, force: true });
});

test('previewDataset lists images, captions and problems', async () => {
  const data = await writeGeneratedDataset(join(home, 'data'), 3, 16);
  rmSync(join(data, 'image-02.txt'));
  const preview = await services.training.previewDataset({ path: data });
  assert.equal(preview.layout, 'captions');
  assert.equal(preview.count, 2);
  assert.deepEqual(preview.items.map((item) => item.caption), ['a red square', 'a green square']);
  assert.deepEqual(preview.problems.map((p) => [p.kind, p.files, p.blocking]), [['missing-caption', ['image-02.png'], true]]);
  const named = await services.training.previewDataset({ path: data, missingCaptions: 'use-file-name' });
  assert.equal(named.count, 3);
  await assert.rejects(services.training.start({ memberModelIds: ['a'.repeat(64), 'b'.repeat(64)], dataPath: data }), /have no \.txt caption/);
  await assert.rejects(
    services.training.start({ memberModelIds: ['a'.repeat(64), 'b'.repeat(64)], dataPath: data, settings: { missingCaptions: 'use-file-name' } }),
    /Model aaaaaaaaaaaa is no longer in the studio/,
  );
  assert.deepEqual(await services.training.list(), []);
});

test('the dispatcher validates training requests and reports errors as data', async () => {
  const dispatcher = createDispatcher(services);
  const bad = await dispatcher.invoke('training.start', { memberModelIds: ['x'], dataPath: '/tmp' } as never);
  assert.equal(bad.ok, false);
  const missing = await dispatcher.invoke('training.previewDataset', { path: join(home, 'nowhere') });
  assert.equal(missing.ok, false);
  assert.match(JSON.stringify(missing), /does not exist/);
  const listed = await dispatcher.invoke('training.list', undefined as never);
  assert.equal(listed.ok, true);
});
