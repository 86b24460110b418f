import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { existsSync, readdirSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { importCheckpoint } from '../../app/checkpoints/import-checkpoint.ts';
import { listStoredModels, removeStoredModel } from '../../app/checkpoints/model-store.ts';
import { CancelledError, UserError } from '../../app/common/errors.ts';
import { studioPaths } from '../../app/common/paths.ts';
import type { Progress } from '../../app/common/progress.ts';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';
import { AFA_FOLDER, EXPERT1_FP32, EXPERT2_FP16, temporaryDirectory, tinyConfigs } from './fixtures.ts';
import { golden } from './golden-paths.ts';
import { openDatabase } from '../../app/library/open-database.ts';
import { ModelsTable } from '../../app/library/models-table.ts';
import { castFloat } from '../../app/tensor/cast.ts';
import { writeSafetensors } from '../../app/tensor/safetensors.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { unetTimestep } from '../../app/models/unet-timestep.ts';
import { ModelSession } from '../../app/runtime/onnx-runtime.ts';

/** Everything under the home except the (empty) scaffolding folders. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

test('importing the fp16 golden single file builds the store layout; re-importing returns it unchanged', async (t) => {
  const home = temporaryDirectory(t);
  const phases = new Set<string>();
  const imported = await importCheckpoint(EXPERT2_FP16, { home, precision: 'fp16', configOverrides: tinyConfigs('additional_unet_0', 'additional_text_encoder_0') }, {
    onProgress: (progress: Progress) => phases.add(progress.phase),
  });
  const { manifest, files } = imported;
  assert.equal(imported.alreadyImported, false);
  assert.equal(manifest.sha256.length, 64);
  assert.equal(manifest.shortHash, manifest.sha256.slice(0, 10));
  assert.equal(manifest.precision, 'fp16');
  assert.equal(manifest.sourcePrecision, 'fp16');
  assert.equal(manifest.architecture, 'sd1');
  assert.equal(manifest.tokenizer, 'default');
  assert.deepEqual([...phases].sort(), ['convert', 'graphs', 'hash', 'hash-vae']);
  assert.equal(files.dir, join(studioPaths(home).models, manifest.sha256));
  for (const path of [files.unet, files.unetWeights, files.textEncoder, files.textEncoderWeights, files.vaeDecoder, files.vaeEncoder, files.vaeWeights]) {
    assert.ok(existsSync(path), path);
  }
  assert.deepEqual(readdirSync(files.dir).sort(), ['model.json', 'text_encoder.onnx', 'text_encoder.safetensors', 'unet.onnx', 'unet.safetensors']);
  const unet = SafetensorsFile.open(files.unetWeights);
  try {
    assert.equal(unet.names().length, 684);
    assert.equal(unet.get('conv_in.weight').dtype, 'float16');
  } finally {
    unet.close();
  }
  assert.deepEqual(readdirSync(studioPaths(home).temp), []);

  const again = await importCheckpoint(EXPERT2_FP16, { home, precision: 'fp16', configOverrides: tinyConfigs('additional_unet_0', 'additional_text_encoder_0') });
  assert.equal(again.alreadyImported, true);
  assert.deepEqual(again.manifest, manifest);
});

test('fp16 storage (Cast in the graph) and the default fp32 storage give the same U-Net output as diffusers', async (t) => {
  const inputs = SafetensorsFile.open(golden('cases', 'unet', 'inputs.safetensors'));
  const expected = SafetensorsFile.open(golden('cases', 'checkpoint', 'outputs.safetensors'));
  t.after(() => (inputs.close(), expected.close()));
  const sample = inputs.read('sample');
  const feeds = {
    sample,
    timestep: unetTimestep(inputs.read('timestep_t500'), sample.shape[0]),
    encoder_hidden_states: inputs.read('encoder_hidden_states'),
  };
  const outputs: Float32Array[] = [];
  for (const precision of ['fp16', 'fp32'] as const) {
    const home = temporaryDirectory(t);
    const imported = await importCheckpoint(EXPERT2_FP16, { home, precision, configOverrides: tinyConfigs('additional_unet_0', 'additional_text_encoder_0') });
    assert.equal(imported.manifest.precision, precision);
    const session = await ModelSession.create(imported.files.unet, { intraOpThreads: 1 });
    try {
      outputs.push((await session.run(feeds)).noise_pred.data as Float32Array);
    } finally {
      await session.release();
    }
  }
  // fp16 → fp32 is exact, whether done at import or by the folded Cast.
  assert.deepEqual(outputs[0], outputs[1]);
  const golden16 = expected.read('expert2_fp16_unet_t500').data as Float32Array;
  const worst = outputs[1].reduce((max, value, i) => Math.max(max, Math.abs(value - golden16[i])), 0);
  assert.ok(worst <= 2e-5, `max |error| ${worst} vs the manifest's atol 2e-5`);
});

test('the golden diffusers folder imports with its own tokenizer; its VAE is shared with a single file of the same VAE', async (t) => {
  const home = temporaryDirectory(t);
  const folder = await importCheckpoint(AFA_FOLDER, { home });
  assert.equal(folder.manifest.sourceFormat, 'diffusers-folder');
  assert.equal(folder.manifest.tokenizer, 'tokenizer');
  assert.deepEqual(readdirSync(folder.files.tokenizer!).sort(), ['merges.txt', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.json']);
  const single = await importCheckpoint(EXPERT1_FP32, { home, configOverrides: tinyConfigs() });
  assert.equal(single.manifest.precision, 'fp32');
  assert.notEqual(single.manifest.sha256, folder.manifest.sha256);
  assert.equal(single.manifest.components.vae.sha256, folder.manifest.components.vae.sha256, 'same VAE bytes → one shared copy');
  assert.equal(readdirSync(join(studioPaths(home).models, 'shared')).length, 1);

  assert.equal(removeStoredModel(home, folder.manifest.id), true);
  assert.ok(existsSync(single.files.vaeDecoder), 'the shared VAE stays while another model uses it');
  assert.equal(removeStoredModel(home, single.manifest.id), true);
  assert.deepEqual(readdirSync(join(studioPaths(home).models, 'shared')), []);
  assert.deepEqual(listStoredModels(home), []);
});

test('a bf16 checkpoint is stored exactly in fp32 and registered in the library catalog', async (t) => {
  const home = temporaryDirectory(t);
  const source = SafetensorsFile.open(EXPERT1_FP32);
  const tensors = new Map<string, Tensor>();
  for (const name of source.names()) tensors.set(name, castFloat(source.read(name), 'bfloat16'));
  source.close();
  const path = join(temporaryDirectory(t), 'expert1-bf16.safetensors');
  writeSafetensors(path, tensors);

  const db = openDatabase(':memory:');
  t.after(() => db.close());
  const catalog = new ModelsTable(db);
  const imported = await importCheckpoint(path, { home, name: 'Expert one (bf16)', configOverrides: tinyConfigs(), catalog }, {});
  assert.equal(imported.manifest.sourcePrecision, 'bf16');
  assert.equal(imported.manifest.precision, 'fp32');
  const stored = SafetensorsFile.open(imported.files.unetWeights);
  try {
    const name = 'down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight';
    const ldm = 'model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight';
    assert.deepEqual(stored.read(name).data, castFloat(tensors.get(ldm)!, 'float32').data);
  } finally {
    stored.close();
  }
  const row = catalog.get(imported.manifest.id);
  assert.equal(row?.name, 'Expert one (bf16)');
  assert.equal(row?.shortHash, imported.manifest.shortHash);
  assert.equal(row?.storeDir, imported.files.dir);
  assert.equal(row?.components.unet, imported.files.unet);
  assert.deepEqual(imported.row, row);
});

test('cancelling mid-import leaves nothing behind', async (t) => {
  const home = temporaryDirectory(t);
  const controller = new AbortController();
  let converted = 0;
  await assert.rejects(
    importCheckpoint(EXPERT1_FP32, { home, configOverrides: tinyConfigs() }, {
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.phase === 'convert' && ++converted === 300) controller.abort();
      },
    }),
    CancelledError,
  );
  assert.equal(converted, 300);
  assert.deepEqual(filesUnder(home), []);
});

test('a full disk while writing the weights becomes UserError(disk-full) and leaves nothing behind', async (t) => {
  const home = temporaryDirectory(t);
  // Simulates the OS answering ENOSPC after 2 MB have been written by this import.
  const original = fs.writeSync;
  let written = 0;
  (fs as { writeSync: typeof fs.writeSync }).writeSync = ((fd: number, buffer: NodeJS.ArrayBufferView, ...rest: unknown[]) => {
    written += buffer.byteLength;
    if (written > 2_000_000) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return (original as (...args: unknown[]) => number)(fd, buffer, ...rest);
  }) as typeof fs.writeSync;
  syncBuiltinESMExports();
  try {
    await assert.rejects(importCheckpoint(EXPERT1_FP32, { home, configOverrides: tinyConfigs() }), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.equal(error.code, 'disk-full');
      return true;
    });
  } finally {
    (fs as { writeSync: typeof fs.writeSync }).writeSync = original;
    syncBuiltinESMExports();
  }
  assert.ok(written > 2_000_000, 'the fault was injected');
  assert.deepEqual(filesUnder(home), []);
});

test('a refused checkpoint is refused before hashing and leaves nothing behind', async (t) => {
  const home = temporaryDirectory(t);
  const phases: string[] = [];
  await assert.rejects(importCheckpoint(EXPERT1_FP32, { home }, { onProgress: (p) => phases.push(p.phase) }), (error: unknown) => error instanceof UserError && error.code === 'mismatch');
  assert.deepEqual(phases, []);
  assert.deepEqual(filesUnder(home), []);
});

test('a single file that needs its own tokenizer keeps the tokenizer folder it is imported with', async (t) => {
  const home = temporaryDirectory(t);
  const { manifest, files } = await importCheckpoint(EXPERT1_FP32, { home, configOverrides: tinyConfigs(), tokenizerDirectory: join(AFA_FOLDER, 'tokenizer') });
  assert.equal(manifest.tokenizer, 'tokenizer');
  assert.ok(files.tokenizer && existsSync(join(files.tokenizer, 'vocab.json')) && existsSync(join(files.tokenizer, 'merges.txt')));
  await assert.rejects(
    importCheckpoint(EXPERT2_FP16, { home, configOverrides: tinyConfigs(), tokenizerDirectory: join(AFA_FOLDER, 'unet') }),
    (error: unknown) => error instanceof UserError && /needs vocab.json and merges.txt/.test(error.message),
  );
  assert.deepEqual(readdirSync(studioPaths(home).temp), [], 'a refused import leaves nothing behind');
});
