// The shared golden tokenizer data (../shared/golden, never copied into the repository): the SD1.5 CLIP
// tokenizer folder, the tiny 1000-token one, the 42 prompts with transformers' ids and BPE tokens, and the
// safetensors files of the two golden cases.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile } from '../../app/tensor/safetensors.ts';

export const goldenDir = join(fileURLToPath(new URL('../..', import.meta.url)), '..', 'shared', 'golden');
export const fullTokenizerDir = join(goldenDir, 'tokenizer');
export const tinyTokenizerDir = join(goldenDir, 'models', 'afa', 'tokenizer');
export const bpeGzPath = join(fullTokenizerDir, 'bpe_simple_vocab_16e6.txt.gz');

export interface GoldenPrompt {
  readonly index: number;
  readonly id: string;
  readonly text: string;
  readonly input_ids: readonly number[];
  readonly untruncated_ids: readonly number[];
  readonly tokens: readonly string[];
}

export function goldenPrompts(): GoldenPrompt[] {
  return JSON.parse(readFileSync(join(goldenDir, 'cases', 'tokenizer', 'prompts.json'), 'utf8')) as GoldenPrompt[];
}

/** Rows of an int64 [rows, columns] tensor (or the values of a [rows] tensor) as numbers. */
export function goldenRows(file: 'outputs' | 'tiny_outputs', name: string): number[][] {
  const safetensors = SafetensorsFile.open(join(goldenDir, 'cases', 'tokenizer', `${file}.safetensors`));
  try {
    const tensor = safetensors.get(name).read();
    const values = Array.from(tensor.data as BigInt64Array, (value) => Number(value));
    const columns = tensor.shape.length === 2 ? tensor.shape[1] : 1;
    return Array.from({ length: tensor.shape[0] }, (_, row) => values.slice(row * columns, (row + 1) * columns));
  } finally {
    safetensors.close();
  }
}
