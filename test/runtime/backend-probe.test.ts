import assert from 'node:assert/strict';
import { platform } from 'node:os';
import { test } from 'node:test';
import { probeBackends } from '../../app/runtime/backend-probe.ts';
import { listBackends } from '../../app/runtime/onnx-runtime.ts';

test('the probe keeps what the build lacks, opens a model on every listed provider, and says why one fails', async () => {
  const probed = await probeBackends();
  assert.deepEqual(probed.map((b) => b.backend), listBackends().map((b) => b.backend));
  assert.ok(probed.find((b) => b.backend === 'cpu')?.available);
  for (const info of probed) {
    if (!info.available) assert.ok(info.reason && info.reason.length > 10 && !info.reason.includes('onnxruntime_src'), `${info.backend}: ${info.reason}`);
    // A provider the probe keeps must be one the build lists.
    if (info.available) assert.ok(listBackends().find((b) => b.backend === info.backend)?.available);
  }
  if (platform() !== 'win32') assert.equal(probed.find((b) => b.backend === 'dml')?.available, false);
  assert.equal(await probeBackends(), await probeBackends(), 'probed once per process');
});
