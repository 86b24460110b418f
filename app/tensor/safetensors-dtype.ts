// The dtype names of the safetensors format and how they map to the app's DType.
// Names and element sizes follow the format's reference implementation (huggingface/safetensors, `Dtype`).
import type { DType } from './tensor.ts';

/** Safetensors dtypes the studio reads and writes. */
export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'U8' | 'BOOL';

const TO_APP: Readonly<Record<SafetensorsDType, DType>> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
  I64: 'int64',
  I32: 'int32',
  U8: 'uint8',
  BOOL: 'bool',
};

const FROM_APP: Readonly<Record<DType, SafetensorsDType>> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  uint8: 'U8',
  bool: 'BOOL',
};

/**
 * Element sizes in bytes of every dtype the format defines, including those the studio cannot compute
 * with, so that a header naming them can still be validated (byte length = elements × size).
 * Sub-byte dtypes (F4, F6_*) are absent: their byte length is not elements × a whole size.
 */
const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
  C64: 8,
};

export function isSupportedSafetensorsDType(dtype: string): dtype is SafetensorsDType {
  return Object.hasOwn(TO_APP, dtype);
}

export function appDType(dtype: SafetensorsDType): DType {
  return TO_APP[dtype];
}

export function safetensorsDType(dtype: DType): SafetensorsDType {
  return FROM_APP[dtype];
}

/** Bytes per element of a dtype the format defines, or undefined for names it does not know. */
export function safetensorsElementBytes(dtype: string): number | undefined {
  return Object.hasOwn(ELEMENT_BYTES, dtype) ? ELEMENT_BYTES[dtype] : undefined;
}
