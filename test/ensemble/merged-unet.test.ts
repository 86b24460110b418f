// The merged U-Net graph on the golden tiny U-Nets, three ways that must agree bit for bit:
// merged tensors streamed into the weights file (the studio's path), Mul/Add nodes folded by onnxruntime
// (MergingGraph), and a plain U-Net over weights merged by an independent TypeScript loop. Also: what is
// referenced in place, and the refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../app/common/errors.ts';
import { compileEnsembleGraph } from '../../app/ensemble/compile-ensemble.ts';
import type { Expert } from '../../app/ensemble/lock-step-graph.ts';
import type { MergeMethod } from '../../app/ensemble/merge-method.ts';
import { buildMergedUnetGraph } from '../../app/ensemble/merged-unet.ts';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { unetTimestep } from '../../app/models/unet-timestep.ts';
import { buildUnetGraph } from '../../app/models/unet.ts';
import type { Graph } from '../../app/onnx/graph.ts';
import { saveModel } from '../../app/onnx/serialize.ts';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { MemoryWeights } from '../../app/tensor/weights.ts';
import { golden } from '../checkpoints/golden-paths.ts';

const FOLDERS = ['unet', 'additional_unet_0', 'additional_unet_1'].map((name) => golden('models', 'afa', name));

function openExperts(count: number): Expert[] {
  return FOLDERS.slice(0, count).map((folder) => {
    const { config, weights } = openDiffusersComponent(folder, parseUnetConfig);
    return { config, weights };
  });
}

function scratch(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'afa-merged-unet-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const inputs = (() => {
  const file = SafetensorsFile.open(golden('cases', 'unet', 'inputs.safetensors'));
  const sample = file.read('sample') as Tensor<'float32'>;
  const feeds = { sample, timestep: unetTimestep(file.read('timestep_t500'), 2), encoder_hidden_states: file.read('encoder_hidden_states') };
  file.close();
  return feeds;
})();

async function noisePrediction(graph: Graph, dir: string): Promise<Float32Array> {
  const compiled = await compileEnsembleGraph(graph, dir);
  try {
    return (await compiled.session.run(inputs)).noise_pred!.data as Float32Array;
  } finally {
    await compiled.release();
  }
}

/** Σ w_k·θ_k per tensor with one Float32Array cell per rounding step (independent of weight-merge.ts). */
function mergeByHand(experts: readonly Expert[], coefficients: (name: string) => readonly number[]): MemoryWeights {
  const tensors = new Map<string, Tensor>();
  for (const name of experts[0]!.weights.names()) {
    const data = experts.map((expert) => expert.weights.get(name).read().data as Float32Array);
    const weights = coefficients(name);
    const out = new Float32Array(data[0]!.length);
    const cell = new Float32Array(2);
    for (let i = 0; i < out.length; i++) {
      data.forEach((values, k) => {
        cell[0] = Math.fround(weights[k]!) * values[i]!;
        cell[1] = k === 0 ? cell[0] : cell[1]! + cell[0]!;
      });
      out[i] = cell[1]!;
    }
    tensors.set(name, { dtype: 'float32', shape: experts[0]!.weights.get(name).shape, data: out });
  }
  return new MemoryWeights(tensors, 'merged by hand');
}

test('weighted merge: weights-file path, ORT-folded Mul/Add path and a hand-merged plain U-Net agree exactly', async (t) => {
  const dir = scratch(t);
  const experts = openExperts(3);
  const method: MergeMethod = { kind: 'weighted', weights: [0.5, 0.3, 0.2] };
  const streamed = await noisePrediction(buildMergedUnetGraph(experts, method), join(dir, 'file'));
  const folded = await noisePrediction(buildMergedUnetGraph(experts, method, { computeIn: 'graph' }), join(dir, 'graph'));
  const reference = await noisePrediction(buildUnetGraph(mergeByHand(experts, () => method.weights), experts[0]!.config), join(dir, 'reference'));
  assert.deepEqual(streamed, reference);
  assert.deepEqual(folded, reference);
});

test('MBW: both paths agree, and blocks at α 0 or 1 are referenced in the members\' files instead of written', async (t) => {
  const dir = scratch(t);
  const experts = openExperts(2);
  const blocks = Array.from({ length: 25 }, (_, i) => (i === 0 ? 0 : i === 24 ? 1 : i / 24));
  const method: MergeMethod = { kind: 'mbw', mbw: { blocks, base: 0.3 } };
  const streamed = await noisePrediction(buildMergedUnetGraph(experts, method), join(dir, 'file'));
  const folded = await noisePrediction(buildMergedUnetGraph(experts, method, { computeIn: 'graph' }), join(dir, 'graph'));
  assert.deepEqual(streamed, folded);

  const saved = saveModel(buildMergedUnetGraph(experts, method), { dir: join(dir, 'saved'), modelFile: 'unet.onnx', weightsFile: 'unet.weights' });
  const fileOf = (name: string) => [...saved.weights.entries.values()].find((entry) => entry.name.endsWith(name))?.file;
  assert.equal(fileOf('conv_in.weight'), (experts[0]!.weights as SafetensorsFile).path, 'IN00 at α 0: model A in place');
  assert.equal(fileOf('conv_out.weight'), (experts[1]!.weights as SafetensorsFile).path, 'OUT11 at α 1: model B in place');
  assert.equal(fileOf('mid_block.resnets.0.conv1.weight'), saved.weightsPath, 'M00 at α 0.5: computed and written');
});

test('merged U-Nets refuse a single model, different architectures and MBW of 3 models', () => {
  const experts = openExperts(3);
  const other = { ...experts[1]!, config: { ...experts[1]!.config, block_out_channels: [32, 64, 64, 64] } };
  const weighted: MergeMethod = { kind: 'weighted', weights: [0.5, 0.5] };
  const isUserError = (code: string, pattern: RegExp) => (error: unknown) => error instanceof UserError && error.code === code && pattern.test(error.message);
  assert.throws(() => buildMergedUnetGraph(experts.slice(0, 1), { kind: 'weighted', weights: [1] }), isUserError('invalid-argument', /at least 2 models/));
  assert.throws(() => buildMergedUnetGraph([experts[0]!, other], weighted), isUserError('mismatch', /Model 2 of the ensemble has a different U-Net architecture/));
  assert.throws(() => buildMergedUnetGraph(experts, weighted), isUserError('invalid-argument', /3 models needs 3 weights; got 2/));
  assert.throws(() => buildMergedUnetGraph(experts, { kind: 'mbw', mbw: { blocks: new Array(25).fill(0.5), base: 0.5 } }), isUserError('invalid-argument', /exactly 2 models/));
});
