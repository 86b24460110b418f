// Validation that answers "is the ensemble already better than its members on my data?": the ε-MSE on
// the held-out split, at fixed timesteps and fixed noise (the same numbers at every validation), for
// - the AFA ensemble being trained (through the training session: the loss output of its graph),
// - each member alone, and
// - the uniform feature average (lock-step fusion with equal weights: an untrained aggregator).
// The members and the average do not change during training, so they are computed once per run.
//
// A member alone is the lock-step graph with one-hot fusion weights: every expert then continues from
// member k's features at every aggregation point, and the last fusion returns member k's own ε — the
// same function as member k's U-Net (features of the other experts are computed and multiplied by 0).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { throwIfCancelled } from '../common/errors.ts';
import { atOnce, type JobControl, type WorkUnit } from '../common/progress.ts';
import { buildLockStepGraph, type Expert } from '../ensemble/lock-step-graph.ts';
import { saveModel } from '../onnx/serialize.ts';
import { ModelSession, type SessionOptions } from '../runtime/onnx-runtime.ts';
import type { TrainingBatch } from './training-session.ts';

export interface ReferenceLosses {
  /** ε-MSE of member k alone, in the recipe's order. */
  readonly members: readonly number[];
  readonly uniformAverage: number;
}

/** Mean over micro-batches of equal size of mean((a − b)²) (float64 sums of float32 differences). */
function mse(prediction: Float32Array, target: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < prediction.length; i++) {
    const d = Math.fround(prediction[i]! - target[i]!);
    sum += d * d;
  }
  return sum / prediction.length;
}

/**
 * The validation ε-MSE of each member alone and of their uniform feature average. `unit` runs each of
 * them (its graph loaded, every batch, released) when it may: a training run's turns on the engine.
 */
export async function referenceLosses(
  experts: readonly Expert[],
  batches: readonly TrainingBatch[],
  scratch: string,
  options: { readonly session?: SessionOptions; readonly unit?: WorkUnit } & JobControl = {},
): Promise<ReferenceLosses> {
  const unit = options.unit ?? atOnce;
  const K = experts.length;
  const fusions: (readonly number[] | undefined)[] = [...Array.from({ length: K }, (_, k) => Array.from({ length: K }, (_, j) => (j === k ? 1 : 0))), undefined];
  const losses: number[] = [];
  mkdirSync(scratch, { recursive: true });
  for (const [index, weights] of fusions.entries()) {
    throwIfCancelled(options.signal);
    options.onProgress?.({ phase: 'reference', done: index, total: fusions.length, unit: 'items', message: index < K ? `Validating member ${index + 1} alone` : 'Validating the uniform average' });
    const name = `reference_${index}`;
    const loss = await unit(async () => {
      const graph = buildLockStepGraph(experts, weights ? { kind: 'mean', weights } : { kind: 'mean' }, { name });
      const saved = saveModel(graph, { dir: scratch, modelFile: `${name}.onnx`, weightsFile: `${name}.weights` });
      const session = await ModelSession.create(saved.modelPath, options.session);
      try {
        let sum = 0;
        for (const batch of batches) {
          const { noise_pred } = await session.run({ sample: batch.sample, timestep: batch.timestep, encoder_hidden_states: batch.context }, ['noise_pred']);
          sum += mse(noise_pred!.data as Float32Array, batch.target.data);
        }
        return sum / batches.length;
      } finally {
        await session.release();
        rmSync(join(scratch, `${name}.onnx`), { force: true });
        rmSync(join(scratch, `${name}.weights`), { force: true });
      }
    });
    losses.push(loss);
  }
  return { members: losses.slice(0, K), uniformAverage: losses[K]! };
}
