// The device loop's step graph against the samplers' own host steps: guidance, the LinearStep
// coefficients (DDIM, Euler, Euler ancestral with its seeded noise) and the next model input, run by
// onnxruntime on the CPU (the same graph the WebGPU loop runs; device-resident.test.ts runs it there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyGuidance } from '../../app/pipeline/guidance.ts';
import { buildInputGraph, buildStepGraph, stepGraphFile } from '../../app/pipeline/device-steps.ts';
import { ModelSession } from '../../app/runtime/onnx-runtime.ts';
import { randn, stepNoise } from '../../app/schedulers/noise.ts';
import { createScheduler } from '../../app/schedulers/registry.ts';
import type { SchedulerName } from '../../app/schedulers/scheduler-config.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import { temporaryDirectory } from './tiny-model.ts';

const SHAPE = [1, 4, 8, 8];
const STEPS = 5;
const GUIDANCE = 7.5;
const SEED = 99;

const scalar = (value: number): Tensor<'float32'> => ({ dtype: 'float32', shape: [], data: Float32Array.of(value) });

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

for (const sampler of ['ddim', 'euler', 'euler-a'] as const satisfies readonly SchedulerName[]) {
  test(`${sampler}: the step graph makes the host step's latents and the next model input`, async (t) => {
    const root = temporaryDirectory(t, 'afa-step-graphs-');
    const scheduler = createScheduler(sampler);
    scheduler.setTimesteps(STEPS);
    const host = createScheduler(sampler);
    host.setTimesteps(STEPS);
    const linear = scheduler.timesteps.map((_, index) => scheduler.linearStep!(index)!);
    const noisy = linear.some((entry) => entry.step.noise !== 0);
    assert.equal(noisy, sampler === 'euler-a');
    const step = await ModelSession.create(stepGraphFile(buildStepGraph({ guided: true, noisy }), root));
    const input = await ModelSession.create(stepGraphFile(buildInputGraph(true), root));
    t.after(() => Promise.all([step.release(), input.release()]));
    const noiseSize = 4 * 8 * 8;
    const allNoise = new Float32Array(STEPS * noiseSize);
    for (let index = 0; index < STEPS; index++) allNoise.set(stepNoise(SHAPE, SEED, index).data, index * noiseSize);

    let sample = randn(SHAPE, SEED);
    // The first model input: scaleModelInput of [x, x].
    const first = (await input.run({ sample, input_scale: scalar(linear[0]!.inputScale) })).model_input as Tensor<'float32'>;
    const expectedFirst = host.scaleModelInput({ dtype: 'float32', shape: [2, 4, 8, 8], data: new Float32Array([...sample.data, ...sample.data]) }, host.timesteps[0]!);
    assert.ok(maxAbsDiff(first.data, expectedFirst.data) <= 1e-6);
    for (const [index, timestep] of scheduler.timesteps.entries()) {
      const prediction = randn([2, 4, 8, 8], SEED + 1, index);
      const expected = host.step(applyGuidance(prediction, GUIDANCE), timestep, sample, { seed: SEED, stepIndex: index }).prevSample;
      const feeds: Record<string, Tensor> = {
        sample,
        model_output: prediction,
        a: scalar(linear[index]!.step.sample),
        b: scalar(linear[index]!.step.modelOutput),
        input_scale: scalar(linear[index + 1]?.inputScale ?? 1),
        guidance: scalar(GUIDANCE),
        ...(noisy ? { c: scalar(linear[index]!.step.noise), noise: { dtype: 'float32', shape: [STEPS, 4, 8, 8], data: allNoise }, step: { dtype: 'int64', shape: [1], data: BigInt64Array.of(BigInt(index)) } as Tensor } : {}),
      };
      const out = await step.run(feeds);
      const prev = out.prev_sample as Tensor<'float32'>;
      // Float32 rounding only: the coefficients fold the x0 form's divisions (values are O(1)–O(15)).
      const worst = maxAbsDiff(prev.data, expected.data);
      assert.ok(worst <= 2e-5 * Math.max(1, ...expected.data.map(Math.abs)), `${sampler} step ${index}: max |Δ| ${worst}`);
      const next = out.model_input as Tensor<'float32'>;
      assert.deepEqual(next.shape, [2, 4, 8, 8]);
      if (index + 1 < STEPS) {
        const expectedNext = host.scaleModelInput({ dtype: 'float32', shape: [2, 4, 8, 8], data: new Float32Array([...prev.data, ...prev.data]) }, host.timesteps[index + 1]!);
        assert.ok(maxAbsDiff(next.data, expectedNext.data) <= 1e-5 * Math.max(1, ...expectedNext.data.map(Math.abs)));
      }
      sample = expected;
    }
  });
}

test('samplers whose step is not a linear one say so (the loop keeps the host path)', () => {
  for (const name of ['dpmpp-2m', 'pndm', 'lms'] as const) {
    const scheduler = createScheduler(name);
    scheduler.setTimesteps(STEPS);
    assert.equal(scheduler.linearStep?.(0), undefined, name);
  }
  const clipped = createScheduler('ddim', { clipSample: true });
  clipped.setTimesteps(STEPS);
  assert.equal(clipped.linearStep?.(0), undefined);
});
