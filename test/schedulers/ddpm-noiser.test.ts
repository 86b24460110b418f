import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../app/common/errors.ts';
import { DdpmNoiser } from '../../app/schedulers/ddpm-noiser.ts';
import { randn } from '../../app/schedulers/noise.ts';
import { resolveNoiseScheduleConfig } from '../../app/schedulers/scheduler-config.ts';

test('addNoise and velocity use ᾱ of each row’s own timestep', () => {
  const noiser = new DdpmNoiser(resolveNoiseScheduleConfig());
  const x0 = randn([3, 2, 2], 1);
  const epsilon = randn([3, 2, 2], 2);
  const timesteps = [0, 500, 999];
  const noisy = noiser.addNoise(x0, epsilon, timesteps);
  const velocity = noiser.velocity(x0, epsilon, timesteps);
  for (let i = 0; i < 12; i++) {
    const alphaBar = noiser.alphasCumprod[timesteps[Math.floor(i / 4)]!]!;
    const [a, b] = [Math.sqrt(alphaBar), Math.sqrt(1 - alphaBar)];
    assert.ok(Math.abs(noisy.data[i]! - (a * x0.data[i]! + b * epsilon.data[i]!)) < 1e-6);
    assert.ok(Math.abs(velocity.data[i]! - (a * epsilon.data[i]! - b * x0.data[i]!)) < 1e-6);
  }
  assert.deepEqual(noisy.shape, [3, 2, 2]);
});

test('the training target follows the prediction type', () => {
  const x0 = randn([1, 4], 1);
  const epsilon = randn([1, 4], 2);
  assert.equal(new DdpmNoiser(resolveNoiseScheduleConfig()).trainingTarget(x0, epsilon, [10]), epsilon);
  const v = new DdpmNoiser(resolveNoiseScheduleConfig({ predictionType: 'v_prediction' }));
  assert.deepEqual(v.trainingTarget(x0, epsilon, [10]).data, v.velocity(x0, epsilon, [10]).data);
});

test('mismatched noise, timestep counts and timesteps outside the table are UserErrors', () => {
  const noiser = new DdpmNoiser(resolveNoiseScheduleConfig());
  const x0 = randn([2, 4], 1);
  assert.throws(() => noiser.addNoise(x0, randn([2, 3], 2), [1, 2]), UserError);
  assert.throws(() => noiser.addNoise(x0, randn([2, 4], 2), [1]), UserError);
  assert.throws(() => noiser.addNoise(x0, randn([2, 4], 2), [1, 1000]), UserError);
  assert.throws(() => noiser.addNoise(x0, randn([2, 4], 2), [1, 2.5]), UserError);
});
