// A training stage of the demo family resumes exactly: stopped after a checkpoint and run again, it ends
// with the same weights, bit for bit, as a run that was never interrupted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledError, UserError } from '../../app/common/errors.ts';
import { runStage, stageWeights, STAGE_RECORD, STAGE_WEIGHTS, type StageSettings } from '../../app/demo/train-stage.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { plausibleWeight, SyntheticWeights } from '../../app/models/synthetic-weights.ts';
import { TRAINING_INPUTS } from '../../app/training/training-graph.ts';
import { TrainingRandom } from '../../app/training/training-random.ts';
import { buildUnetTrainingGraph } from '../../app/training/unet-training-graph.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';

const config = parseUnetConfig({
  block_out_channels: [8, 16],
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  attention_head_dim: 2,
  cross_attention_dim: 8,
  norm_num_groups: 4,
  layers_per_block: 1,
});
const settings: StageSettings = {
  steps: 6,
  optimizer: { lr: 1e-3, weightDecay: 0.01 },
  schedule: { kind: 'cosine', baseLr: 1e-3, warmupSteps: 2 },
  maxGradientNorm: 1,
  checkpointEvery: 2,
  logEvery: 1,
};
const random = new TrainingRandom(5);
const tensor = (shape: number[], purpose: number, step: number): Tensor<'float32'> => ({ dtype: 'float32', shape, data: random.normal(purpose, step, shape.reduce((a, b) => a * b, 1)) });
const feedsAt = (step: number) => ({
  [TRAINING_INPUTS.sample]: tensor([2, 4, 4, 4], 0, step),
  [TRAINING_INPUTS.context]: tensor([2, 3, 8], 1, step),
  [TRAINING_INPUTS.timestep]: { dtype: 'float32' as const, shape: [2], data: Float32Array.of(10 + step, 900 - step) },
  [TRAINING_INPUTS.target]: tensor([2, 4, 4, 4], 2, step),
});
const identity = { weights: 'plausible, seed 3', batch: 2 };
const build = () => buildUnetTrainingGraph(new SyntheticWeights((name, shape) => plausibleWeight(name, shape, 3)), config, { batch: 2, height: 4, width: 4, tokens: 3 });

test('a stage stopped after a checkpoint and run again ends bit-identical to an uninterrupted one', async () => {
  const root = mkdtempSync(join(tmpdir(), 'afa-stage-'));
  try {
    const whole = await runStage({ stage: 'whole', dir: join(root, 'whole'), build, settings, identity, feedsAt });
    const controller = new AbortController();
    await assert.rejects(
      runStage({ stage: 'resumed', dir: join(root, 'resumed'), build, settings, identity, feedsAt, signal: controller.signal, onStep: (progress) => progress.step === 3 && controller.abort() }),
      CancelledError,
    );
    assert.ok(existsSync(join(root, 'resumed', 'checkpoint', 'state.json')), 'no checkpoint was left to resume from');
    assert.ok(!existsSync(join(root, 'resumed', STAGE_WEIGHTS)), 'a stopped stage must not look finished');
    const resumed = await runStage({ stage: 'resumed', dir: join(root, 'resumed'), build, settings, identity, feedsAt });
    assert.deepEqual(resumed.losses, whole.losses);
    assert.deepEqual(readFileSync(join(root, 'resumed', STAGE_WEIGHTS)), readFileSync(join(root, 'whole', STAGE_WEIGHTS)));
    assert.ok(!existsSync(join(root, 'resumed', 'checkpoint')), 'the checkpoint of a finished stage is removed');
    // A finished stage is not trained again.
    const again = await runStage({ stage: 'resumed', dir: join(root, 'resumed'), build: () => assert.fail('rebuilt a finished stage'), settings, identity, feedsAt });
    assert.deepEqual(again.losses, whole.losses);
    assert.equal(stageWeights(join(root, 'whole')).size, build().parameters.length);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('frozen parameters get no update for their first steps, then train; a stage stopped while they are frozen resumes bit-identical', async () => {
  const root = mkdtempSync(join(tmpdir(), 'afa-stage-freeze-'));
  const prefixes = ['conv_in.', 'down_blocks.0.'];
  const frozen = (name: string) => prefixes.some((prefix) => name.startsWith(prefix));
  const freezing: StageSettings = { ...settings, freeze: { prefixes, steps: 3 } };
  try {
    // Three steps, all frozen: the named parameters keep their initial values, the rest move.
    await runStage({ stage: 'early', dir: join(root, 'early'), build, settings: { ...freezing, steps: 3 }, identity, feedsAt });
    const early = stageWeights(join(root, 'early'));
    let frozenCount = 0;
    for (const [name, tensor] of early) {
      const initial = plausibleWeight(name, tensor.shape, 3).data;
      const same = tensor.data.every((value, i) => value === initial[i]);
      if (frozen(name)) frozenCount++;
      assert.equal(same, frozen(name), `${name} ${frozen(name) ? 'moved while frozen' : 'did not train'}`);
    }
    assert.ok(frozenCount >= 4, `${frozenCount} frozen tensors`);
    // Six steps: they train from step 3 on.
    const whole = await runStage({ stage: 'whole', dir: join(root, 'whole'), build, settings: freezing, identity, feedsAt });
    for (const [name, tensor] of stageWeights(join(root, 'whole'))) {
      if (frozen(name)) assert.ok(tensor.data.some((value, i) => value !== plausibleWeight(name, tensor.shape, 3).data[i]), `${name} never trained`);
    }
    // Stopped after the checkpoint of step 2, inside the frozen steps, and run again: the same weights.
    const controller = new AbortController();
    await assert.rejects(runStage({ stage: 'resumed', dir: join(root, 'resumed'), build, settings: freezing, identity, feedsAt, signal: controller.signal, onStep: (progress) => progress.step === 2 && controller.abort() }), CancelledError);
    assert.ok(existsSync(join(root, 'resumed', 'checkpoint', 'state.json')));
    const resumed = await runStage({ stage: 'resumed', dir: join(root, 'resumed'), build, settings: freezing, identity, feedsAt });
    assert.deepEqual(resumed.losses, whole.losses);
    assert.deepEqual(readFileSync(join(root, 'resumed', STAGE_WEIGHTS)), readFileSync(join(root, 'whole', STAGE_WEIGHTS)));
    assert.deepEqual(resumed.settings.freeze, { prefixes, steps: 3 }, 'the stage record says what was frozen');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a finished stage or a checkpoint trained for other settings or another identity is refused by name, not reused', async () => {
  const root = mkdtempSync(join(tmpdir(), 'afa-stage-other-'));
  const refused = (pattern: RegExp) => (error: unknown) => error instanceof UserError && error.code === 'conflict' && pattern.test(error.message);
  try {
    const dir = join(root, 'stage');
    const controller = new AbortController();
    await assert.rejects(runStage({ stage: 'base', dir, build, settings, identity, feedsAt, signal: controller.signal, onStep: (progress) => progress.step === 3 && controller.abort() }), CancelledError);
    // The checkpoint (step 2) was written for these settings: another learning rate or other upstream weights are refused.
    const lr = { ...settings, optimizer: { ...settings.optimizer, lr: 2e-3 } };
    await assert.rejects(runStage({ stage: 'base', dir, build, settings: lr, identity, feedsAt }), refused(/Stage 'base' in .* \(stopped at step 2\) was trained with other settings.*optimizer\.lr: 0\.001 then, 0\.002 now/));
    await assert.rejects(runStage({ stage: 'base', dir, build, settings, identity: { ...identity, vae: 'f00d' }, feedsAt }), refused(/vae: \(none\) then, "f00d" now/));
    assert.ok(existsSync(join(dir, 'checkpoint', 'state.json')), 'a refused resume must leave the checkpoint as it was');
    // The same settings resume it; the finished stage is then refused for another identity, reused for its own.
    const finished = await runStage({ stage: 'base', dir, build, settings, identity, feedsAt });
    assert.deepEqual(finished.identity, identity);
    await assert.rejects(runStage({ stage: 'base', dir, build, settings: { ...settings, steps: 8 }, identity, feedsAt }), refused(/Stage 'base' in .* \(finished\).*steps: 6 then, 8 now.*Delete /));
    await assert.rejects(runStage({ stage: 'base', dir, build, settings, identity: { ...identity, batch: 4 }, feedsAt }), refused(/batch: 2 then, 4 now/));
    const again = await runStage({ stage: 'base', dir, build: () => assert.fail('rebuilt a finished stage'), settings, identity, feedsAt });
    assert.deepEqual(again.losses, finished.losses);
    // A record written before stages noted their identity cannot be vouched for.
    const record = JSON.parse(readFileSync(join(dir, STAGE_RECORD), 'utf8')) as Record<string, unknown>;
    delete record.identity;
    writeFileSync(join(dir, STAGE_RECORD), JSON.stringify(record));
    await assert.rejects(runStage({ stage: 'base', dir, build, settings, identity, feedsAt }), refused(/earlier version/));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
