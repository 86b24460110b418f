// Run by backend-probe.test.ts in a child process: probes the providers, then asks for a WebGPU session
// by name, and prints both as JSON, so the test can also read what reached stderr.
import { probeBackends } from '../../app/runtime/backend-probe.ts';
import { ModelSession } from '../../app/runtime/onnx-runtime.ts';

const probed = await probeBackends();
let sessionError: string | undefined;
if (probed.some((info) => info.backend === 'webgpu')) {
  try {
    await (await ModelSession.create('/nonexistent/model.onnx', { backend: 'webgpu' })).release();
  } catch (error) {
    sessionError = `${(error as Error).name}: ${(error as Error).message}`;
  }
}
process.stdout.write(`${JSON.stringify({ probed, sessionError })}\n`);
