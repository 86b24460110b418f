// `afa aggregators`, `afa ensemble`, `afa generate --recipe/--models … --maps` and `afa merge`, as a
// person runs them: the real bin in child processes, on the golden tiny experts in a temporary home.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint } from '../../app/checkpoints/open-checkpoint.ts';
import { readImageSettings } from '../../app/images/metadata.ts';
import { goldenAfaDir, goldenExpertFolders, scratchDir } from '../ensemble/golden-experts.ts';
import { repoRoot } from '../pipeline/tiny-model.ts';
import { tinyConfigs } from '../checkpoints/fixtures.ts';

const BIN = join(repoRoot, 'bin', 'afa.js');

function afa(home: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, AFA_STUDIO_HOME: home, AFA_STUDIO_DEMO_PACK: 'none' }, timeout: 180_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(run: ReturnType<typeof afa>): Record<string, unknown> {
  assert.equal(run.status, 0, `exit ${run.status}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

test('ensembles from the command line: aggregators, recipes, generation with maps, merge export', async (t) => {
  const home = scratchDir('afa-cli-ensemble-');
  t.after(() => rmSync(home, { recursive: true, force: true }));
  for (const folder of goldenExpertFolders(home)) ok(afa(home, 'import', folder, '--json', '--progress', 'none'));

  const imported = ok(afa(home, 'aggregators', 'import', goldenAfaDir, '--models', 'expert1,expert2,expert3', '--json'));
  const aggregatorId = imported.id as string;
  assert.match(aggregatorId, /^agg-[0-9a-f]{16}$/);
  assert.equal((ok(afa(home, 'aggregators', '--json')).aggregators as unknown[]).length, 1);

  ok(afa(home, 'ensemble', 'create', 'Trio', '--models', 'expert1,expert2,expert3', '--method', 'afa', '--aggregator', aggregatorId, '--json'));
  const shown = ok(afa(home, 'ensemble', 'show', 'trio', '--json')).recipe as { method: string; members: { name: string }[]; aggregatorId: string };
  assert.equal(shown.method, 'afa');
  assert.deepEqual(shown.members.map((m) => m.name), ['expert1', 'expert2', 'expert3']);
  assert.equal(shown.aggregatorId, aggregatorId);
  assert.match(afa(home, 'ensemble', 'list').stdout, /Trio {2}\(afa: expert1, expert2, expert3\)/);
  assert.equal(afa(home, 'ensemble', 'create', 'Trio', '--models', 'expert1,expert2').status, 2);

  const maps = join(home, 'maps');
  const generated = ok(afa(home, 'generate', '--recipe', 'Trio', '-p', 'a lighthouse', '--size', '64x64', '--steps', '3', '--seed', '5', '--maps', maps, '--json', '--progress', 'none'));
  const [image] = generated.images as { path: string }[];
  const recorded = readImageSettings(image!.path)!.settings!;
  assert.equal(recorded.recipe.method, 'afa');
  assert.equal(recorded.recipe.name, 'Trio');
  assert.equal(readdirSync(maps).filter((f) => f.endsWith('.png')).length, 3);
  assert.equal(readdirSync(maps).filter((f) => f.endsWith('-contributions.json')).length, 1);

  const inline = ok(afa(home, 'generate', '--models', 'expert1,expert2', '--method', 'magicfusion', '-p', 'a fox', '--size', '64x64', '--steps', '3', '--json', '--progress', 'none'));
  assert.equal((inline.target as { recipe: { method: string } }).recipe.method, 'magicfusion');

  // Sizes that are multiples of 8 but not of 64 (a 9×13 latent) work in every method, as in diffusers.
  for (const [method, models] of [['feature-average', 'expert1,expert2,expert3'], ['output-average', 'expert1,expert2'], ['merge', 'expert1,expert2'], ['mbw', 'expert1,expert2'], ['magicfusion', 'expert1,expert2']] as const) {
    const odd = ok(afa(home, 'generate', '--models', models, '--method', method, '-p', 'x', '--size', '72x104', '--steps', '2', '--json', '--progress', 'none'));
    assert.deepEqual((odd.images as { width: number; height: number }[]).map((i) => [i.width, i.height]), [[72, 104]], method);
  }
  ok(afa(home, 'generate', '--recipe', 'Trio', '-p', 'x', '--size', '72x104', '--steps', '2', '--json', '--progress', 'none'));

  const out = join(home, 'merged.safetensors');
  ok(afa(home, 'merge', '--models', 'expert1,expert2', '--method', 'mbw', '--mbw-base', '0.3', '--out', out, '--json', '--progress', 'none'));
  const merged = openCheckpoint(out, { configOverrides: tinyConfigs() });
  try {
    assert.ok(merged.components.unet.weights.has('conv_in.weight'));
  } finally {
    merged.close();
  }
  const existing = afa(home, 'merge', '--models', 'expert1,expert2', '--out', out);
  assert.equal(existing.status, 2, 'an existing file is not overwritten without --overwrite');
  assert.match(existing.stderr, /merged\.safetensors already exists\. Add --overwrite to replace it/);
  // Without --method, afa merge makes a weighted merge (not afa, which is no merge).
  ok(afa(home, 'merge', '--models', 'expert1,expert2', '--weights', '0.6,0.4', '--out', out, '--overwrite', '--json', '--progress', 'none'));
  assert.match(afa(home, 'merge', '--help').stdout, /--method merge\|mbw +merge .*the default/);

  const one = afa(home, 'generate', '--models', 'expert1', '--method', 'afa', '-p', 'x', '--size', '64x64');
  assert.equal(one.status, 2);
  assert.match(one.stderr, /The afa method takes 2 to 6 models; the recipe has 1\./);
  const stray = afa(home, 'generate', '-m', 'expert1', '--weights', '1,2', '-p', 'x');
  assert.equal(stray.status, 2);
  assert.ok(existsSync(out));
});
