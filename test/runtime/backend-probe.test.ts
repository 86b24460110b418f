import assert from 'node:assert/strict';
import { platform } from 'node:os';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { probeBackends } from '../../app/runtime/backend-probe.ts';
import { listBackends, type BackendInfo } from '../../app/runtime/onnx-runtime.ts';
import { NO_VULKAN_LOADER, vulkanLoaderFound } from '../../app/runtime/vulkan-loader.ts';

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

test('on Linux without a Vulkan loader, WebGPU says what to install, in the probe and when asked for, and nothing reaches stderr', { timeout: 120_000 }, (t) => {
  if (platform() !== 'linux') return t.skip('Linux only');
  // As a user's machine without the loader: no LD_LIBRARY_PATH (the software-adapter tests add chromium's).
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.LD_LIBRARY_PATH;
  delete env.VK_ICD_FILENAMES;
  if (vulkanLoaderFound({ env })) return t.skip('this machine has a Vulkan loader installed');
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./probe-child.ts', import.meta.url))], { env, encoding: 'utf8', timeout: 110_000 });
  assert.equal(child.status, 0, child.stderr);
  const { probed, sessionError } = JSON.parse(child.stdout) as { probed: BackendInfo[]; sessionError?: string };
  const webgpu = probed.find((info) => info.backend === 'webgpu');
  if (webgpu) {
    assert.deepEqual(webgpu, { backend: 'webgpu', available: false, reason: `No usable device: ${NO_VULKAN_LOADER}` });
    // Asked for by name: an engine error (a job falls back to the CPU) that says what to install.
    assert.match(sessionError ?? '', /^EngineError: The 'webgpu' execution provider has no usable device: the Vulkan loader \(libvulkan\.so\.1\) is not installed\. Install .*libvulkan1/);
  }
  assert.doesNotMatch(child.stderr, /Vulkan/, 'Dawn printed to the terminal');
});
