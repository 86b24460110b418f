// The engine's turns between generations and a training run, in order of events: a generation that
// arrives during a training unit waits for it (hearing the run's position), the run starts no unit while
// generations are queued and resumes when the last one ends, and a pause while it waits runs nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineTurns, type TrainingTurn } from '../../app/pipeline/engine-turns.ts';
import { isCancelled } from '../../app/common/errors.ts';

const at = (step: number): TrainingTurn => ({ runId: 'run', name: 'my run', step, totalSteps: 10 });

/** A promise and its resolve function. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

test('a generation waits for the current training unit; the run waits for the generation queue to empty', async () => {
  const turns = new EngineTurns();
  const log: string[] = [];
  const step = gate();
  const unit = turns.trainingUnit(at(3), undefined, async () => {
    log.push('step 4 starts');
    await step.promise;
    log.push('step 4 ends');
  });
  await Promise.resolve();
  assert.deepEqual(turns.training, at(3));

  const ended = [turns.generationQueued(), turns.generationQueued()];
  const generation = turns.generationTurn(new AbortController().signal, (training) => log.push(`generation waits for ${training.name} at ${training.step}`)).then(() => log.push('generation runs'));
  await assert.rejects(turns.trainingUnit(at(4), undefined, async () => undefined), /one training unit at a time/);
  step.open();
  await unit;
  await generation;
  const nextUnit = turns.trainingUnit(at(4), undefined, async () => log.push('step 5 runs'), {
    onYield: (count) => log.push(`run yields to ${count}`),
    onResume: () => log.push('run resumes'),
  });
  assert.equal(turns.trainingRun?.step, 4, 'the paused run is still shown');
  ended[0]!();
  ended[0]!();
  await Promise.resolve();
  assert.ok(!log.includes('step 5 runs'), 'one generation is still queued');
  ended[1]!();
  await nextUnit;
  assert.deepEqual(log, ['step 4 starts', 'generation waits for my run at 3', 'step 4 ends', 'generation runs', 'run yields to 2', 'run resumes', 'step 5 runs']);
  assert.equal(turns.trainingRun, undefined);
  assert.equal(turns.generations, 0);
});

test('with no training unit a generation starts at once; a run paused while it waits runs nothing', async () => {
  const turns = new EngineTurns();
  let waited = false;
  await turns.generationTurn(new AbortController().signal, () => (waited = true));
  assert.equal(waited, false);

  const done = turns.generationQueued();
  const pause = new AbortController();
  let ran = false;
  const unit = turns.trainingUnit(at(0), pause.signal, async () => (ran = true));
  pause.abort();
  await assert.rejects(unit, (error) => isCancelled(error));
  assert.equal(ran, false);
  done();

  // A generation cancelled while it waits for a unit stops waiting.
  const step = gate();
  const running = turns.trainingUnit(at(1), undefined, () => step.promise);
  const cancel = new AbortController();
  const waiting = turns.generationTurn(cancel.signal, () => undefined);
  cancel.abort();
  await assert.rejects(waiting, (error) => isCancelled(error));
  step.open();
  await running;
});
