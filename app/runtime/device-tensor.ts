// Tensors that stay in a GPU provider's memory between runs, and the count of large copies between the
// host and the device. A DeviceTensor is a handle: the onnxruntime tensor (location 'gpu-buffer') lives
// on the inference thread (inference-worker.ts), in its table of device tensors, until disposed; the
// caller holds only its id, dtype and shape. Feeding a handle to a run on the same provider costs no copy.
import type { DType, Tensor } from '../tensor/tensor.ts';
import { sizeOf } from '../tensor/tensor.ts';
import type { Backend } from './onnx-runtime.ts';

export interface DeviceTensor {
  /** Id in the inference thread's table of device tensors. */
  readonly device: number;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** A feed that is either in host memory (copied to the device by the run) or already on the device. */
export type Feed = Tensor | DeviceTensor;

export function isDeviceTensor(value: Feed): value is DeviceTensor {
  return (value as Partial<DeviceTensor>).device !== undefined;
}

/**
 * Providers whose sessions keep their outputs on the device ('gpu-buffer') and take device tensors as
 * feeds. onnxruntime-node 1.30 supports it for WebGPU (verified: a session's gpu-buffer output fed to
 * another session of the same process, read back by a third). CUDA and DirectML have no gpu-buffer
 * tensors in the Node binding.
 */
export const DEVICE_RESIDENT_BACKENDS: ReadonlySet<Backend> = new Set(['webgpu']);

/**
 * Tensors of at least this many elements count as large transfers. Every per-step tensor of the loop is
 * larger (latents [1, 4, h, w] are 1024 elements at the smallest size the studio makes, 64²… 128²
 * pixels: 4 · 16 · 16), every scalar feed (timesteps, sampler coefficients, the guidance scale) smaller.
 */
export const LARGE_TRANSFER_ELEMENTS = 1024;

/** Large copies in each direction, counted on the main thread as runs are issued. */
export interface TransferCount {
  readonly hostToDevice: number;
  readonly deviceToHost: number;
}

export class TransferCounter {
  hostToDevice = 0;
  deviceToHost = 0;

  /** Counts `tensors` as copies in `direction` when they are large. */
  add(direction: 'hostToDevice' | 'deviceToHost', tensors: Iterable<{ readonly shape: readonly number[] }>): void {
    for (const tensor of tensors) if (sizeOf(tensor.shape) >= LARGE_TRANSFER_ELEMENTS) this[direction]++;
  }

  snapshot(): TransferCount {
    return { hostToDevice: this.hostToDevice, deviceToHost: this.deviceToHost };
  }

  /** The copies since `before` (a snapshot of this counter). */
  since(before: TransferCount): TransferCount {
    return { hostToDevice: this.hostToDevice - before.hostToDevice, deviceToHost: this.deviceToHost - before.deviceToHost };
  }
}
