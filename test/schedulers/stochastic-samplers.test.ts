// Euler ancestral and DDIM with η > 0 add noise at every step. It comes from StepOptions: the given
// tensor (golden tests), or stream i + 1 of the generation's seed — so results depend on the seed and
// the step index only, never on what else drew random numbers before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../../app/common/errors.ts';
import { randn, stepNoise } from '../../app/schedulers/noise.ts';
import { createScheduler, isStochastic } from '../../app/schedulers/registry.ts';
import type { Scheduler } from '../../app/schedulers/scheduler.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';

const SHAPE = [1, 4, 8, 8];

function chain(scheduler: Scheduler, options: (index: number) => { seed?: number; noise?: Tensor<'float32'> }): Float32Array {
  scheduler.setTimesteps(8);
  let x = randn(SHAPE, 11);
  scheduler.timesteps.forEach((timestep, index) => {
    x = scheduler.step(randn(SHAPE, 12, index), timestep, x, options(index)).prevSample;
  });
  return x.data;
}

for (const [name, overrides] of [
  ['euler-a', {}],
  ['ddim', { eta: 1 }],
] as const) {
  test(`${name}${'eta' in overrides ? ' η = 1' : ''}: the seed's step streams equal the explicit step noise`, () => {
    const seeded = chain(createScheduler(name, overrides), () => ({ seed: 77 }));
    const explicit = chain(createScheduler(name, overrides), (index) => ({ noise: stepNoise(SHAPE, 77, index) }));
    assert.deepEqual(seeded, explicit);
    assert.notDeepEqual(chain(createScheduler(name, overrides), () => ({ seed: 78 })), seeded);
  });

  test(`${name}${'eta' in overrides ? ' η = 1' : ''}: a stochastic step without seed or noise is an EngineError`, () => {
    const scheduler = createScheduler(name, overrides);
    assert.ok(isStochastic(scheduler.config));
    scheduler.setTimesteps(5);
    const x = randn(SHAPE, 1);
    assert.throws(() => scheduler.step(x, scheduler.timesteps[0]!, x), EngineError);
    assert.throws(() => scheduler.step(x, scheduler.timesteps[0]!, x, { noise: randn([3], 1) }), EngineError);
  });
}

test('DDIM η = 0 is deterministic: it needs no noise and ignores a seed', () => {
  const scheduler = createScheduler('ddim');
  assert.equal(isStochastic(scheduler.config), false);
  const plain = chain(scheduler, () => ({}));
  assert.deepEqual(chain(createScheduler('ddim'), () => ({ seed: 5 })), plain);
});

test('DDIM η = 1 adds σ_t·z with σ_t² = (1−ᾱ_prev)/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_prev)', () => {
  const deterministic = createScheduler('ddim', { eta: 0 });
  const stochastic = createScheduler('ddim', { eta: 1 });
  deterministic.setTimesteps(10);
  stochastic.setTimesteps(10);
  const t = 501;
  const x = randn(SHAPE, 2);
  const epsilon = randn(SHAPE, 3);
  const z = randn(SHAPE, 4);
  const withNoise = stochastic.step(epsilon, t, x, { noise: z });
  const zeroNoise = stochastic.step(epsilon, t, x, { noise: { dtype: 'float32', shape: SHAPE, data: new Float32Array(z.data.length) } });
  const alphasCumprod = (deterministic as unknown as { alphasCumprod: Float32Array }).alphasCumprod;
  const alphaT = alphasCumprod[501]!;
  const alphaPrev = alphasCumprod[401]!;
  const sigma = Math.sqrt(((1 - alphaPrev) / (1 - alphaT)) * (1 - alphaT / alphaPrev));
  for (let i = 0; i < z.data.length; i++) {
    assert.ok(Math.abs(withNoise.prevSample.data[i]! - zeroNoise.prevSample.data[i]! - sigma * z.data[i]!) < 1e-5);
  }
  // The same x0 estimate; the deterministic part moves less of ε along with it when η > 0.
  assert.deepEqual(withNoise.predOriginalSample!.data, deterministic.step(epsilon, t, x).predOriginalSample!.data);
});

test('Euler ancestral: the last step (σ_next = 0) lands on the x0 estimate and needs no noise', () => {
  const scheduler = createScheduler('euler-a');
  scheduler.setTimesteps(6);
  const last = scheduler.timesteps.at(-1)!;
  const x = randn(SHAPE, 5);
  const result = scheduler.step(randn(SHAPE, 6), last, x);
  assert.deepEqual(result.prevSample.data, result.predOriginalSample!.data);
});
