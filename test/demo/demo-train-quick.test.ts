// `npm run demo:train -- --quick`: every stage of the demo recipe — VAE, contrastive text encoder, base U-Net,
// the three experts, and the aggregators through the studio's own training job — trains for a few steps
// end to end and the losses fall. This is the CI check that the recipe that made the shipped pack still
// trains; the full rebuild is `npm run demo:train`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAIR_KINDS } from '../../app/demo/contrastive-pairs.ts';
import { readDemoPack } from '../../app/demo/demo-pack.ts';

const root = new URL('../..', import.meta.url).pathname;

test('the quick demo recipe trains every stage, the losses fall, and it writes a complete pack', { timeout: 15 * 60_000 }, async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'afa-demo-quick-test-'));
  try {
    const out = join(scratch, 'pack');
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo-train.ts', '--quick', '--work', join(scratch, 'work'), '--out', out], {
      cwd: root,
      encoding: 'utf8',
      timeout: 14 * 60_000,
      env: { ...process.env, AFA_STUDIO_DEMO_PACK: 'none' },
    });
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
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
