// `npm run demo:train -- --quick`: every stage of the demo recipe — VAE, contrastive text encoder, base U-Net,
// the three experts, and the aggregators through the studio's own training job — trains for a few steps
// end to end and the losses fall. This is the CI check that the recipe that made the shipped pack still
// trains; the full rebuild is `npm run demo:train`. Run again, the build finds every stage finished and
// trains nothing; a stage or experts' pack left by another recipe is refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAIR_KINDS } from '../../app/demo/contrastive-pairs.ts';
import { readDemoPack } from '../../app/demo/demo-pack.ts';

const root = new URL('../..', import.meta.url).pathname;

test('the quick demo recipe trains every stage, the losses fall, and it writes a complete pack', { timeout: 15 * 60_000 }, async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'afa-demo-quick-test-'));
  try {
    const out = join(scratch, 'pack');
    const run = (timeout: number) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo-train.ts', '--quick', '--work', join(scratch, 'work'), '--out', out], {
        cwd: root,
        encoding: 'utf8',
        timeout,
        env: { ...process.env, AFA_STUDIO_DEMO_PACK: 'none' },
      });
    const rerun = () => run(2 * 60_000);
    const result = run(11 * 60_000);
    assert.equal(result.status, 0, `demo:train --quick failed:\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^vae: loss [\d.]+ → [\d.]+$/m);
    assert.match(result.stdout, /^text: loss [\d.]+ → [\d.]+$/m);
    assert.match(result.stdout, /^base: loss [\d.]+ → [\d.]+$/m);
    assert.match(result.stdout, /aggregators +step +\d+\/\d+/);
    // The text stage's check: every pair kind, 8 pairs each (the quick batch of 16 holds 8).
    assert.match(result.stdout, /^text: captions told apart from their one-attribute pair: stripes \d+ %, pattern \d+ %, shape \d+ %, colour \d+ %, size \d+ %, position \d+ % \(8 pairs each, chance 50 %\)$/m);
    const pack = await readDemoPack(out, { verify: true });
    assert.equal(pack.manifest.experts.length, 3);
    assert.ok(pack.manifest.aggregators, 'the pack has no aggregators');
    assert.ok(existsSync(join(out, 'aggregators', 'aggregators.safetensors')));
    const training = pack.manifest.training as { command: string; stages: { stage: string; extra?: { pairAccuracy?: Record<string, number> } }[] };
    assert.match(training.command, /demo:train -- --quick/);
    assert.deepEqual(training.stages.map((stage) => stage.stage), ['vae', 'text', 'base', 'expert-plain-warm', 'expert-textures', 'expert-small-objects']);
    const pairAccuracy = training.stages[1]!.extra?.pairAccuracy ?? {};
    assert.deepEqual(Object.keys(pairAccuracy), [...PAIR_KINDS]);
    for (const accuracy of Object.values(pairAccuracy)) assert.ok(accuracy >= 0 && accuracy <= 1 && Number.isInteger(accuracy * 16), String(accuracy));

    // Run again over the same work folder: every stage is found finished for this recipe and nothing trains.
    const again = rerun();
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stdout, / step +\d+\//, 'a finished build trained again');
    // A stage recorded for another recipe, or experts' pack written over other stages, is refused by name.
    const edit = (path: string, change: (record: { identity: { recipe: Record<string, unknown> }; losses: number[] }) => void) => {
      const record = JSON.parse(readFileSync(path, 'utf8'));
      change(record);
      writeFileSync(path, JSON.stringify(record));
    };
    const expertRecord = join(scratch, 'work', 'expert-textures', 'stage.json');
    edit(expertRecord, (record) => (record.losses[0]! += 1));
    const otherExperts = rerun();
    assert.equal(otherExperts.status, 1);
    assert.match(otherExperts.stderr, /The experts' pack in .*pack-experts was written by another build: the trained stages differ.*Delete .*pack-experts, .*home, .*aggregator-dataset/);
    edit(join(scratch, 'work', 'base', 'stage.json'), (record) => (record.identity.recipe.noiseOffset = 0.7));
    const otherBase = rerun();
    assert.equal(otherBase.status, 1);
    assert.match(otherBase.stderr, /Stage 'base' in .*base \(finished\) was trained with other settings than the recipe's: recipe\.noiseOffset: 0\.7 then, [\d.]+ now\. Delete /);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
