// Progress events of fast jobs are thinned to one per PROGRESS_INTERVAL_MS per job, and every event that
// says something new still goes out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROGRESS_INTERVAL_MS, ProgressThinning } from '../../app/api/generation-service.ts';
import type { GenerationProgressEvent } from '../../app/pipeline/generation-engine.ts';

const event = (change: Partial<GenerationProgressEvent>): GenerationProgressEvent => ({
  jobId: 'job-1',
  phase: 'denoise',
  step: 1,
  total: 500,
  elapsedMs: 0,
  etaMs: null,
  imageIndex: 0,
  imageCount: 2,
  seed: 1,
  ...change,
});

test('steps faster than the interval are thinned; phases, image starts, last steps and previews always go', () => {
  let now = 0;
  const thinning = new ProgressThinning(() => now);
  const kept: string[] = [];
  const send = (change: Partial<GenerationProgressEvent>) => {
    const e = event(change);
    if (thinning.keep(e)) kept.push(`${e.jobId} ${e.phase} ${e.imageIndex}:${e.step}${e.preview ? ' preview' : ''}`);
  };
  send({ phase: 'load', step: 0 });
  send({ phase: 'encode', step: 0 });
  // 500 steps of 1 ms each: the first, one per interval, and the last.
  for (let step = 1; step <= 500; step++) {
    now += 1;
    send({ step, ...(step === 250 ? { preview: 'data:image/png;base64,' } : {}) });
  }
  send({ phase: 'decode', step: 500 });
  send({ phase: 'encode', step: 0, imageIndex: 1 });
  now += 1;
  send({ step: 1, imageIndex: 1 });
  // Another job is thinned on its own clock.
  send({ jobId: 'job-2', step: 1 });
  const denoise = kept.filter((line) => line.startsWith('job-1 denoise 0:'));
  assert.equal(denoise[0], 'job-1 denoise 0:1');
  assert.equal(denoise.at(-1), 'job-1 denoise 0:500');
  assert.ok(denoise.includes('job-1 denoise 0:250 preview'));
  assert.ok(denoise.length >= 500 / PROGRESS_INTERVAL_MS && denoise.length <= 500 / PROGRESS_INTERVAL_MS + 4, `${denoise.length} of 500 steps kept`);
  for (const line of ['job-1 load 0:0', 'job-1 encode 0:0', 'job-1 decode 0:500', 'job-1 encode 1:0', 'job-1 denoise 1:1', 'job-2 denoise 0:1']) assert.ok(kept.includes(line), line);
});

test('steps slower than the interval all go', () => {
  let now = 0;
  const thinning = new ProgressThinning(() => now);
  let kept = 0;
  for (let step = 1; step <= 30; step++) {
    now += PROGRESS_INTERVAL_MS;
    if (thinning.keep(event({ step, total: 30 }))) kept++;
  }
  assert.equal(kept, 30);
});
