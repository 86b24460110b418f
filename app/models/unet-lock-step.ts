// Runs one U-Net through its layer graphs (buildUnetLayerGraphs), point after point, keeping the skip
// stack on the host exactly as the whole graph keeps it inside. This is the single-expert form of AFA's
// lock-step loop: an ensemble does the same with K experts and fuses their features after each point.
import { throwIfCancelled } from '../common/errors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { ModelSession } from '../runtime/onnx-runtime.ts';
import type { UnetConfig } from './unet-config.ts';
import { unetLayout, upsampleSizeFrom } from './unet-layout.ts';

export interface UnetLayerSessions {
  /** The time-embedding graph: timestep → time_proj, temb. */
  readonly timeEmbedding: ModelSession;
  /** One session per aggregation point, by point index. */
  readonly points: readonly ModelSession[];
}

export interface UnetLockStepInputs {
  readonly sample: Tensor<'float32'>;
  /** float32 [batch] (see unetTimestep). */
  readonly timestep: Tensor<'float32'>;
  readonly encoderHiddenStates: Tensor<'float32'>;
}

/**
 * ε for one step. `onTime` and `onPoint(index, feature)` see the intermediate tensors (the per-point
 * golden dump checks them); `signal` is checked between points.
 */
export async function runUnetLockStep(
  sessions: UnetLayerSessions,
  config: UnetConfig,
  inputs: UnetLockStepInputs,
  options: { readonly onPoint?: (index: number, feature: Tensor) => void; readonly onTime?: (timeProj: Tensor, temb: Tensor) => void; readonly signal?: AbortSignal } = {},
): Promise<Tensor<'float32'>> {
  const time = await sessions.timeEmbedding.run({ timestep: inputs.timestep });
  options.onTime?.(time.time_proj, time.temb);
  const outputs: (Tensor | undefined)[] = [];
  let hidden: Tensor = inputs.sample;
  const layout = unetLayout(config);
  for (const point of layout) {
    throwIfCancelled(options.signal);
    const feeds: Record<string, Tensor> = { hidden, temb: time.temb, context: inputs.encoderHiddenStates };
    const skip = point.skipFrom >= 0 ? outputs[point.skipFrom] : undefined;
    if (skip) feeds.skip = skip;
    const upsampleTo = outputs[upsampleSizeFrom(layout, point)];
    if (upsampleTo) feeds.upsample_to = upsampleTo;
    hidden = (await sessions.points[point.index].run(feeds)).feature;
    // Only down-side outputs are needed later (as skips); others are dropped to bound memory.
    outputs.push(point.pushesSkip ? hidden : undefined);
    options.onPoint?.(point.index, hidden);
  }
  return hidden as Tensor<'float32'>;
}
