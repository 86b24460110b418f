// The CI-sized WebGPU part of the golden suite: text encoder, U-Net, VAE, the AFA forward and one
// pipeline, run by the golden runner on the WebGPU provider and held to its written tolerance rule
// (test/golden/provider-tolerance.ts). On a machine without a GPU the runner reruns itself on SwiftShader's
// software Vulkan adapter (chromium's; CI installs it). It runs as a child process because the Vulkan
// loader's library path must be set before a process starts; the child has a deadline, so a provider
// that cannot start fails this test with the runner's own message instead of hanging it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { outputTail, runAdapterChild, SOFTWARE_ADAPTER_DEADLINE_MS as DEADLINE_MS } from './adapter-child.ts';
import type { GoldenReport } from './golden-runner.ts';
import { GPU_CI_CASES as WEBGPU_CI_CASES } from './gpu-cases.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const goldenDir = join(repoRoot, '..', 'shared', 'golden');

test('golden subset on WebGPU within the provider tolerance', { timeout: DEADLINE_MS + 30_000 }, async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'afa-golden-webgpu-'));
  try {
    const json = join(scratch, 'report.json');
    const args = [goldenDir, '--backend', 'webgpu', '--json', json, ...WEBGPU_CI_CASES.flatMap((id) => ['--case', id])];
    // The runner finds the adapter itself (a GPU's, else it reruns itself on SwiftShader's): its environment is this one.
    const run = await runAdapterChild(join(repoRoot, 'test', 'golden', 'run-golden.ts'), args, { env: process.env, deadlineMs: DEADLINE_MS });
    const { status, timedOut } = run;
    const tail = outputTail(run, 40);
    assert.ok(!timedOut, `the WebGPU golden run passed its ${DEADLINE_MS / 60000}-minute deadline:\n${tail}`);
    assert.notEqual(status, 2, `the WebGPU golden run could not start (no adapter?):\n${tail}`);
    let report: GoldenReport;
    try {
      report = JSON.parse(readFileSync(json, 'utf8')) as GoldenReport;
    } catch (error) {
      assert.fail(`the WebGPU golden run wrote no report (exit ${status}: ${(error as Error).message}):\n${tail}`);
    }
    for (const result of report.cases) {
      t.diagnostic(`${result.id}: ${result.status}, worst ${result.worst?.name ?? '-'} ${result.worst?.maxAbsError ?? '-'} / ${result.worst?.atol ?? '-'} (${result.seconds.toFixed(1)} s)`);
    }
    assert.equal(report.cases.length, WEBGPU_CI_CASES.length, `expected ${WEBGPU_CI_CASES.length} cases, the report has ${report.cases.map((c) => c.id).join(', ')}`);
    assert.equal(status, 0, tail);
    assert.ok(report.ok);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
