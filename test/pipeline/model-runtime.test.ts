// ModelRuntime: sessions loaded ahead of a job (`load`, the engine's 'load' phase), and a GPU provider
// that fails moves the runtime to the CPU with one message, and the job finishes with the
// image the CPU alone makes. The failure here is real: onnxruntime-node lists WebGPU, but in a process
// started without a GPU adapter (no GPU, no software Vulkan driver on the library path) every WebGPU
// session fails to start, exactly as a provider whose device disappears does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { storedModelFiles } from '../../app/checkpoints/model-store.ts';
import { CancelledError } from '../../app/common/errors.ts';
import { decodePng } from '../../app/images/png.ts';
import { GenerationEngine, type JobOutcome } from '../../app/pipeline/generation-engine.ts';
import { createModelRuntime } from '../../app/pipeline/model-runtime.ts';
import { probeBackends } from '../../app/runtime/backend-probe.ts';
import { recentRuntimeLog } from '../../app/runtime/runtime-log.ts';
import { estimateSessionBytes } from '../../app/runtime/session-cache.ts';
import { tinyStudio } from './tiny-model.ts';

const webgpuWorks = (await probeBackends()).find((info) => info.backend === 'webgpu')?.available ?? false;

function image(outcome: JobOutcome, read: (path: string) => Uint8Array): Uint8Array {
  if (outcome.status !== 'done') assert.fail(`the job ended ${outcome.status}${outcome.status === 'failed' ? `: ${outcome.error.message}` : ''}`);
  return decodePng(read(outcome.generations[0]!.imagePath!)).data;
}

test('a failing GPU provider falls back to the CPU once, with a message, and the image is the CPU’s', { skip: webgpuWorks && 'this process has a WebGPU adapter, so WebGPU does not fail here' }, async (t) => {
  const { library, model } = await tinyStudio(t);
  const messages: string[] = [];
  const failing = createModelRuntime({ sessionOptions: { backend: 'webgpu' }, onFallback: (message) => messages.push(message) });
  const request = { settings: { prompt: 'a red house', width: 64, height: 64, steps: 2, seed: 5 }, target: { kind: 'model' as const, modelId: model.id } };
  const gpu = new GenerationEngine({ library, runtime: failing });
  t.after(() => gpu.dispose());
  const cpu = new GenerationEngine({ library });
  t.after(() => cpu.dispose());
  const read = (path: string) => readFileSync(library.absolutePath(path));
  const fellBack = image(await gpu.enqueue(request).settled, read);
  assert.equal(failing.backend, 'cpu');
  assert.equal(messages.length, 1, messages.join('\n'));
  assert.match(messages[0]!, /^The webgpu provider failed \(.+\); continuing on the CPU/);
  assert.ok(recentRuntimeLog().some((line) => line.endsWith(messages[0]!)));
  assert.ok(failing.sessions.keys().every((key) => key.startsWith('cpu:')), failing.sessions.keys().join(', '));
  assert.deepEqual(fellBack, image(await cpu.enqueue(request).settled, read), 'the same pixels as on the CPU');
});

test('load creates a job’s sessions ahead of their first run, in order, counting only those it loads, within the budget', async (t) => {
  const { home, model } = await tinyStudio(t);
  const files = storedModelFiles(home, model);
  const paths = [files.textEncoder, files.unet, files.vaeDecoder];
  const [textEncoder, unet] = paths.map((path) => estimateSessionBytes(path));
  // Room for the text encoder and the U-Net, not the VAE decoder as well.
  const runtime = createModelRuntime({ budgetBytes: textEncoder! + unet! + 1 });
  t.after(() => runtime.sessions.clear());
  const progress: string[] = [];
  const sources = await runtime.load(paths, { onProgress: (done, total) => progress.push(`${done}/${total}`) });
  assert.deepEqual(progress, ['0/2', '1/2', '2/2']);
  assert.deepEqual(runtime.sessions.keys(), [`cpu:${files.textEncoder}`, `cpu:${files.unet}`]);
  assert.deepEqual([...sources.values()], ['model', 'model'], 'no cache folder configured: the models themselves');
  progress.length = 0;
  assert.equal((await runtime.load(paths, { onProgress: (done, total) => progress.push(`${done}/${total}`) })).size, 0);
  assert.deepEqual(progress, [], 'loaded already: no load phase at all');

  const cancelled = new AbortController();
  cancelled.abort();
  await assert.rejects(createModelRuntime().load(paths, { signal: cancelled.signal }), CancelledError);
});
