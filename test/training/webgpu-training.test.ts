// Training graphs on the WebGPU execution provider, against the CPU's: run in a child process whose
// environment points the Vulkan loader at the software (SwiftShader) driver Debian's chromium package
// ships, so CI machines without a GPU still have a WebGPU adapter (correctness only, never speed).
//
// Tolerance: WebGPU's kernels sum in other orders (tiled matrix products, workgroup reductions) and use
// their own exp/erf, so float32 results differ from the CPU's in the last bits and those differences are
// carried through the backward pass. Measured on SwiftShader: worst 1.1e-4 (an aggregator's time_emb_proj.weight), 1.5e-5 for a U-Net point, 1.4e-6 for the
// text encoder (its embeddings' gradients by ScatterElements-add over repeated ids); the
// test allows 1e-3 (of each gradient's largest entry, plus 1e-3 of the module's largest gradient).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { markedReport, outputTail, runAdapterChild } from '../golden/adapter-child.ts';
import { softwareAdapterEnv, SWIFTSHADER_ICD_FILES } from '../golden/software-adapter.ts';
import { RESULT_MARKER, type ProviderComparison } from './training-on-provider.ts';

test('training graphs on WebGPU (software adapter) match the CPU’s gradients', { timeout: 600_000 }, async (t) => {
  const env = softwareAdapterEnv();
  assert.ok(env, `No Vulkan driver for a WebGPU adapter: ${SWIFTSHADER_ICD_FILES.join(', ')} is missing. Install Debian's chromium package (apt-get install chromium), as .ci/run does.`);
  const run = await runAdapterChild(new URL('./training-on-provider.ts', import.meta.url), ['webgpu'], { env, deadlineMs: 540_000 });
  const results = markedReport<ProviderComparison[]>(run, RESULT_MARKER);
  assert.ok(results, `the WebGPU training run failed (status ${run.status}, signal ${run.signal}${run.timedOut ? ', past its deadline' : ''}):\n${outputTail(run, 40)}`);
  for (const result of results) {
    t.diagnostic(`${result.name}: loss ${result.lossProvider} vs ${result.lossCpu}, worst gradient difference ${result.worstRelative.toExponential(2)} (${result.worstParameter})`);
    assert.ok(Math.abs(result.lossProvider - result.lossCpu) <= 1e-5 * Math.abs(result.lossCpu), `${result.name}: loss ${result.lossProvider} vs ${result.lossCpu}`);
    assert.ok(result.worstRelative <= 1e-3, `${result.name}: gradients differ by ${result.worstRelative} (${result.worstParameter})`);
  }
});
