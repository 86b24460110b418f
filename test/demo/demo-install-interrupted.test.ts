// An install of the demo that is cancelled, or killed outright, leaves only whole models (no half-written
// store folder, aggregator set or recipe), keeps the home wanting the demo, and the next install finishes it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CancelledError } from '../../app/common/errors.ts';
import { installDemoPack } from '../../app/demo/demo-install.ts';
import type { DemoPack } from '../../app/demo/demo-pack.ts';
import { Library } from '../../app/library/library.ts';
import { writeTestPack } from './test-pack.ts';

const child = fileURLToPath(new URL('./install-child.ts', import.meta.url));
let root: string;
let pack: DemoPack;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'afa-demo-interrupted-'));
  pack = await writeTestPack(join(root, 'pack'));
});

after(() => rmSync(root, { recursive: true, force: true }));

/** Model folders in the store: every one must be whole (its manifest is written last, inside the temp folder). */
function storedModels(home: string): string[] {
  const dir = join(home, 'models');
  if (!existsSync(dir)) return [];
  const folders = readdirSync(dir).filter((name) => name !== 'shared');
  for (const folder of folders) assert.ok(existsSync(join(dir, folder, 'model.json')), `${folder} is whole`);
  return folders;
}

function state(home: string) {
  const library = Library.open({ home });
  try {
    return {
      pack: library.demoItems.pack().state,
      models: library.models.list().length,
      recipes: library.recipes.list().length,
      aggregators: library.aggregators.list().length,
      items: library.demoItems.list().map((item) => `${item.item}:${item.state}`),
    };
  } finally {
    library.close();
  }
}

/** Stops at the second expert's conversion: one model is whole, the second half converted. */
const secondExpertConverting = (message: string | undefined, done: number) => /\(2 of 3/.test(message ?? '') && done > 0;

test('a cancelled install keeps what it finished whole, and the next install completes it', async () => {
  const home = join(root, 'cancelled');
  const controller = new AbortController();
  let second = 0;
  await assert.rejects(
    installDemoPack(home, pack.dir, {
      signal: controller.signal,
      onProgress: (progress) => {
        if (secondExpertConverting(progress.message, progress.done) && ++second === 20) controller.abort();
      },
    }),
    CancelledError,
  );
  assert.equal(storedModels(home).length, 1);
  assert.deepEqual(readdirSync(join(home, 'tmp')), [], 'the cancelled import removed its temporary folder');
  assert.deepEqual(state(home), { pack: 'wanted', models: 1, recipes: 0, aggregators: 0, items: ['model:warm-plain:installed'] });

  const resumed = await installDemoPack(home, pack.dir);
  assert.deepEqual(resumed.models.map((model) => model.created), [false, true, true]);
  assert.equal(storedModels(home).length, 3);
  assert.deepEqual(state(home), {
    pack: 'installed',
    models: 3,
    recipes: 1,
    aggregators: 1,
    items: ['aggregators:installed', 'model:small-objects:installed', 'model:textures:installed', 'model:warm-plain:installed', 'recipe:installed'],
  });
});

test('an install killed mid-way (SIGKILL) leaves only whole items; the next install cleans up and finishes', async () => {
  const home = join(root, 'killed');
  const installer = spawn(process.execPath, ['--import', 'tsx', child, home, pack.dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ended = new Promise<NodeJS.Signals | null>((resolve) => installer.on('exit', (_code, signal) => resolve(signal)));
  let output = '';
  installer.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.includes('stopped\n')) installer.kill('SIGKILL');
  });
  assert.equal(await ended, 'SIGKILL', 'killed before it finished');
  assert.equal(storedModels(home).length, 1);
  // The killed import's temporary folder is still there: the next import removes it (its process is gone).
  assert.equal(readdirSync(join(home, 'tmp')).filter((name) => name.startsWith('import-')).length, 1);
  const before = state(home);
  assert.equal(before.pack, 'wanted');
  assert.deepEqual([before.models, before.recipes, before.aggregators], [1, 0, 0]);

  const resumed = await installDemoPack(home, pack.dir);
  assert.equal(resumed.models.length, 3);
  assert.ok(resumed.recipeId);
  assert.equal(storedModels(home).length, 3);
  assert.deepEqual(readdirSync(join(home, 'tmp')), []);
  assert.equal(state(home).pack, 'installed');
});

test('two installs at once on one home (the app and the CLI starting together) end with one demo', async () => {
  const home = join(root, 'twice');
  const [a, b] = await Promise.all([installDemoPack(home, pack.dir), installDemoPack(home, pack.dir)]);
  assert.deepEqual(a.models.map((model) => model.modelId), b.models.map((model) => model.modelId));
  assert.equal(a.recipeId, b.recipeId);
  assert.equal(a.aggregatorId, b.aggregatorId);
  assert.equal(storedModels(home).length, 3);
  assert.deepEqual(readdirSync(join(home, 'tmp')), []);
  assert.deepEqual(readdirSync(join(home, 'aggregators')), [a.aggregatorId]);
  const after = state(home);
  assert.deepEqual([after.pack, after.models, after.recipes, after.aggregators], ['installed', 3, 1, 1]);
});
