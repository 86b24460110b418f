// `auto`: a measured probe picks a working provider, the choice is stored per machine and reused.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { probeBackends } from '../../app/runtime/backend-probe.ts';
import { chooseProvider, machineKey, resolvePrecision, type ProviderChoice, type ProviderMeasurement } from '../../app/runtime/provider-choice.ts';
import { outputTail, runAdapterChild } from '../golden/adapter-child.ts';
import { softwareAdapterEnv } from '../golden/software-adapter.ts';
import { temporaryDirectory } from '../onnx/run-graph.ts';

const dir = temporaryDirectory('afa-provider-choice-');
after(() => rmSync(dir, { recursive: true, force: true }));

it('measures every working provider, picks the fastest and remembers it for this machine', async () => {
  const file = join(dir, 'provider-choice.json');
  const choice = await chooseProvider(file);
  const working = (await probeBackends()).filter((info) => info.available).map((info) => info.backend);
  assert.ok(working.includes(choice.backend), `${choice.backend} is one of the working providers ${working.join(', ')}`);
  const cpu = choice.measurements.find((entry) => entry.backend === 'cpu');
  assert.ok(cpu?.ms !== undefined && cpu.ms > 0, 'the CPU is always measured');
  const timed = choice.measurements.filter((entry) => entry.ms !== undefined);
  assert.equal(choice.backend, timed.reduce((best, entry) => (entry.ms! < best.ms! ? entry : best)).backend);
  for (const entry of choice.measurements) if (entry.ms === undefined) assert.ok(entry.reason, `${entry.backend} says why it was not measured`);
  assert.equal(choice.machine, await machineKey());
  const stored = JSON.parse(readFileSync(file, 'utf8')) as { choices: Record<string, ProviderChoice> };
  assert.deepEqual(stored.choices[choice.machine], choice);
  assert.equal(choice.float16, choice.backend === 'cpu' ? undefined : choice.measurements.find((entry) => entry.backend === choice.backend)?.float16Ms !== undefined);
});

it("'auto' precision is float32 on a provider the probe found unable to compute in float16", () => {
  const measured = (float16: boolean | undefined): ProviderChoice => ({ backend: 'webgpu', ...(float16 === undefined ? {} : { float16 }), machine: 'm', measurements: [], decidedAt: 'now' });
  assert.equal(resolvePrecision('auto', measured(false)), 'fp32');
  assert.equal(resolvePrecision('auto', measured(true)), 'auto');
  assert.equal(resolvePrecision('auto', measured(undefined)), 'auto', 'a choice stored before float16 was measured: the runtime finds out');
  assert.equal(resolvePrecision('auto', undefined), 'auto', 'a provider picked by name');
  assert.equal(resolvePrecision('fp16', measured(false)), 'fp16', 'asked for by name: the runtime falls back once if it must');
});

it('the probe measures WebGPU in float16 too, and says why SwiftShader cannot', { timeout: 300_000 }, async (t) => {
  const env = softwareAdapterEnv();
  if (!env) return assert.fail('SwiftShader is not installed (apt-get install chromium): the software WebGPU adapter is missing');
  const run = await runAdapterChild(new URL('./provider-float16-child.ts', import.meta.url), [], { env, deadlineMs: 240_000 });
  assert.equal(run.status, 0, outputTail(run, 30));
  const { measurements } = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { measurements: ProviderMeasurement[] };
  const webgpu = measurements.find((entry) => entry.backend === 'webgpu');
  t.diagnostic(JSON.stringify(webgpu));
  assert.ok(webgpu?.ms !== undefined, `WebGPU runs the float32 probe on SwiftShader: ${JSON.stringify(webgpu)}`);
  // SwiftShader's Vulkan driver has no float16 shaders (shader-f16): onnxruntime refuses the session.
  assert.equal(webgpu.float16Ms, undefined);
  assert.match(webgpu.float16Reason ?? '', /f16/);
  assert.equal(measurements.find((entry) => entry.backend === 'cpu')?.float16Ms, undefined, 'the CPU is not measured in float16');
});

it('reuses a stored choice without measuring again, keeps other machines’ choices, and re-measures on request', async () => {
  const file = join(dir, 'shared-home.json');
  const machine = await machineKey();
  const remembered: ProviderChoice = { backend: 'cpu', machine, measurements: [{ backend: 'cpu', ms: 1 }], decidedAt: 'remembered' };
  const other: ProviderChoice = { backend: 'cuda', machine: 'another-host linux-x64', measurements: [], decidedAt: 'elsewhere' };
  writeFileSync(file, JSON.stringify({ choices: { [machine]: remembered, [other.machine]: other } }));
  assert.deepEqual(await chooseProvider(file), remembered);
  const fresh = await chooseProvider(file, { remeasure: true });
  assert.notEqual(fresh.decidedAt, 'remembered');
  const stored = JSON.parse(readFileSync(file, 'utf8')) as { choices: Record<string, ProviderChoice> };
  assert.deepEqual(stored.choices[other.machine], other);
  assert.equal(stored.choices[machine]?.decidedAt, fresh.decidedAt);
});
