// Exporting a merge as a single-file LDM checkpoint: round trip through the studio's own checkpoint
// reader (every tensor, the VAE 1×1-conv reshape, the U-Net's noise prediction against the in-graph
// merge), MBW and fp16 exports, atomicity on refusal and cancellation, progress.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CancelledError, UserError } from '../../app/common/errors.ts';
import type { Progress } from '../../app/common/progress.ts';
import { openCheckpoint } from '../../app/checkpoints/open-checkpoint.ts';
import type { OpenedCheckpoint } from '../../app/checkpoints/opened-checkpoint.ts';
import { compileEnsembleGraph } from '../../app/ensemble/compile-ensemble.ts';
import { exportMerged, type ExportMember } from '../../app/ensemble/merge-export.ts';
import { mergeComponentWeights, mergeMethodOf, type MergeMethod } from '../../app/ensemble/merge-method.ts';
import { buildMergedUnetGraph } from '../../app/ensemble/merged-unet.ts';
import { validateRecipe } from '../../app/ensemble/recipe.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { unetTimestep } from '../../app/models/unet-timestep.ts';
import { buildUnetGraph } from '../../app/models/unet.ts';
import type { Graph } from '../../app/onnx/graph.ts';
import { castFloat } from '../../app/tensor/cast.ts';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { EXPERT1_FP32, EXPERT2_FP16, temporaryDirectory, tinyConfigs } from '../checkpoints/fixtures.ts';
import { golden } from '../checkpoints/golden-paths.ts';

function openMembers(t: { after(fn: () => void): void }): { members: ExportMember[]; checkpoints: OpenedCheckpoint[] } {
  const checkpoints = [
    openCheckpoint(EXPERT1_FP32, { configOverrides: tinyConfigs() }),
    openCheckpoint(EXPERT2_FP16, { configOverrides: tinyConfigs('additional_unet_0', 'additional_text_encoder_0') }),
  ];
  t.after(() => checkpoints.forEach((checkpoint) => checkpoint.close()));
  return { checkpoints, members: checkpoints.map((checkpoint, k) => ({ name: `expert ${k + 1}`, components: checkpoint.components })) };
}

function isUserError(code: string, pattern: RegExp) {
  return (error: unknown) => error instanceof UserError && error.code === code && pattern.test(error.message);
}

async function noisePrediction(graph: Graph, dir: string): Promise<Float32Array> {
  const file = SafetensorsFile.open(golden('cases', 'unet', 'inputs.safetensors'));
  const feeds = { sample: file.read('sample'), timestep: unetTimestep(file.read('timestep_t1'), 2), encoder_hidden_states: file.read('encoder_hidden_states') };
  file.close();
  const compiled = await compileEnsembleGraph(graph, dir);
  try {
    return (await compiled.session.run(feeds)).noise_pred!.data as Float32Array;
  } finally {
    await compiled.release();
  }
}

test('an exported weighted merge opens as an SD1.x checkpoint with every merged tensor and the same noise prediction', async (t) => {
  const dir = temporaryDirectory(t, 'afa-merge-export-');
  const { members } = openMembers(t);
  const method: MergeMethod = { kind: 'weighted', weights: [0.6, 0.4] };
  const progress: Progress[] = [];
  const out = join(dir, 'merged.safetensors');
  const result = exportMerged(members, method, out, { onProgress: (p) => progress.push(p) });
  assert.deepEqual(readdirSync(dir), ['merged.safetensors'], 'no temporary file left');

  const raw = SafetensorsFile.open(out);
  t.after(() => raw.close());
  assert.equal(result.tensors, raw.names().length);
  assert.deepEqual(JSON.parse(raw.metadata.sd_merge_recipe!), { type: 'afa-studio', method, members: ['expert 1', 'expert 2'] });
  assert.deepEqual(raw.get('first_stage_model.decoder.mid.attn_1.q.weight').shape.slice(2), [1, 1], 'VAE attention stored as a 1×1 conv');
  assert.ok(raw.names().every((name) => raw.get(name).dtype === 'float32'));
  const last = progress.at(-1)!;
  assert.equal(last.phase, 'export-merge');
  assert.equal(last.done, last.total);
  assert.equal(last.total, result.bytes);

  const exported = openCheckpoint(out, { configOverrides: tinyConfigs() });
  t.after(() => exported.close());
  for (const component of ['unet', 'textEncoder', 'vae'] as const) {
    const expected = mergeComponentWeights(component, members.map((m) => m.components[component].weights), method, { unetConfig: members[0]!.components.unet.config });
    const names = exported.components[component].weights.names();
    assert.deepEqual([...names].sort(), [...expected.names()].sort(), component);
    for (const name of names) {
      const actual = exported.components[component].weights.get(name).read();
      const wanted = expected.get(name).read() as Tensor<'float32'>;
      assert.deepEqual(actual.shape, wanted.shape, name);
      assert.deepEqual(actual.data, wanted.data, name);
    }
  }

  const config = parseUnetConfig(exported.components.unet.config);
  const experts = members.map((member) => ({ weights: member.components.unet.weights, config: parseUnetConfig(member.components.unet.config) }));
  const fromFile = await noisePrediction(buildUnetGraph(exported.components.unet.weights, config), join(dir, 'from-file'));
  const inGraph = await noisePrediction(buildMergedUnetGraph(experts, method, { computeIn: 'graph' }), join(dir, 'in-graph'));
  assert.deepEqual(fromFile, inGraph);
});

test('an MBW recipe exports with block weights on the U-Net and base α on the text encoder and VAE, optionally in fp16', (t) => {
  const dir = temporaryDirectory(t, 'afa-merge-export-');
  const { members } = openMembers(t);
  const recipe = validateRecipe({
    name: 'mbw',
    method: 'mbw',
    members: [{ modelId: 'a' }, { modelId: 'b' }],
    mbw: { blocks: Array.from({ length: 25 }, (_, i) => i / 24), base: 0.3 },
  });
  const method = mergeMethodOf(recipe);
  const out = join(dir, 'mbw.safetensors');
  exportMerged(members, method, out, {}, { precision: 'fp16' });
  const raw = SafetensorsFile.open(out);
  t.after(() => raw.close());
  const [a, b] = members.map((m) => m.components);
  const check = (ldm: string, component: 'unet' | 'textEncoder' | 'vae', diffusers: string, alpha: number) => {
    const stored = raw.get(ldm).read();
    assert.equal(stored.dtype, 'float16', ldm);
    const [ta, tb] = [a!, b!].map((c) => castFloat(c[component].weights.get(diffusers).read(), 'float32').data);
    const f = Math.fround;
    const merged = Float32Array.from(ta!, (value, i) => f(f(f(1 - alpha) * value) + f(f(alpha) * tb![i]!)));
    assert.deepEqual(stored.data, castFloat({ dtype: 'float32', shape: stored.shape, data: merged }, 'float16').data, ldm);
  };
  check('model.diffusion_model.input_blocks.1.0.in_layers.2.weight', 'unet', 'down_blocks.0.resnets.0.conv1.weight', 1 / 24); // IN01
  check('model.diffusion_model.middle_block.1.proj_in.weight', 'unet', 'mid_block.attentions.0.proj_in.weight', 12 / 24); // M00
  check('cond_stage_model.transformer.text_model.final_layer_norm.weight', 'textEncoder', 'text_model.final_layer_norm.weight', 0.3);
  check('first_stage_model.decoder.conv_in.weight', 'vae', 'decoder.conv_in.weight', 0.3);
  assert.throws(() => mergeMethodOf(validateRecipe({ name: 'afa', method: 'afa', members: [{ modelId: 'a' }, { modelId: 'b' }] })), isUserError('invalid-argument', /not a parameter merge/));
});

test('refusals write nothing: existing file, wrong extension, missing folder, MBW of 3, negative weights, other architecture', (t) => {
  const dir = temporaryDirectory(t, 'afa-merge-export-');
  const { members } = openMembers(t);
  const weighted: MergeMethod = { kind: 'weighted', weights: [0.5, 0.5] };
  const existing = join(dir, 'taken.safetensors');
  writeFileSync(existing, 'keep me');
  assert.throws(() => exportMerged(members, weighted, existing), isUserError('conflict', /already exists/));
  assert.throws(() => exportMerged(members, weighted, join(dir, 'merged.ckpt')), isUserError('invalid-argument', /must be a \.safetensors file/));
  assert.throws(() => exportMerged(members, weighted, join(dir, 'nowhere', 'merged.safetensors')), isUserError('not-found', /does not exist/));
  assert.throws(
    () => exportMerged([...members, members[0]!], { kind: 'mbw', mbw: { blocks: new Array(25).fill(0.5), base: 0.5 } }, join(dir, 'm.safetensors')),
    isUserError('invalid-argument', /exactly 2 models/),
  );
  assert.throws(() => exportMerged(members, { kind: 'weighted', weights: [1.5, -0.5] }, join(dir, 'm.safetensors')), isUserError('invalid-argument', /negative/));
  const wider = { ...members[1]!, components: { ...members[1]!.components, unet: { ...members[1]!.components.unet, config: { ...members[1]!.components.unet.config, layers_per_block: 3 } } } };
  assert.throws(() => exportMerged([members[0]!, wider], weighted, join(dir, 'm.safetensors')), isUserError('mismatch', /'expert 2' has a different architecture than 'expert 1'/));
  assert.deepEqual(readdirSync(dir), ['taken.safetensors']);
  assert.equal(readFileSync(existing, 'utf8'), 'keep me');
  exportMerged(members, weighted, existing, {}, { overwrite: true });
  const replaced = SafetensorsFile.open(existing);
  t.after(() => replaced.close());
  assert.ok(replaced.names().length > 900, 'replaced when allowed');
});

test('cancelling an export stops before the next tensor and leaves no file', (t) => {
  const dir = temporaryDirectory(t, 'afa-merge-export-');
  const { members } = openMembers(t);
  const controller = new AbortController();
  let reports = 0;
  assert.throws(
    () =>
      exportMerged(members, { kind: 'weighted', weights: [0.5, 0.5] }, join(dir, 'merged.safetensors'), {
        signal: controller.signal,
        onProgress: () => {
          reports++;
          if (reports === 3) controller.abort();
        },
      }),
    (error: unknown) => error instanceof CancelledError,
  );
  assert.equal(reports, 3);
  assert.deepEqual(readdirSync(dir), []);
});
