import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alphasCumprodOf, betasOf, cumulativeAlphas, rescaleZeroTerminalSnr, torchLinspaceFloat32 } from '../../app/schedulers/beta-schedule.ts';
import { resolveNoiseScheduleConfig } from '../../app/schedulers/scheduler-config.ts';

test('torch.linspace emulation: exact endpoints, increasing, within one float32 ulp of the ideal value', () => {
  for (const [start, end, steps] of [[0, 1, 1000], [0.0291547594742265, 0.109544511501033, 1000], [0.0001, 0.02, 17], [2, 3, 5]] as const) {
    const values = torchLinspaceFloat32(start, end, steps);
    assert.equal(values[0], Math.fround(start));
    assert.equal(values[steps - 1], Math.fround(end));
    for (let i = 1; i < steps; i++) {
      assert.ok(values[i]! > values[i - 1]!, `increasing at ${i}`);
      const ideal = start + ((end - start) * i) / (steps - 1);
      assert.ok(Math.abs(values[i]! - ideal) <= 2 * Math.abs(ideal) * 2 ** -23, `${start}…${end}[${i}]`);
    }
  }
  assert.deepEqual(Array.from(torchLinspaceFloat32(1, 2, 1)), [1]);
});

test('β schedules: scaled_linear ends at βstart/βend, linear is linear, cosine follows ᾱ(t) = cos²', () => {
  const scaled = betasOf(resolveNoiseScheduleConfig());
  assert.ok(Math.abs(scaled[0]! - 0.00085) < 1e-9 && Math.abs(scaled[999]! - 0.012) < 1e-9);
  const linear = betasOf({ ...resolveNoiseScheduleConfig(), betaSchedule: 'linear', betaStart: 0.0001, betaEnd: 0.02 });
  assert.ok(Math.abs(linear[500]! - (0.0001 + (0.0199 * 500) / 999)) < 1e-9);
  const cosine = alphasCumprodOf({ ...resolveNoiseScheduleConfig(), betaSchedule: 'squaredcos_cap_v2' });
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2 / Math.cos((0.008 / 1.008) * (Math.PI / 2)) ** 2;
  assert.ok(Math.abs(cosine[499]! - alphaBar(500 / 1000)) < 1e-5);
});

test('cumprod accumulates in float64 and rounds each prefix, as torch does for float32 on the CPU', () => {
  const betas = Float32Array.from({ length: 50 }, (_, i) => 0.01 + i * 0.001);
  const ours = cumulativeAlphas(betas);
  let product = 1;
  betas.forEach((beta, i) => {
    product *= Math.fround(1 - beta);
    assert.equal(ours[i], Math.fround(product));
  });
});

test('zero-terminal-SNR rescaling makes ᾱ_{T−1} = 0 and keeps ᾱ_0', () => {
  const betas = betasOf(resolveNoiseScheduleConfig());
  const rescaled = cumulativeAlphas(rescaleZeroTerminalSnr(betas));
  const original = cumulativeAlphas(betas);
  assert.equal(rescaled[999], 0);
  assert.ok(Math.abs(rescaled[0]! - original[0]!) < 1e-6);
  for (let i = 1; i < 1000; i++) assert.ok(rescaled[i]! <= rescaled[i - 1]!);
});
