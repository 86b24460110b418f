// Device-resident denoising on WebGPU (text-to-image.ts generateOnDevice): a generation with
// classifier-free guidance makes no large host↔device copy in any step — only the previews read the
// latents back — and its image matches the CPU's within the WebGPU pixel rule of
// test/golden/provider-tolerance.ts. DDIM (deterministic) and Euler ancestral (every step's noise
// uploaded once per image); and an AFA recipe (three experts, one lock-step graph), whose contribution
// maps are the only thing a step reads back, and only at the steps the maps record. As in golden-webgpu.test.ts the work runs in a child (test/golden/adapter-child.ts)
// with SwiftShader's software adapter where the machine has no GPU (the Vulkan loader's library path is
// read at process start), under a deadline, so a provider that cannot start fails with its message instead
// of hanging.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { markedReport, outputTail, runAdapterChild, SOFTWARE_ADAPTER_DEADLINE_MS } from '../golden/adapter-child.ts';
import { softwareAdapterEnv } from '../golden/software-adapter.ts';
import { providerTolerance } from '../golden/provider-tolerance.ts';
import { MARKER, PREVIEW_EVERY, STEPS, type SamplerReport } from './device-resident-child.ts';

/**
 * SwiftShader compiles every WebGPU kernel with LLVM on first use and runs it on the CPU: one image of the
 * tiny model (128², 4 steps, CFG) took 110–180 s on the 2-core machine under other work (load 5–9); the
 * CPU references take seconds. The deadline is the golden WebGPU run's, for a slower machine; a provider
 * that cannot start fails at once (exit 2).
 */
const DEADLINE_MS = SOFTWARE_ADAPTER_DEADLINE_MS;

/** The golden experts' full-resolution aggregation points (0–2 and 21–24), whose maps the studio records. */
const RECORDED_MAPS = 7;

function checkDeviceLoop(t: { diagnostic(message: string): void }, report: SamplerReport): void {
  t.diagnostic(`${report.target} ${report.sampler}: max pixel diff ${report.maxPixelDiff}, copies per step ${JSON.stringify(report.device.perStep)}, total ${JSON.stringify(report.device.total)}, ${report.seconds.device.toFixed(1)} s${report.maxShareDiff !== undefined ? `, contribution shares within ${report.maxShareDiff.toExponential(2)} of the CPU's` : ''}`);
  const { device } = report;
  assert.equal(device.deviceResident, true, `${report.sampler} ran the host loop`);
  assert.equal(device.perStep.length, STEPS);
  // AFA: the recorded steps (all of these few) read back their weight maps, [2, 3, 16, 16] each; nothing else.
  const maps = report.target === 'afa' ? RECORDED_MAPS : 0;
  for (const [index, step] of device.perStep.entries()) {
    assert.deepEqual(step, { hostToDevice: 0, deviceToHost: maps }, `${report.sampler} step ${index} made other large copies`);
  }
  if (report.target === 'afa') {
    assert.deepEqual(report.recordedSteps, Array.from({ length: STEPS }, (_, i) => i));
    assert.ok(report.maxShareDiff !== undefined && report.maxShareDiff < 1e-3, `contribution shares differ from the CPU's by ${report.maxShareDiff}`);
  }
  const previews = Math.ceil(STEPS / PREVIEW_EVERY);
  assert.equal(device.previews, previews);
  // Per image, besides the previews: up go the initial latents, the step noise (Euler ancestral) and
  // the final latents into the VAE decoder; back come the final latents and the image.
  const noise = report.sampler === 'euler-a' ? 1 : 0;
  assert.deepEqual(device.total, { hostToDevice: 2 + noise, deviceToHost: previews + 2 + maps * STEPS });
  assert.equal(report.leftOnDevice, 0, `${report.sampler} left device tensors behind`);
  // 'auto' precision: float16 where the adapter has float16 shaders; SwiftShader has none, so the runtime
  // says so once and computes in float32 on WebGPU (not on the CPU), losing nothing.
  const { computeDtype, messages } = report.precision;
  if (computeDtype === 'float32') {
    assert.equal(messages.length, 1, messages.join('\n'));
    assert.match(messages[0]!, /^Float16 compute does not work on webgpu here \(.+\); computing in float32/);
  } else {
    assert.deepEqual(messages, []);
  }
  const pixelAtol = Math.max(providerTolerance('webgpu', computeDtype).pixelAtol, 3);
  assert.ok(report.maxPixelDiff <= pixelAtol, `${report.sampler}: WebGPU image differs from the CPU's by ${report.maxPixelDiff} levels (allowed ${pixelAtol})`);
}

async function reportsOf(args: readonly string[]): Promise<SamplerReport[]> {
  const run = await runAdapterChild(new URL('./device-resident-child.ts', import.meta.url), args, { env: softwareAdapterEnv() ?? process.env, deadlineMs: DEADLINE_MS });
  const tail = outputTail(run, 30);
  assert.ok(!run.timedOut, `the WebGPU child passed its ${DEADLINE_MS / 60000}-minute deadline:\n${tail}`);
  assert.notEqual(run.status, 2, `WebGPU could not start (no adapter?):\n${tail}`);
  assert.equal(run.status, 0, tail);
  const reports = markedReport<SamplerReport[]>(run, MARKER);
  assert.ok(reports, `the child printed no report:\n${tail}`);
  return reports;
}

test('WebGPU generation keeps the latents on the device: no large copy per step, the CPU image within tolerance', { timeout: DEADLINE_MS + 30_000 }, async (t) => {
  const reports = await reportsOf(['ddim', 'euler-a']);
  assert.deepEqual(reports.map((report) => report.sampler), ['ddim', 'euler-a']);
  for (const report of reports) checkDeviceLoop(t, report);
});

test('an AFA recipe (three experts, one lock-step graph) on WebGPU keeps the latents on the device too; only its contribution maps come back', { timeout: DEADLINE_MS + 30_000 }, async (t) => {
  const reports = await reportsOf(['ddim', '--afa']);
  assert.deepEqual(reports.map((report) => [report.target, report.sampler]), [['afa', 'ddim']]);
  checkDeviceLoop(t, reports[0]!);
});
