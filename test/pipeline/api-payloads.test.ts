// The engine's events are what app/api's GenerationApi forwards: the payloads must be the contract's
// types (checked by tsc through the typed emitters below) and plain data that survives a transport
// (checked at run time through a JSON round trip, as web mode's WebSocket carries them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GenerationProgress, JobStarted } from '../../app/api/contract.ts';
import { Emitter } from '../../app/common/emitter.ts';
import { GenerationEngine } from '../../app/pipeline/generation-engine.ts';
import { tinyStudio } from './tiny-model.ts';

test('start and progress events forward to the API contract unchanged and survive JSON', async (t) => {
  const { library, model } = await tinyStudio(t);
  const engine = new GenerationEngine({ library, previewEvery: 1 });
  t.after(() => engine.dispose());
  const started = new Emitter<JobStarted>();
  const progress = new Emitter<GenerationProgress>();
  engine.onDidStart((payload) => started.fire(payload));
  engine.onDidProgress((payload) => progress.fire(payload));
  const received: unknown[] = [];
  started.event((payload) => received.push(payload));
  progress.event((payload) => received.push(payload));
  const job = engine.enqueue({ settings: { prompt: 'x', width: 64, height: 64, steps: 2, seed: 1 }, target: { kind: 'model', modelId: model.id } });
  assert.equal((await job.settled).status, 'done');
  assert.equal(received.length, 1 + 4 + 4, 'start, load (0/3 … 3/3 models), encode, 2 steps, decode');
  assert.deepEqual(JSON.parse(JSON.stringify(received)), received);
  assert.deepEqual(received[0], { jobId: job.jobId });
});
