// Large host↔device copies of one denoising step (app/runtime/device-tensor.ts), as the two loops of
// app/pipeline/text-to-image.ts feed a U-Net (or an ensemble graph): the host loop sends the latents and
// the prompt embeddings up and reads the prediction back every step; the device-resident loop (GPU
// providers that keep tensors on the device) feeds device tensors and keeps the prediction there. The
// counts come from the runtime's own counter, on the bench's provider; the CPU has no device to copy to.
import type { BenchResult } from './bench-result.ts';
import { DEVICE_RESIDENT_BACKENDS, TransferCounter, type DeviceTensor, type Feed } from '../app/runtime/device-tensor.ts';
import { disposeDeviceTensors, uploadTensor, type ModelSession } from '../app/runtime/onnx-runtime.ts';
import type { Tensor } from '../app/tensor/tensor.ts';

/** `large`: the feeds the device-resident loop holds on the device (latents, embeddings). */
export async function measureStepCopies(session: ModelSession, feeds: Readonly<Record<string, Tensor>>, large: readonly string[], label: string): Promise<BenchResult[]> {
  if (session.backend === 'cpu') {
    return [{ name: `${label}: large copies per step (cpu: none, no device)`, value: 0, unit: 'copies' }];
  }
  const host = new TransferCounter();
  await session.run(feeds, ['noise_pred'], host);
  const results: BenchResult[] = [{ name: `${label}: large copies per step, host loop`, value: host.hostToDevice + host.deviceToHost, unit: `copies (${host.hostToDevice} up, ${host.deviceToHost} back)` }];
  if (DEVICE_RESIDENT_BACKENDS.has(session.backend)) {
    const setup = new TransferCounter();
    const mixed: Record<string, Feed> = { ...feeds };
    const uploaded: DeviceTensor[] = [];
    for (const name of large) {
      const tensor = await uploadTensor(feeds[name]!, session.backend, setup);
      uploaded.push(tensor);
      mixed[name] = tensor;
    }
    const step = new TransferCounter();
    const outputs = await session.runDevice(mixed, ['noise_pred'], ['noise_pred'], step);
    await disposeDeviceTensors([...uploaded, outputs.noise_pred as DeviceTensor]);
    const copies = step.hostToDevice + step.deviceToHost;
    results.push({ name: `${label}: large copies per step, device-resident loop`, value: copies, unit: 'copies', target: '0 (besides previews)', pass: copies === 0 });
  }
  return results;
}
