// The weights of a saved model as a WeightSource, so a graph builder can build another graph over the
// same bytes: external tensors (readWeightsIndex) carry their file region, and saving the new graph
// references them in place (serialize.ts) instead of writing a copy; the few small ones saved inline in
// the model (under INLINE_LIMIT bytes) are read from it. Used for the float16 forms of graphs whose
// weights exist only in a saved weights file (a merge recipe's merged U-Net and text encoder).
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { UserError } from '../common/errors.ts';
import { allocate, type Tensor } from '../tensor/tensor.ts';
import type { LazyTensor, WeightSource } from '../tensor/weights.ts';
import { dtypeOfOnnx } from './graph.ts';
import { onnx } from './model-proto.ts';
import { readWeightsIndex, type WeightEntry } from './serialize.ts';

export class IndexedWeights implements WeightSource {
  readonly description: string;
  readonly #entries: ReadonlyMap<string, WeightEntry>;
  readonly #inline = new Map<string, Tensor>();

  constructor(modelPath: string) {
    const model = onnx.ModelProto.decode(readFileSync(modelPath));
    this.#entries = readWeightsIndex(modelPath, model).entries;
    this.description = `the weights of ${modelPath}`;
    for (const initializer of model.graph?.initializer ?? []) {
      const dtype = dtypeOfOnnx(initializer.dataType ?? 0);
      const raw = initializer.rawData;
      if (!initializer.name || this.#entries.has(initializer.name) || !dtype || !raw) continue;
      const tensor = allocate(dtype, (initializer.dims ?? []).map(Number));
      const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
      if (raw.length !== bytes.length) continue;
      bytes.set(raw);
      this.#inline.set(initializer.name, tensor);
    }
  }

  names(): readonly string[] {
    return [...this.#entries.keys(), ...this.#inline.keys()];
  }

  has(name: string): boolean {
    return this.#entries.has(name) || this.#inline.has(name);
  }

  get(name: string): LazyTensor {
    const inline = this.#inline.get(name);
    if (inline) return { dtype: inline.dtype, shape: inline.shape, read: () => inline };
    const entry = this.#entries.get(name);
    if (!entry) throw new UserError('not-found', `Tensor '${name}' is not among ${this.description}.`);
    return { dtype: entry.dtype, shape: entry.shape, region: { path: entry.file, offset: entry.offset, length: entry.length }, read: () => readEntry(entry) };
  }
}

function readEntry(entry: WeightEntry): Tensor {
  const result = allocate(entry.dtype, entry.shape);
  const bytes = new Uint8Array(result.data.buffer, result.data.byteOffset, result.data.byteLength);
  if (bytes.length !== entry.length) throw new UserError('corrupt-file', `Tensor '${entry.name}' in ${entry.file} holds ${entry.length} bytes, not the ${bytes.length} its shape needs.`);
  const fd = openSync(entry.file, 'r');
  try {
    let done = 0;
    while (done < bytes.length) {
      const count = readSync(fd, bytes, done, bytes.length - done, entry.offset + done);
      if (count === 0) throw new UserError('corrupt-file', `${entry.file} ends before tensor '${entry.name}' (it is truncated).`);
      done += count;
    }
  } finally {
    closeSync(fd);
  }
  return result;
}
