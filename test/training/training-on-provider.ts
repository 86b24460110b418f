// Runs one training step of the golden tiny AFA ensemble (and of a tiny U-Net trained from scratch) on
// the CPU and on another execution provider in this process, and prints how far the provider's loss
// and gradients are from the CPU's as one JSON line. Run as a child process by
// webgpu-training.test.ts, with the environment that gives onnxruntime's WebGPU provider an adapter.
// Usage: node --import tsx test/training/training-on-provider.ts <backend>
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { SyntheticWeights } from '../../app/models/synthetic-weights.ts';
import { loadAggregatorSet } from '../../app/ensemble/aggregator-set.ts';
import { buildAfaTrainingGraph } from '../../app/training/afa-training-graph.ts';
import { buildUnetTrainingGraph } from '../../app/training/unet-training-graph.ts';
import type { TrainingGraph } from '../../app/training/training-graph.ts';
import { TrainingSession, type StepResult, type TrainingBatch } from '../../app/training/training-session.ts';
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
  /** Worst over parameters of max|provider − cpu| / max|cpu| of that parameter's gradient. */
  readonly worstRelative: number;
  readonly worstParameter: string;
  readonly seconds: number;
}

async function step(build: () => TrainingGraph, batch: TrainingBatch, backend: Backend): Promise<StepResult> {
  const dir = mkdtempSync(join(tmpdir(), `afa-train-${backend}-`));
  const session = await TrainingSession.create(build(), { dir, session: { backend } });
  try {
    return await session.computeGradients(batch);
  } finally {
    await session.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function compare(name: string, build: () => TrainingGraph, batch: TrainingBatch, backend: Backend): Promise<ProviderComparison> {
  const start = performance.now();
  const cpu = await step(build, batch, 'cpu');
  const other = await step(build, batch, backend);
  let worstRelative = 0;
  let worstParameter = '';
  for (const [parameter, gradient] of cpu.gradients) {
    const theirs = other.gradients.get(parameter)!;
    let largest = 0;
    let error = 0;
    for (let i = 0; i < gradient.length; i++) {
      largest = Math.max(largest, Math.abs(gradient[i]!));
      error = Math.max(error, Math.abs(gradient[i]! - theirs[i]!));
    }
    const relative = error / Math.max(largest, 1e-30);
    if (!(relative <= worstRelative)) {
      worstRelative = relative;
      worstParameter = parameter;
    }
  }
  return { name, lossCpu: cpu.loss, lossProvider: other.loss, worstRelative, worstParameter, seconds: (performance.now() - start) / 1000 };
}

if (process.argv[1]?.endsWith('training-on-provider.ts')) {
  const backend = (process.argv[2] ?? 'webgpu') as Backend;
  const unetOf = (folder: string) => openDiffusersComponent(join(goldenAfaDir, folder), parseUnetConfig);
  const experts = () => ['unet', 'additional_unet_0', 'additional_unet_1'].map((folder) => { const { config, weights } = unetOf(folder); return { config, weights }; });
  const afaBatch: TrainingBatch = {
    sample: randomTensor([1, 4, 8, 8], 1),
    timestep: { dtype: 'float32', shape: [1], data: Float32Array.of(421) },
    context: randomTensor([3, 1, 7, 32], 2),
    target: randomTensor([1, 4, 8, 8], 3),
  };
  const results = [await compare('AFA aggregators (golden tiny experts)', () => buildAfaTrainingGraph(experts(), loadAggregatorSet(goldenAfaDir), { batch: 1, height: 8, width: 8, tokens: 7 }, { recompute: 'points' }), afaBatch, backend)];
  const { config } = unetOf('unet');
  const unetBatch: TrainingBatch = { ...afaBatch, context: randomTensor([1, 7, 32], 4) };
  results.push(await compare('tiny U-Net, every weight', () => buildUnetTrainingGraph(new SyntheticWeights(), config, { batch: 1, height: 8, width: 8, tokens: 7 }), unetBatch, backend));
  console.log(RESULT_MARKER + JSON.stringify(results));
}
