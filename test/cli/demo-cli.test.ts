// The built-in demo from the command line: the first `afa models` on a new home sets it up (progress on
// stderr) and lists the demo models marked [demo]; later commands do not set it up again; with
// AFA_STUDIO_DEMO_PACK=none (what the other CLI tests use) a new home stays empty.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoPack } from '../../app/demo/demo-pack.ts';
import { writeTestPack } from '../demo/test-pack.ts';

const BIN = fileURLToPath(new URL('../../bin/afa.js', import.meta.url));
let root: string;
let pack: DemoPack;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'afa-demo-cli-'));
  pack = await writeTestPack(join(root, 'pack'));
});

after(() => rmSync(root, { recursive: true, force: true }));

function afa(home: string, demoPack: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, AFA_STUDIO_HOME: home, AFA_STUDIO_DEMO_PACK: demoPack }, timeout: 180_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('the first `afa models` on a new home sets up the demo and lists its models as [demo]; the next one just lists', () => {
  const home = join(root, 'home');
  const first = afa(home, pack.dir, 'models');
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /Setting up the demo models in .* \(first start; once\)/);
  assert.match(first.stderr, /The demo is ready: 3 models and the recipe/);
  const listed = first.stdout.split('\n').filter((line) => line.includes('[demo]'));
  assert.deepEqual(listed.map((line) => /Demo · [\w ]+/.exec(line)?.[0].trim()).sort(), ['Demo · Small objects', 'Demo · Textured backgrounds', 'Demo · Warm plain scenes']);

  const second = afa(home, pack.dir, 'models', '--json');
  assert.equal(second.status, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /Setting up/);
  const models = (JSON.parse(second.stdout) as { models: { name: string; demo: boolean; tokenizer: string }[] }).models;
  assert.equal(models.length, 3);
  assert.ok(models.every((model) => model.demo && model.tokenizer === 'default'));

  const recipes = afa(home, pack.dir, 'ensemble', 'list');
  assert.equal(recipes.status, 0, recipes.stderr);
  assert.match(recipes.stdout, /Demo · Shapes ensemble {2}\(afa: Demo · Warm plain scenes, Demo · Textured backgrounds, Demo · Small objects\) {2}\[demo\]/);
});

test('AFA_STUDIO_DEMO_PACK=none: no demo, the new home stays empty', () => {
  const result = afa(join(root, 'plain'), 'none', 'models');
  assert.equal(result.status, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /demo/);
  assert.match(result.stdout, /No models imported in .* yet/);
});
