import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContributionRecorder, recordedSteps } from '../../app/ensemble/contribution-recorder.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';

/** [2, 2, 1, 2] maps: batch row 1 (cond) has expert 0 dominant at pixel 0, expert 1 at pixel 1. */
function map(values: number[]): Tensor<'float32'> {
  return { dtype: 'float32', shape: [2, 2, 1, 2], data: Float32Array.from(values) };
}

describe('contribution maps', () => {
  it('keep at most 10 evenly spaced steps, always the last', () => {
    assert.deepEqual([...recordedSteps(4)], [0, 1, 2, 3]);
    const steps = [...recordedSteps(50)].sort((a, b) => a - b);
    assert.equal(steps.length, 10);
    assert.equal(steps.at(-1), 49);
  });

  it('average the full-resolution maps of the conditional row and record the dominant expert per pixel', () => {
    const recorder = new ContributionRecorder([{ modelId: 'a', name: 'A' }, { modelId: 'b', name: 'B' }]);
    // Unconditional row says the opposite; it must be ignored. A half-resolution map is ignored too.
    const lowRes: Tensor<'float32'> = { dtype: 'float32', shape: [2, 2, 1, 1], data: Float32Array.from([0, 1, 0, 1]) };
    recorder.record(0, 1, [map([0.1, 0.9, 0.9, 0.1, 0.8, 0.4, 0.2, 0.6]), map([0, 1, 1, 0, 0.6, 0.2, 0.4, 0.8]), lowRes]);
    const parsed = JSON.parse(recorder.extras()!.contributions as string) as { width: number; steps: { dominant: string; shares: number[] }[] };
    assert.equal(parsed.width, 2);
    assert.deepEqual([...Buffer.from(parsed.steps[0]!.dominant, 'base64')], [0, 1]);
    assert.deepEqual(parsed.steps[0]!.shares, [0.5, 0.5]);
    recorder.reset();
    assert.equal(recorder.extras(), undefined);
  });
});
