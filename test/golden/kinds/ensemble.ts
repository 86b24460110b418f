// Golden kinds of the ensemble engine run through the same graphs the studio runs:
// 'afa_forward' (the official AFA U-Net forward: noise prediction, every aggregator's input, weight map
// and output, the experts' and aggregators' conditioning) and 'baseline_eps_average' (noise-prediction
// averaging, uniform and weighted).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaseContext, CaseKind, CaseOutput, ManifestCase } from '../case-kind.ts';
import type { Tensor } from '../../../app/tensor/tensor.ts';
import { openDiffusersComponent } from '../../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../../app/models/unet-config.ts';
import { unetTimestep } from '../../../app/models/unet-timestep.ts';
import { loadAggregatorSet } from '../../../app/ensemble/aggregator-set.ts';
import { buildLockStepGraph, buildOutputAverageGraph, type Expert } from '../../../app/ensemble/lock-step-graph.ts';
import { compileEnsembleGraph, type CompiledEnsemble } from '../../../app/ensemble/compile-ensemble.ts';
import type { StoredFloat } from '../../../app/onnx/graph.ts';
import type { SessionOptions } from '../../../app/runtime/onnx-runtime.ts';

const compiled = new Map<string, Promise<CompiledEnsemble>>();

/** The experts of the official AFA layout: unet, additional_unet_0, additional_unet_1, … */
function afaExpertFolders(afaDir: string, count: number): string[] {
  return Array.from({ length: count }, (_, k) => (k === 0 ? join(afaDir, 'unet') : join(afaDir, `additional_unet_${k - 1}`)));
}

function openExperts(folders: readonly string[]): Expert[] {
  return folders.map((folder) => {
    const { config, weights } = openDiffusersComponent(folder, parseUnetConfig);
    return { config, weights };
  });
}

// Compiled graphs outlive one case (the three timesteps share one graph), so they live in a folder of
// their own, removed when the process exits.
function compileOnce(name: string, build: () => Parameters<typeof compileEnsembleGraph>[0], session: SessionOptions, computeDtype: StoredFloat): Promise<CompiledEnsemble> {
  const key = `${session.backend ?? 'cpu'}:${computeDtype}:${name}`;
  let entry = compiled.get(key);
  if (!entry) {
    const dir = mkdtempSync(join(tmpdir(), 'afa-golden-ensemble-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    entry = compileEnsembleGraph(build(), dir, { session });
    compiled.set(key, entry);
  }
  return entry;
}

function unetInputs(testCase: ManifestCase, context: CaseContext) {
  const inputs = testCase.inputs ?? {};
  const sample = context.readTensor(inputs.sample!) as Tensor<'float32'>;
  return {
    sample,
    timestep: unetTimestep(context.readTensor(inputs.timestep!), sample.shape[0]!),
    context: context.readTensor(inputs.encoder_hidden_states!) as Tensor<'float32'>,
  };
}

/** [B, K, …] → [K, B, …] (the golden expert_temb is stacked over experts first). */
function swapLeadingAxes(tensor: Tensor<'float32'>): Tensor<'float32'> {
  const [b, k, ...rest] = tensor.shape as number[];
  const inner = rest.reduce((a, d) => a * d, 1);
  const out = new Float32Array(tensor.data.length);
  for (let i = 0; i < b!; i++) for (let j = 0; j < k!; j++) out.set(tensor.data.subarray((i * k! + j) * inner, (i * k! + j + 1) * inner), (j * b! + i) * inner);
  return { dtype: 'float32', shape: [k!, b!, ...rest], data: out };
}

const afaForward: CaseKind = {
  kind: 'afa_forward',
  computeDtypes: ['float32', 'float16'],
  async run(testCase, context) {
    const afaDir = context.resolve(String(testCase.model?.afa));
    const { sample, timestep, context: contexts } = unetInputs(testCase, context);
    const experts = contexts.shape[0]!;
    const ensemble = await compileOnce(`afa:${afaDir}`, () =>
      buildLockStepGraph(openExperts(afaExpertFolders(afaDir, experts)), { kind: 'aggregators', aggregators: loadAggregatorSet(afaDir) }, { exposeInternals: true, graph: { computeDtype: context.computeDtype } }),
      context.session,
      context.computeDtype,
    );
    const result = await ensemble.session.run({ sample, timestep, encoder_hidden_states: contexts });
    const outputs: Record<string, CaseOutput> = {
      noise_pred: result.noise_pred!,
      expert_temb: swapLeadingAxes(result.expert_temb_stacked as Tensor<'float32'>),
      aggregator_temb: result.aggregator_temb!,
      aggregator_ehs: result.aggregator_ehs!,
    };
    for (const name of Object.keys(result)) {
      const match = /^(?:weights|agg)_?(\d\d)(?:_(in|out))?$/.exec(name);
      if (!match) continue;
      const [, id, part] = match;
      outputs[`agg${id}_${part ?? 'attn'}`] = result[name]!;
    }
    return outputs;
  },
};

const epsAverage: CaseKind = {
  kind: 'baseline_eps_average',
  computeDtypes: ['float32', 'float16'],
  async run(testCase, context) {
    const folders = (testCase.model?.unets as string[]).map((path) => context.resolve(path));
    const weighted = /w=\[([^\]]+)\]/.exec(String(testCase.params?.weighted))?.[1]?.split(',').map(Number);
    if (!weighted) throw new Error(`case ${testCase.id} names no weights in params.weighted`);
    const uniform = folders.map(() => 1 / folders.length);
    const { sample, timestep, context: single } = unetInputs(testCase, context);
    // Every expert gets the same prompt embedding here: stack it K times → [K, B, tokens, D].
    const stacked = new Float32Array(single.data.length * folders.length);
    folders.forEach((_, k) => stacked.set(single.data, k * single.data.length));
    const contexts: Tensor<'float32'> = { dtype: 'float32', shape: [folders.length, ...single.shape], data: stacked };
    const run = async (weights: readonly number[], key: string) => {
      const ensemble = await compileOnce(key, () => buildOutputAverageGraph(openExperts(folders), weights, 'output_average', { computeDtype: context.computeDtype }), context.session, context.computeDtype);
      return (await ensemble.session.run({ sample, timestep, encoder_hidden_states: contexts })).noise_pred!;
    };
    return {
      eps_mean: await run(uniform, `mean:${folders.join(',')}`),
      eps_weighted: await run(weighted, `weighted:${weighted.join(',')}:${folders.join(',')}`),
    };
  },
};

export const kinds: CaseKind[] = [afaForward, epsAverage];
