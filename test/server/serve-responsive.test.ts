// Web mode as `afa serve` starts it (the services in a forked engine process) on a random port, with the
// golden tiny experts: while a generation runs, the server keeps answering — pages at once, since the
// server process never runs onnxruntime, and cheap API calls between the engine's session runs rather
// than after the whole job. The bounds are generous (a loaded 2-core machine); what a stalled server
// would break is the ordering: every answer must arrive while the generation is still running.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { ApiEventName, GenerationRequest } from '../../app/api/contract.ts';
import { serve, type RunningServe } from '../../app/server/serve-command.ts';
import { tinyExpertFolder } from '../api/tiny-experts.ts';

/** Far above a tiny U-Net step (milliseconds) or a static file, far below the generation (seconds). */
const boundMs = 500;

/** Small enough that the tiny model's 2048² job is refused (≈5.1 GiB) and its 512² one (≈0.45 GiB) accepted. */
const memoryBudgetBytes = 1024 ** 3;
let root: string;
let running: RunningServe;
const ids: string[] = [];
let socket: WebSocket;
const events: { event: ApiEventName; payload: Record<string, unknown>; at: number }[] = [];
const watchers = new Set<() => void>();

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'afa-serve-'));
  const renderer = join(root, 'renderer');
  mkdirSync(renderer);
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>AFA Studio</title>');
  running = await serve({ host: '127.0.0.1', port: 0, home: join(root, 'home'), rendererDirectory: renderer, memoryBudgetBytes }, () => undefined);
  socket = await new Promise<WebSocket>((resolve, reject) => {
    const client = new WebSocket(`${running.server.origin.replace('http', 'ws')}/events`, { headers: { 'x-afa-token': running.server.token } });
    client.once('open', () => resolve(client));
    client.once('error', reject);
  });
  socket.on('message', (data) => {
    const { event, payload } = JSON.parse(String(data)) as { event: ApiEventName; payload: Record<string, unknown> };
    events.push({ event, payload, at: performance.now() });
    for (const watcher of [...watchers]) watcher();
  });
});

after(async () => {
  socket?.close();
  await running?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** The first event (from index `from` on) that matches, waiting for it. */
function nextEvent(match: (entry: (typeof events)[number]) => boolean, from = 0): Promise<(typeof events)[number]> {
  return new Promise((resolve) => {
    const check = () => {
      const found = events.slice(from).find(match);
      if (!found) return;
      watchers.delete(check);
      resolve(found);
    };
    watchers.add(check);
    check();
  });
}

async function call(method: string, request?: unknown): Promise<{ status: number; body: { ok: boolean; value?: unknown; error?: { code: string; message: string; hint?: string } } }> {
  const response = await fetch(`${running.server.origin}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-afa-token': running.server.token },
    body: request === undefined ? '' : JSON.stringify(request),
  });
  return { status: response.status, body: (await response.json()) as { ok: boolean; value?: unknown } };
}

/** How long `action` took, and whether the generation had finished before it was answered. */
async function timed<T>(action: () => Promise<T>): Promise<{ value: T; ms: number; finishedBefore: boolean }> {
  const sent = performance.now();
  const value = await action();
  const answered = performance.now();
  const finish = events.find((entry) => entry.event === 'generation.onDidFinish' || entry.event === 'generation.onDidFail');
  return { value, ms: answered - sent, finishedBefore: finish !== undefined && finish.at < answered };
}

async function page(): Promise<number> {
  return (await fetch(`${running.server.origin}/`, { headers: { 'x-afa-token': running.server.token } })).status;
}

test('web mode answers pages and cheap API calls while a generation runs in the engine process', async () => {
  for (const n of [1, 2] as const) {
    const from = events.length;
    const started = await call('models.import', { source: { kind: 'path', path: tinyExpertFolder(root, n) }, name: `tiny${n}` });
    assert.equal(started.status, 200, started.body.error?.message);
    const imported = await nextEvent((entry) => entry.event === 'models.onDidImportFinish' || entry.event === 'models.onDidImportFail', from);
    assert.equal(imported.event, 'models.onDidImportFinish', JSON.stringify(imported.payload));
    ids.push((imported.payload.model as { id: string }).id);
  }
  // Feature averaging builds a lock-step graph of both U-Nets: creating its session blocks the engine
  // for a few hundred milliseconds (measured 0.6 s here when the services ran in the server process).
  const request: GenerationRequest = {
    prompt: 'a red lighthouse',
    negativePrompt: '',
    recipe: { spec: { method: 'feature-average', members: ids.map((modelId) => ({ modelId })) } },
    sampler: 'ddim',
    steps: 100,
    guidance: 7.5,
    seed: 7,
    width: 64,
    height: 64,
    batchCount: 1,
  };
  const enqueuedAt = events.length;
  const enqueued = await call('generation.enqueue', request);
  assert.equal(enqueued.status, 200, enqueued.body.error?.message);
  const finished = nextEvent((entry) => entry.event === 'generation.onDidFinish' || entry.event === 'generation.onDidFail', enqueuedAt);

  // Pages all along (sessions being created and the final decode included): the server process alone answers them.
  const pages: { ms: number }[] = [];
  let done = false;
  void finished.then(() => (done = true));
  const pageLoop = (async () => {
    while (!done) {
      const answer = await timed(page);
      assert.equal(answer.value, 200);
      pages.push(answer);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  // During the denoising loop: cheap API calls, each sent right after a progress event.
  const calls: { ms: number; finishedBefore: boolean; step: number }[] = [];
  for (const step of [10, 40, 70]) {
    const progress = await nextEvent((entry) => entry.event === 'generation.onDidProgress' && Number(entry.payload.step) >= step, enqueuedAt);
    for (const method of ['settings.get', 'system.info']) {
      const answer = await timed(() => call(method));
      assert.equal(answer.value.status, 200);
      calls.push({ ms: answer.ms, finishedBefore: answer.finishedBefore, step: Number(progress.payload.step) });
    }
  }
  const outcome = await finished;
  await pageLoop;
  assert.equal(outcome.event, 'generation.onDidFinish', JSON.stringify(outcome.payload));

  const slowest = Math.max(...pages.map((entry) => entry.ms));
  const report = `${pages.length} pages, slowest ${slowest.toFixed(0)} ms; API calls (step: ms): ${calls.map((entry) => `${entry.step}: ${entry.ms.toFixed(0)}`).join(', ')}`;
  console.log(report);
  assert.ok(pages.length >= 10, report);
  assert.ok(calls.every((entry) => !entry.finishedBefore), `an API call waited for the end of the generation: ${report}`);
  assert.ok([...pages, ...calls].every((entry) => entry.ms < boundMs), `an answer took ${boundMs} ms or more: ${report}`);
});

function tinyRequest(change: Partial<GenerationRequest>): GenerationRequest {
  return {
    prompt: 'a red lighthouse',
    negativePrompt: '',
    recipe: { spec: { method: 'single', members: [{ modelId: ids[0]! }] } },
    sampler: 'ddim',
    steps: 20,
    guidance: 7.5,
    seed: 7,
    width: 64,
    height: 64,
    batchCount: 1,
    ...change,
  };
}

test('a maximal job (2048², 500 steps, batch 64) is refused before it is accepted, with the estimate and the size that fits', async () => {
  assert.ok(ids.length > 0, 'the models of the first test');
  const refused = await timed(() => call('generation.enqueue', tinyRequest({ width: 2048, height: 2048, steps: 500, batchCount: 64 })));
  assert.equal(refused.value.status, 400);
  const error = refused.value.body.error!;
  assert.equal(error.code, 'invalid-argument');
  assert.match(error.message, /^A 2048×2048 image needs about 5\.\d GiB of memory \(model weights [\d.]+ MiB, decoding the image [\d.]+ GiB\); the studio may use 1 GiB on this machine\.$/);
  const suggested = /^Lower the width and height to (\d+)×(\d+) or less\. Steps and batch count do not change the memory needed\.$/.exec(error.hint!);
  assert.ok(suggested, error.hint);
  console.log(`refused in ${refused.ms.toFixed(0)} ms: ${error.message} ${error.hint}`);
  assert.deepEqual((await call('generation.queue')).body.value, []);
  // What the hint offers is accepted (and cancelled at once), 64 px more is not.
  const [width, height] = [Number(suggested[1]), Number(suggested[2])];
  const accepted = await call('generation.enqueue', tinyRequest({ width, height, steps: 500, batchCount: 64 }));
  assert.equal(accepted.status, 200, accepted.body.error?.message);
  assert.equal((await call('generation.cancel', accepted.body.value)).status, 200);
  assert.equal((await call('generation.enqueue', tinyRequest({ width: width + 64, height: height + 64 }))).status, 400);
  const listed = await timed(() => call('models.list'));
  assert.equal(listed.value.status, 200);
  assert.ok(listed.ms < 1000, `models.list took ${listed.ms} ms`);
});

test('while a 512² step runs the engine answers API calls within 1 s, and a cancel ends the job within one step', async () => {
  // The golden tiny U-Net at 512² with guidance: one step takes 1–2 s on two cores (a real session run on
  // the inference thread) while the engine's event loop stays free for the API. Before the inference
  // thread, a call sent right after step 1 was answered only once step 2 had ended.
  const from = events.length;
  const enqueued = await call('generation.enqueue', tinyRequest({ width: 512, height: 512, steps: 8 }));
  assert.equal(enqueued.status, 200, enqueued.body.error?.message);
  const { jobId } = enqueued.body.value as { jobId: string };
  const progress = (step: number) => nextEvent((entry) => entry.event === 'generation.onDidProgress' && entry.payload.jobId === jobId && entry.payload.phase === 'denoise' && Number(entry.payload.step) >= step, from);
  const ended = nextEvent((entry) => (entry.event === 'generation.onDidFinish' || entry.event === 'generation.onDidFail') && entry.payload.jobId === jobId, from);

  // Step 1 is done: step 2 is running now. Calls made during it must be answered before it ends.
  const first = await progress(1);
  const during: { method: string; ms: number; at: number }[] = [];
  for (const method of ['models.list', 'generation.queue', 'system.info']) {
    const answer = await timed(() => call(method));
    assert.equal(answer.value.status, 200);
    during.push({ method, ms: answer.ms, at: performance.now() });
  }
  const second = await progress(2);
  const stepMs = second.at - first.at;

  // A cancel sent while step 3 runs: answered at once, and no step after the running one starts.
  const cancelled = await timed(() => call('generation.cancel', { jobId }));
  assert.equal(cancelled.value.status, 200);
  const cancelSentAfterStep = Math.max(...events.slice(from).filter((entry) => entry.event === 'generation.onDidProgress' && entry.payload.jobId === jobId && entry.payload.phase === 'denoise').map((entry) => Number(entry.payload.step)));
  const sent = performance.now();
  const outcome = await ended;
  const lastStep = Math.max(...events.slice(from).filter((entry) => entry.event === 'generation.onDidProgress' && entry.payload.jobId === jobId && entry.payload.phase === 'denoise').map((entry) => Number(entry.payload.step)));

  const report = `step ${stepMs.toFixed(0)} ms; during it: ${during.map((entry) => `${entry.method} ${entry.ms.toFixed(0)} ms`).join(', ')}; cancel answered in ${cancelled.ms.toFixed(0)} ms after step ${cancelSentAfterStep}, job ended ${(outcome.at - sent).toFixed(0)} ms later after step ${lastStep}`;
  console.log(report);
  assert.equal(outcome.event, 'generation.onDidFail', report);
  assert.equal(outcome.payload.cancelled, true, report);
  assert.ok(during.every((entry) => entry.ms < 1000 && entry.at < second.at), `an API call waited for the step: ${report}`);
  assert.ok(cancelled.ms < 1000, report);
  assert.ok(lastStep <= cancelSentAfterStep + 1, `steps ran after the cancel: ${report}`);
  assert.ok(outcome.at - sent < stepMs * 2 + 1000, `the cancel took longer than one step: ${report}`);
  assert.deepEqual((await call('generation.queue')).body.value, []);
});
