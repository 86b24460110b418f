// The shared golden cases with every graph computing in float16 (`npm run golden -- --precision fp16`),
// on the CPU: onnxruntime runs a float16 graph there with float32 kernels between float16 tensors, so
// every activation is rounded to float16 as a GPU's would be. Each output is held to float16's rule in
// provider-tolerance.ts (2^13 × the manifest's measured float32-vs-float64 difference); the kinds that
// compute in float32 only (training, checkpoint import, merges) are reported skipped, never passed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openGoldenSession } from './golden-runner.ts';
import { formatDetails } from './report-format.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const goldenDir = join(repoRoot, '..', 'shared', 'golden');

const session = await openGoldenSession(goldenDir, { computeDtype: 'float16' });
after(() => session.close());

for (const testCase of session.cases) {
  test(`${testCase.id} [${testCase.kind}] in float16`, async (t) => {
    const result = await session.runCase(testCase.id);
    for (const output of result.outputs) t.diagnostic(`${output.name}: ${output.status} — ${output.message}`);
    if (result.status === 'skipped') {
      assert.match(result.error ?? '', /computes in float32 only/);
      return;
    }
    assert.equal(result.status, 'pass', [`${testCase.id}: ${result.status}`, ...formatDetails(result)].join('\n'));
  });
}

test('float16 runs every model kind and skips only the float32-only ones', async () => {
  const report = session.report();
  const ran = new Set(report.cases.filter((result) => result.status === 'pass').map((result) => result.kind));
  for (const kind of ['text_encoder', 'unet', 'unet_blocks', 'vae_decode', 'vae_encode', 'afa_forward', 'afa_pipeline', 'sd_pipeline', 'baseline_eps_average']) {
    assert.ok(ran.has(kind), `${kind} ran in float16`);
  }
  assert.deepEqual([...report.float32OnlyKinds].sort(), ['afa_train_step', 'baseline_mbw', 'baseline_weighted_merge', 'scheduler_add_noise', 'scheduler_chain', 'scheduler_timesteps', 'single_file_checkpoint', 'tokenizer']);
  // Float16 really ran: a float32 graph meets the manifest's atol, float16 needs its own rule.
  const unet = report.cases.find((result) => result.id === 'unet/expert1/t500');
  assert.ok(unet?.worst && unet.worst.maxAbsError! > 1e-4, `the U-Net's error (${unet?.worst?.maxAbsError}) is float16's, not float32's`);
});
