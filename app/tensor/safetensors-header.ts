// The JSON header of a safetensors file: parsing with validation (reader) and encoding (writer).
// Format (huggingface/safetensors): u64 little-endian header length N, N bytes of UTF-8 JSON
// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`, then the data
// section; offsets are relative to the start of the data section (byte 8 + N).
import { UserError } from '../common/errors.ts';
import { findDuplicateKey } from './json-duplicate-key.ts';
import { safetensorsElementBytes } from './safetensors-dtype.ts';

/** One tensor as the header declares it. `dtype` is the format's name, possibly one the app cannot read. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Byte range in the data section, end exclusive. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** Entries in data order (ascending begin offset). */
  readonly entries: readonly SafetensorsEntry[];
  readonly metadata: Readonly<Record<string, string>>;
}

/** Headers above this are refused without reading them: real ones are ≤ a few MB (SD1.5 ≈ 100 kB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export const METADATA_KEY = '__metadata__';

export function corruptFile(path: string, detail: string): UserError {
  return new UserError(
    'corrupt-file',
    `${path} is not a valid safetensors file: ${detail}.`,
    'The file is damaged or incomplete (for example an interrupted download); download it again.',
  );
}

/**
 * Validates a header's JSON text against a data section of `dataLength` bytes.
 * Holes between tensors and trailing bytes are tolerated (the format's reference implementation
 * rejects them to prevent polyglot files, but no tensor becomes unreadable through them, and refusing a
 * checkpoint the user already has helps nobody); overlaps and out-of-range offsets are errors.
 */
export function parseSafetensorsHeader(text: string, dataLength: number, path: string): SafetensorsHeader {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw corruptFile(path, 'its header is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw corruptFile(path, 'its header is not a JSON object');
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) throw corruptFile(path, `its header names '${duplicate}' twice`);

  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, path);
    else entries.push(parseEntry(name, value, dataLength, path));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  checkNoOverlap(entries, path);
  return { entries, metadata };
}

function parseMetadata(value: unknown, path: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw corruptFile(path, `'${METADATA_KEY}' is not an object of strings`);
  }
  const metadata: Record<string, string> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (typeof item !== 'string') throw corruptFile(path, `metadata '${key}' is not a string`);
    metadata[key] = item;
  }
  return metadata;
}

function parseEntry(name: string, value: unknown, dataLength: number, path: string): SafetensorsEntry {
  const where = `tensor '${name}'`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw corruptFile(path, `${where} is not described by an object`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw corruptFile(path, `${where} has no dtype`);
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw corruptFile(path, `${where} has no valid shape (a list of non-negative integers)`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw corruptFile(path, `${where} has no valid data_offsets ([begin, end] byte offsets)`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw corruptFile(path, `${where} ends (byte ${end}) before it begins (byte ${begin})`);
  if (end > dataLength) {
    throw corruptFile(path, `${where} extends to byte ${end} of a data section of ${dataLength} bytes (the file is truncated)`);
  }
  const elementBytes = safetensorsElementBytes(dtype);
  if (elementBytes !== undefined) {
    // Multiply in floating point: an absurd shape overflows past `end - begin` rather than wrapping.
    const expected = (shape as number[]).reduce((product, dim) => product * dim, elementBytes);
    if (expected !== end - begin) {
      throw corruptFile(
        path,
        `${where} (${dtype}, shape [${shape.join(', ')}]) should take ${expected} bytes but its data_offsets span ${end - begin}`,
      );
    }
  }
  return { name, dtype, shape: [...(shape as number[])], begin, end };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** `entries` sorted by begin. Empty tensors take no bytes and cannot overlap anything. */
function checkNoOverlap(entries: readonly SafetensorsEntry[], path: string): void {
  let previous: SafetensorsEntry | undefined;
  for (const entry of entries) {
    if (entry.begin === entry.end) continue;
    if (previous && entry.begin < previous.end) {
      throw corruptFile(path, `tensors '${previous.name}' and '${entry.name}' overlap`);
    }
    previous = entry;
  }
}

/**
 * Encodes a header for entries laid out in the given order, padded with spaces so that the data section
 * starts at a multiple of 8 bytes (as the reference writer does, keeping 8-byte dtypes aligned for mmap).
 * Returns the 8-byte length prefix and the header together.
 */
export function encodeSafetensorsHeader(
  entries: readonly SafetensorsEntry[],
  metadata: Readonly<Record<string, string>> | undefined,
): Uint8Array {
  // Built as text rather than through an object, so names that look like integers keep their place.
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  for (const entry of entries) {
    const description = { dtype: entry.dtype, shape: entry.shape, data_offsets: [entry.begin, entry.end] };
    parts.push(`${JSON.stringify(entry.name)}:${JSON.stringify(description)}`);
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(padded), true);
  bytes.set(json, 8);
  return bytes;
}
