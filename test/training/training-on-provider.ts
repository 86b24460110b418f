// Runs training steps of small pieces of the golden tiny models (one SABW aggregator; one U-Net point
// with all its weights trainable; the text encoder, whose embeddings train through Gather's gradient, a
// ScatterElements-add over repeated token ids) on the CPU and on another execution provider in this process, and prints how far the provider's loss
// and gradients are from the CPU's as one JSON line. Run as a child process by
// webgpu-training.test.ts, with the environment that gives onnxruntime's WebGPU provider an adapter.
// Usage: node --import tsx test/training/training-on-provider.ts <backend>
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { unetPoint } from '../../app/models/unet.ts';
import { addClipText } from '../../app/models/clip-text.ts';
import { parseClipTextConfig } from '../../app/models/clip-text-config.ts';
import { loadAggregatorSet } from '../../app/ensemble/aggregator-set.ts';
import { sabwAggregator } from '../../app/ensemble/sabw-aggregator.ts';
import { Graph, type Value } from '../../app/onnx/graph.ts';
import { finishTrainingGraph, type TrainingGraph } from '../../app/training/training-graph.ts';
import { TrainingSession, type StepResult } from '../../app/training/training-session.ts';
import type { Backend } from '../../app/runtime/onnx-runtime.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { goldenAfaDir } from '../ensemble/golden-experts.ts';
import { normal, random } from '../autodiff/finite-differences.ts';

export const RESULT_MARKER = 'TRAINING-ON-PROVIDER ';

function randomTensor(shape: number[], seed: number): Tensor<'float32'> {
  const next = random(seed);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = normal(next);
  return { dtype: 'float32', shape, data };
}

export interface ProviderComparison {
  readonly name: string;
  readonly lossCpu: number;
  readonly lossProvider: number;
  /** Worst over parameters of max|provider − cpu| / (max|cpu| of that gradient + 1e-3 of the module's largest). */
  readonly worstRelative: number;
  readonly worstParameter: string;
}

function compareResults(name: string, cpu: StepResult, other: StepResult): ProviderComparison {
  let worstRelative = 0;
  let worstParameter = '';
  const largestOf = (values: Float32Array) => values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  // Some gradients are exactly zero in exact arithmetic (a bias right before a GroupNorm of one channel
  // per group): measured against 1e-3 of the largest gradient of the module, not against their own noise.
  const floor = 1e-3 * Math.max(...[...cpu.gradients.values()].map(largestOf));
  for (const [parameter, gradient] of cpu.gradients) {
    const theirs = other.gradients.get(parameter)!;
    let error = 0;
    for (let i = 0; i < gradient.length; i++) error = Math.max(error, Math.abs(gradient[i]! - theirs[i]!));
    const relative = error / (largestOf(gradient) + floor);
    if (!(relative <= worstRelative)) {
      worstRelative = relative;
      worstParameter = parameter;
    }
  }
  return { name, lossCpu: cpu.loss, lossProvider: other.loss, worstRelative, worstParameter };
}

/** A graph with data inputs `inputs` and `module` on them as the prediction, its weights trainable. */
function moduleTrainingGraph(name: string, inputs: Readonly<Record<string, number[]>>, module: (g: Graph, values: Record<string, Value>) => Value): TrainingGraph {
  const g = new Graph(name, { isParameter: () => true });
  const values: Record<string, Value> = {};
  for (const [input, shape] of Object.entries(inputs)) values[input] = g.input(input, 'float32', shape);
  const prediction = module(g, values);
  g.output(prediction, 'noise_pred');
  return finishTrainingGraph(g, prediction, [], 'none');
}

/** Runs a module training graph: its inputs are fed from seeded noise (the session's own feeds). */
async function compareModule(name: string, build: () => TrainingGraph, backend: Backend): Promise<ProviderComparison> {
  const built = build();
  const feeds: Record<string, Tensor> = {};
  built.graph.inputs.forEach((input, index) => {
    if (built.parameters.some((parameter) => parameter.value === input)) return;
    feeds[input.name] = randomTensor(input.shape as number[], 10 + index);
  });
  const run = async (on: Backend) => {
    const dir = mkdtempSync(join(tmpdir(), `afa-train-${on}-`));
    const session = await TrainingSession.create(build(), { dir, session: { backend: on } });
    try {
      return await session.computeFeeds(feeds);
    } finally {
      await session.release();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return compareResults(name, await run('cpu'), await run(backend));
}

if (process.argv[1]?.endsWith('training-on-provider.ts')) {
  const backend = (process.argv[2] ?? 'webgpu') as Backend;
  const { config, weights } = openDiffusersComponent(join(goldenAfaDir, 'unet'), parseUnetConfig);
  const aggregators = loadAggregatorSet(goldenAfaDir);
  const text = openDiffusersComponent(join(goldenAfaDir, 'text_encoder'), parseClipTextConfig);
  // Two captions' worth of ids in the tiny vocabulary (1000) that share most tokens and all of their
  // padding: the embedding rows of repeated ids collect many adds each, which a racy scatter would lose.
  const caption = (words: readonly number[]) => Array.from({ length: 77 }, (_, i) => (i === 0 ? 998 : i <= words.length ? words[i - 1]! : 999));
  const ids: Tensor<'int64'> = { dtype: 'int64', shape: [2, 77], data: BigInt64Array.from([...caption([5, 17, 230, 41, 5, 63, 402]), ...caption([5, 17, 231, 41, 5, 17, 402])], BigInt) };
  const results = [
    await compareModule(
      'one SABW aggregator (3 experts, hidden 32)',
      () => moduleTrainingGraph('aggregator_train', { a: [1, 32, 4, 4], b: [1, 32, 4, 4], c: [1, 32, 4, 4], temb: [1, 128], context: [1, 7, 32] }, (g, v) =>
        sabwAggregator(g, aggregators.weights[5]!, aggregators.configs[5]!, [v.a!, v.b!, v.c!], v.temb!, v.context!).fused),
      backend,
    ),
    await compareModule(
      'U-Net point 18 (ResNet, cross-attention, upsampler), every weight',
      () => moduleTrainingGraph('point_train', { hidden: [1, 64, 4, 4], skip: [1, 32, 4, 4], temb: [1, 128], context: [1, 7, 32] }, (g, v) =>
        unetPoint(g, weights, config, 18, { hidden: v.hidden!, skip: v.skip!, temb: v.temb!, context: v.context! })),
      backend,
    ),
    await compareModule(
      'text encoder (embeddings by Gather over repeated ids), every weight',
      () => moduleTrainingGraph('text_train', {}, (g) => addClipText(g, text.weights, text.config, g.constant(ids, 'input_ids')).lastHiddenState),
      backend,
    ),
  ];
  console.log(RESULT_MARKER + JSON.stringify(results));
}
