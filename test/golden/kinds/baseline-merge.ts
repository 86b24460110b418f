// Golden kinds of the parameter-merge baselines, run through the graph the studio runs for merge / MBW
// recipes (buildMergedUnetGraph, merged weights streamed into the compiled weights file):
// 'baseline_weighted_merge' (θ = Σ w_k·θ_k over the U-Nets listed in model.unets, weights in params) and
// 'baseline_mbw' (sd-webui MBW of model.A and model.B with params.weights / params.base_alpha).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaseContext, CaseKind, ManifestCase } from '../case-kind.ts';
import type { Tensor } from '../../../app/tensor/tensor.ts';
import { openDiffusersComponent } from '../../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../../app/models/unet-config.ts';
import { unetTimestep } from '../../../app/models/unet-timestep.ts';
import { compileEnsembleGraph, type CompiledEnsemble } from '../../../app/ensemble/compile-ensemble.ts';
import type { SessionOptions } from '../../../app/runtime/onnx-runtime.ts';
import type { Expert } from '../../../app/ensemble/lock-step-graph.ts';
import type { MergeMethod } from '../../../app/ensemble/merge-method.ts';
import { buildMergedUnetGraph } from '../../../app/ensemble/merged-unet.ts';

const compiled = new Map<string, Promise<CompiledEnsemble>>();

function openExperts(folders: readonly string[]): Expert[] {
  return folders.map((folder) => {
    const { config, weights } = openDiffusersComponent(folder, parseUnetConfig);
    return { config, weights };
  });
}

// The three timesteps of a kind share one compiled graph, kept in a folder removed when the process exits.
function compileOnce(folders: readonly string[], method: MergeMethod, session: SessionOptions): Promise<CompiledEnsemble> {
  const key = JSON.stringify({ folders, method, backend: session.backend ?? 'cpu' });
  let entry = compiled.get(key);
  if (!entry) {
    const dir = mkdtempSync(join(tmpdir(), 'afa-golden-merge-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    entry = compileEnsembleGraph(buildMergedUnetGraph(openExperts(folders), method), dir, { session });
    compiled.set(key, entry);
  }
  return entry;
}

async function runMerged(testCase: ManifestCase, context: CaseContext, folders: readonly string[], method: MergeMethod) {
  const inputs = testCase.inputs ?? {};
  const sample = context.readTensor(inputs.sample!) as Tensor<'float32'>;
  const merged = await compileOnce(folders.map((folder) => context.resolve(folder)), method, context.session);
  const result = await merged.session.run({
    sample,
    timestep: unetTimestep(context.readTensor(inputs.timestep!), sample.shape[0]!),
    encoder_hidden_states: context.readTensor(inputs.encoder_hidden_states!),
  });
  return { noise_pred: result.noise_pred! };
}

function numbers(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number')) throw new Error(`the case's ${what} is not a list of numbers`);
  return value as number[];
}

const weightedMerge: CaseKind = {
  kind: 'baseline_weighted_merge',
  run(testCase, context) {
    const unets = (testCase.model?.unets ?? []) as string[];
    return runMerged(testCase, context, unets, { kind: 'weighted', weights: numbers(testCase.params?.weights, 'params.weights') });
  },
};

const mbw: CaseKind = {
  kind: 'baseline_mbw',
  run(testCase, context) {
    const base = testCase.params?.base_alpha;
    if (typeof base !== 'number') throw new Error("the case's params.base_alpha is not a number");
    const folders = [String(testCase.model?.A), String(testCase.model?.B)];
    return runMerged(testCase, context, folders, { kind: 'mbw', mbw: { blocks: numbers(testCase.params?.weights, 'params.weights'), base } });
  },
};

export const kinds: CaseKind[] = [weightedMerge, mbw];
