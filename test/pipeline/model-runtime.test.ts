// A GPU provider that fails moves the runtime to the CPU with one message, and the job finishes with the
// image the CPU alone makes. The failure here is real: onnxruntime-node lists WebGPU, but in a process
// started without a GPU adapter (no GPU, no software Vulkan driver on the library path) every WebGPU
// session fails to start, exactly as a provider whose device disappears does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodePng } from '../../app/images/png.ts';
import { GenerationEngine, type JobOutcome } from '../../app/pipeline/generation-engine.ts';
import { createModelRuntime } from '../../app/pipeline/model-runtime.ts';
import { probeBackends } from '../../app/runtime/backend-probe.ts';
import { recentRuntimeLog } from '../../app/runtime/runtime-log.ts';
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
