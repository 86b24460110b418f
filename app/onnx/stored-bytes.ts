// Raw little-endian bytes of a tensor in the dtype it is stored as in an ONNX file (TensorProto.raw_data
// or external data). Float weights may change width on the way (fp32 ↔ fp16, bf16/fp64 → fp32).
import { UserError } from '../common/errors.ts';
import type { DType, Tensor } from '../tensor/tensor.ts';
import { isFloat } from './graph.ts';
import { float16BitsToFloat32, float32BitsToFloat16Bits } from './half-float.ts';

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The tensor's values as float32 (16-bit floats are decoded from their bit patterns). */
function toFloat32(tensor: Tensor): Float32Array {
  switch (tensor.dtype) {
    case 'float32':
      return tensor.data as Float32Array;
    case 'float64':
      return Float32Array.from(tensor.data as Float64Array);
    case 'float16': {
      const bits = tensor.data as Uint16Array;
      const out = new Float32Array(bits.length);
      for (let i = 0; i < bits.length; i++) out[i] = float16BitsToFloat32(bits[i]);
      return out;
    }
    case 'bfloat16': {
      // bfloat16 is the top half of a float32: shift the bits into place.
      const bits = tensor.data as Uint16Array;
      const out = new Uint32Array(bits.length);
      for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
      return new Float32Array(out.buffer);
    }
    default:
      throw new UserError('unsupported', `Cannot convert a ${tensor.dtype} tensor to float32.`);
  }
}

export function storedBytes(tensor: Tensor, storedDtype: DType): Uint8Array {
  if (tensor.dtype === storedDtype) return bytesOf(tensor.data);
  if (!isFloat(tensor.dtype) || (storedDtype !== 'float32' && storedDtype !== 'float16')) {
    throw new UserError('unsupported', `Cannot store a ${tensor.dtype} tensor as ${storedDtype}.`);
  }
  const values = toFloat32(tensor);
  if (storedDtype === 'float32') return bytesOf(values);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const half = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) half[i] = float32BitsToFloat16Bits(bits[i]);
  return bytesOf(half);
}
