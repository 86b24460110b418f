// Where the studio finds its demo pack: the same `<root>/demo/pack` from the source (app/demo/) and from
// the built bundles (dist/main/*.cjs), the unpacked copy in a packaged app, and AFA_STUDIO_DEMO_PACK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { demoPackDirectory, shippedDemoPackDir } from '../../app/demo/demo-pack-location.ts';

const repoRoot = resolve(fileURLToPath(new URL('../../', import.meta.url)));

test('the shipped pack is <root>/demo/pack from the source and from the built main bundles', () => {
  assert.equal(shippedDemoPackDir(), join(repoRoot, 'demo', 'pack'));
  for (const bundle of ['main.cjs', 'engine-process.cjs']) {
    assert.equal(shippedDemoPackDir(pathToFileURL(join(repoRoot, 'dist', 'main', bundle)).href), join(repoRoot, 'demo', 'pack'));
  }
});

test('a packaged app reads the unpacked copy next to app.asar when there is one', (t) => {
  const resources = mkdtempSync(join(tmpdir(), 'afa-resources-'));
  t.after(() => rmSync(resources, { recursive: true, force: true }));
  const bundle = pathToFileURL(join(resources, 'app.asar', 'dist', 'main', 'engine-process.cjs')).href;
  assert.equal(shippedDemoPackDir(bundle), join(resources, 'app.asar', 'demo', 'pack'));
  mkdirSync(join(resources, 'app.asar.unpacked', 'demo', 'pack'), { recursive: true });
  assert.equal(shippedDemoPackDir(bundle), join(resources, 'app.asar.unpacked', 'demo', 'pack'));
});

test('AFA_STUDIO_DEMO_PACK names another pack or none; without it, the shipped pack only when the build has one', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'afa-location-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.equal(demoPackDirectory({ AFA_STUDIO_DEMO_PACK: 'none' }), null);
  assert.equal(demoPackDirectory({ AFA_STUDIO_DEMO_PACK: ' ' }), null);
  assert.equal(demoPackDirectory({ AFA_STUDIO_DEMO_PACK: join(root, 'mine') }), join(root, 'mine'));
  const bundle = pathToFileURL(join(root, 'dist', 'main', 'main.cjs')).href;
  assert.equal(demoPackDirectory({}, bundle), null, 'a build without the pack: no demo');
  mkdirSync(join(root, 'demo', 'pack'), { recursive: true });
  writeFileSync(join(root, 'demo', 'pack', 'manifest.json'), '{}');
  assert.equal(demoPackDirectory({}, bundle), join(root, 'demo', 'pack'));
});
