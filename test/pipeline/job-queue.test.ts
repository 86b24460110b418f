import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CancelledError } from '../../app/common/errors.ts';
import { JobQueue, type JobInfo } from '../../app/pipeline/job-queue.ts';

/** A job that waits until released (or cancelled), recording when it starts and ends. */
function gatedQueue() {
  const log: string[] = [];
  const gates = new Map<string, () => void>();
  let running = 0;
  let maxRunning = 0;
  const queue = new JobQueue<string, string>(async (payload, signal) => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    log.push(`start ${payload}`);
    try {
      await new Promise<void>((resolve, reject) => {
        gates.set(payload, resolve);
        signal.addEventListener('abort', () => reject(new CancelledError()));
      });
      log.push(`end ${payload}`);
      return payload.toUpperCase();
    } finally {
      running--;
    }
  });
  const release = async (payload: string) => {
    while (!gates.has(payload)) await new Promise((resolve) => setImmediate(resolve));
    gates.get(payload)!();
  };
  return { queue, log, release, maxRunning: () => maxRunning };
}

const states = (jobs: readonly JobInfo<string>[]) => jobs.map((job) => `${job.payload}:${job.state}`);

test('jobs run in order, one at a time', async () => {
  const { queue, log, release, maxRunning } = gatedQueue();
  for (const name of ['a', 'b', 'c']) queue.enqueue(name);
  await release('a');
  await release('b');
  await release('c');
  await queue.whenIdle();
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.equal(maxRunning(), 1);
  assert.deepEqual(queue.list(), []);
});

test('the queue lists the running job first, then the waiting ones; waiting jobs can be removed and moved', async () => {
  const { queue, log, release } = gatedQueue();
  const ids = Object.fromEntries(['a', 'b', 'c', 'd'].map((name) => [name, queue.enqueue(name)]));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(states(queue.list()), ['a:running', 'b:queued', 'c:queued', 'd:queued']);
  assert.equal(queue.remove(ids.c!), true);
  assert.equal(queue.move(ids.d!, 0), true);
  assert.deepEqual(states(queue.list()), ['a:running', 'd:queued', 'b:queued']);
  assert.equal(queue.move(ids.a!, 1), false, 'the running job cannot be moved');
  assert.equal(queue.remove('job_unknown'), false);
  await release('a');
  await release('d');
  await release('b');
  await queue.whenIdle();
  assert.deepEqual(log.filter((line) => line.startsWith('start')), ['start a', 'start d', 'start b']);
});

test('removing the running job cancels it; the next one starts and events say how each ended', async () => {
  const ended: string[] = [];
  const log: string[] = [];
  const queue = new JobQueue<string, string>(
    async (payload, signal) => {
      log.push(`start ${payload}`);
      if (payload === 'fail') throw new Error('broken');
      await new Promise<void>((resolve, reject) => {
        if (payload === 'quick') resolve();
        signal.addEventListener('abort', () => reject(new CancelledError()));
      });
      return payload;
    },
    {
      onDidFinish: (job, result) => ended.push(`${job.payload} ${job.state} ${result}`),
      onDidFail: (job, error) => ended.push(`${job.payload} ${job.state} ${error.message}`),
    },
  );
  const slow = queue.enqueue('slow');
  queue.enqueue('fail');
  queue.enqueue('quick');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(queue.cancelRunning(), true);
  await queue.whenIdle();
  assert.deepEqual(log, ['start slow', 'start fail', 'start quick']);
  assert.deepEqual(ended, ['slow cancelled Cancelled.', 'fail failed broken', 'quick done quick']);
  assert.equal(queue.remove(slow), false, 'a finished job is gone');
});
