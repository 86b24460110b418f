// `auto`: a measured probe picks a working provider, the choice is stored per machine and reused.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { probeBackends } from '../../app/runtime/backend-probe.ts';
import { chooseProvider, machineKey, resolveBackend, type ProviderChoice } from '../../app/runtime/provider-choice.ts';
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
  assert.equal(await resolveBackend('auto', file), choice.backend);
  assert.equal(await resolveBackend('cpu', file), 'cpu');
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
