import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lagrangeBasisIntegral, LmsScheduler } from '../../app/schedulers/lms-scheduler.ts';
import { resolveSchedulerConfig } from '../../app/schedulers/scheduler-config.ts';
import type { LmsConfig } from '../../app/schedulers/scheduler-config.ts';

test('Lagrange basis integrals are exact for every order up to 4 (closed forms)', () => {
  // Order 1: ℓ ≡ 1.
  assert.equal(lagrangeBasisIntegral([3], 0, 3, 2), -1);
  // Order 2 through nodes a, b: ∫ (τ − b)/(a − b) dτ from a to c.
  const [a, b, c] = [2.5, 4, 1.75];
  const closed = ((c - b) ** 2 - (a - b) ** 2) / (2 * (a - b));
  assert.ok(Math.abs(lagrangeBasisIntegral([a, b], 0, a, c) - closed) < 1e-14);
  // Order 4: the basis polynomials sum to 1 and reproduce τ³ exactly.
  const nodes = [1.3, 2.1, 3.7, 6.2];
  const [from, to] = [1.3, 0.9];
  const integrals = nodes.map((_, k) => lagrangeBasisIntegral(nodes, k, from, to));
  assert.ok(Math.abs(integrals.reduce((sum, value) => sum + value, 0) - (to - from)) < 1e-13);
  const cubic = integrals.reduce((sum, value, k) => sum + value * nodes[k]! ** 3, 0);
  assert.ok(Math.abs(cubic - (to ** 4 - from ** 4) / 4) < 1e-12);
});

test('LMS coefficients of each step sum to σ_{i+1} − σ_i (a constant derivative is integrated exactly)', () => {
  const scheduler = new LmsScheduler(resolveSchedulerConfig('lms') as LmsConfig);
  scheduler.setTimesteps(20);
  for (let index = 0; index < 20; index++) {
    const order = Math.min(index + 1, 4);
    const sum = scheduler.coefficients(index, order).reduce((total, value) => total + value, 0);
    const expected = scheduler.sigmas[index + 1]! - scheduler.sigmas[index]!;
    assert.ok(Math.abs(sum - expected) < 1e-6 * Math.max(1, Math.abs(expected)), `step ${index}: ${sum} vs ${expected}`);
  }
});
