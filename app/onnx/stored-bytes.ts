// Raw little-endian bytes of a tensor in the dtype it is stored as in an ONNX file (TensorProto.raw_data
// or external data). Float weights may change width on the way (fp32 ↔ fp16, bf16/fp64 → fp32), rounded
// to nearest even as torch's .half() does (app/tensor/cast.ts).
import { UserError } from '../common/errors.ts';
import { castFloat, isFloatDType } from '../tensor/cast.ts';
import type { DType, Tensor } from '../tensor/tensor.ts';

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function storedBytes(tensor: Tensor, storedDtype: DType): Uint8Array {
  if (tensor.dtype === storedDtype) return bytesOf(tensor.data);
  if (!isFloatDType(tensor.dtype) || (storedDtype !== 'float32' && storedDtype !== 'float16')) {
    throw new UserError('unsupported', `Cannot store a ${tensor.dtype} tensor as ${storedDtype}.`);
  }
  return bytesOf(castFloat(tensor, storedDtype).data);
}
