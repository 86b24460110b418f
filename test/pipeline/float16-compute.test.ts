// The studio's float16 path (ModelRuntime precision, app/checkpoints/float16-forms.ts), run on the CPU
// with the tiny golden model: onnxruntime computes float16 graphs there through float32 kernels between
// float16 tensors, so the numbers are float16's while the test needs no GPU. (The golden cases in
// float16 are test/golden/golden-float16.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FLOAT16_FOLDER } from '../../app/checkpoints/float16-forms.ts';
import { storedModelFiles } from '../../app/checkpoints/model-store.ts';
import { decodePng } from '../../app/images/png.ts';
import { GenerationEngine, type JobOutcome } from '../../app/pipeline/generation-engine.ts';
import { createModelRuntime, type PrecisionSetting } from '../../app/pipeline/model-runtime.ts';
import { onnx } from '../../app/onnx/model-proto.ts';
import { tinyStudio } from './tiny-model.ts';

const request = (modelId: string) => ({ settings: { prompt: 'a red house', width: 64, height: 64, steps: 3, seed: 11 }, target: { kind: 'model' as const, modelId } });

async function generate(library: Parameters<typeof tinyStudio>[0] extends never ? never : Awaited<ReturnType<typeof tinyStudio>>['library'], modelId: string, precision: PrecisionSetting, onFallback?: (message: string) => void) {
  const runtime = createModelRuntime({ precision, ...(onFallback ? { onFallback } : {}) });
  const engine = new GenerationEngine({ library, runtime });
  try {
    const outcome: JobOutcome = await engine.enqueue(request(modelId)).settled;
    if (outcome.status !== 'done') assert.fail(`the job ended ${outcome.status}${outcome.status === 'failed' ? `: ${outcome.error.message}` : ''}`);
    const pixels = decodePng(readFileSync(library.absolutePath(outcome.generations[0]!.imagePath!))).data;
    return { pixels, sessions: runtime.sessions.keys(), computeDtype: runtime.computeDtype };
  } finally {
    await engine.dispose();
    await runtime.sessions.clear();
  }
}

function largestDifference(a: Uint8Array, b: Uint8Array): number {
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]! - b[i]!));
  return largest;
}

function elementTypes(modelPath: string): { inputs: number[]; initializerCasts: number } {
  const model = onnx.ModelProto.decode(readFileSync(modelPath));
  const inputs = (model.graph?.input ?? []).map((input) => input.type?.tensorType?.elemType ?? 0);
  const initializerCasts = (model.graph?.node ?? []).filter((node) => node.opType === 'Cast' && (node.name ?? '').endsWith('/Cast')).length;
  return { inputs, initializerCasts };
}

test('fp16 writes float16 forms beside the stored graphs once, runs them, and makes nearly the same picture', async (t) => {
  const { home, library, model } = await tinyStudio(t);
  const files = storedModelFiles(home, model);
  const full = await generate(library, model.id, 'fp32');
  assert.ok(full.sessions.every((key) => !key.includes(FLOAT16_FOLDER)));
  assert.equal(full.computeDtype, 'float32');

  const half = await generate(library, model.id, 'fp16');
  assert.equal(half.computeDtype, 'float16');
  const forms = [files.textEncoder, files.unet, files.vaeDecoder].map((path) => join(dirname(path), FLOAT16_FOLDER, path.slice(dirname(path).length + 1)));
  for (const form of forms) {
    assert.ok(half.sessions.includes(`cpu:${form}`), `${form} ran (sessions: ${half.sessions.join(', ')})`);
    // Float32 I/O, weights cast from the stored float32 file (no weights written: a hard link at most).
    const { inputs, initializerCasts } = elementTypes(form);
    assert.ok(inputs.every((type) => type === onnx.TensorProto.DataType.FLOAT || type === onnx.TensorProto.DataType.INT64), `inputs ${inputs}`);
    assert.ok(initializerCasts > 0);
  }
  const difference = largestDifference(half.pixels, full.pixels);
  assert.ok(difference > 0, 'float16 really ran');
  assert.ok(difference <= 12, `float16's picture within 12 levels of float32's (got ${difference})`);

  const written = forms.map((form) => statSync(form).mtimeMs);
  const again = await generate(library, model.id, 'fp16');
  assert.deepEqual(again.pixels, half.pixels, 'float16 is deterministic');
  assert.deepEqual(forms.map((form) => statSync(form).mtimeMs), written, 'the forms are reused, not written again');
});

test('auto computes in float32 on the CPU and writes no float16 form', async (t) => {
  const { home, library, model } = await tinyStudio(t);
  const result = await generate(library, model.id, 'auto');
  assert.equal(result.computeDtype, 'float32');
  assert.ok(!existsSync(join(dirname(storedModelFiles(home, model).unet), FLOAT16_FOLDER)));
});

test('a float16 form onnxruntime refuses falls back to float32 once, with a message, and the picture is float32’s', async (t) => {
  const { home, library, model } = await tinyStudio(t);
  const files = storedModelFiles(home, model);
  const full = await generate(library, model.id, 'fp32');
  // A U-Net form that cannot load (as a GPU without float16 shaders refuses one), and a stale folder of an older version.
  const folder = join(dirname(files.unet), FLOAT16_FOLDER);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'unet.onnx'), 'not an onnx model');
  mkdirSync(join(dirname(files.unet), 'float16-v0.1'));
  const messages: string[] = [];
  const result = await generate(library, model.id, 'fp16', (message) => messages.push(message));
  assert.equal(messages.length, 1, messages.join('\n'));
  assert.match(messages[0]!, /^Float16 compute does not work on cpu here \(.+\); computing in float32/);
  assert.equal(result.computeDtype, 'float32');
  assert.ok(result.sessions.every((key) => !key.includes(FLOAT16_FOLDER)), result.sessions.join(', '));
  assert.deepEqual(result.pixels, full.pixels, 'the same pixels as float32');
  assert.ok(!readdirSync(dirname(files.unet)).includes('float16-v0.1'), 'older forms are removed');
});
