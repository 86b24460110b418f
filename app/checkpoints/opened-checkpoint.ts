// What opening a checkpoint gives: per component its config and its weights under diffusers names,
// read lazily from the original file(s). Shared by the single-file and diffusers-folder openers.
import { UserError } from '../common/errors.ts';
import type { DType } from '../tensor/tensor.ts';
import { BYTES_PER_ELEMENT, sizeOf } from '../tensor/tensor.ts';
import type { WeightSource } from '../tensor/weights.ts';
import type { ComponentConfig, ComponentName } from './component-config.ts';
import type { Detection } from './detect.ts';
import type { MappedTensor } from './mapped-weights.ts';

export interface CheckpointComponent {
  /** The config.json that describes the component (defaults or the folder's, plus the caller's overrides). */
  readonly config: ComponentConfig;
  /** Every tensor the component needs, under its diffusers name; nothing is read until asked. */
  readonly weights: WeightSource;
}

export type CheckpointFormat = 'single-file' | 'diffusers-folder';

/** The float dtype most of the weight bytes are stored in ('mixed' when no dtype holds ≥ 90 %). */
export type SourcePrecision = 'fp32' | 'fp16' | 'bf16' | 'mixed';

export type TokenizerSource = { readonly kind: 'default' } | { readonly kind: 'folder'; readonly path: string };

export interface OpenedCheckpoint {
  readonly format: CheckpointFormat;
  /** Absolute path of the file or folder. */
  readonly path: string;
  readonly detection: Detection;
  readonly components: Readonly<Record<ComponentName, CheckpointComponent>>;
  /** The model's own tokenizer folder (diffusers folders), or the studio's bundled CLIP vocabulary. */
  readonly tokenizer: TokenizerSource;
  /** The files that hold the weights, in a stable order. */
  readonly weightFiles: readonly string[];
  readonly sourcePrecision: SourcePrecision;
  /** Tensors of the source that no component uses (EMA copies, position_ids, training leftovers). */
  readonly ignoredTensors: readonly string[];
  /** Releases the open files. */
  close(): void;
}

/**
 * Throws UserError('corrupt-file') listing a few of the tensors `mapping` needs that `source` lacks.
 * `what` names the component, e.g. 'SD1.x U-Net'.
 */
export function assertComplete(mapping: readonly MappedTensor[], source: WeightSource, what: string, where: string): void {
  const missing = mapping.filter((entry) => !source.has(entry.sourceName)).map((entry) => entry.sourceName);
  if (missing.length === 0) return;
  const listed = missing.slice(0, 5).map((name) => `'${name}'`).join(', ');
  throw new UserError(
    'corrupt-file',
    `${where} lacks ${missing.length} of the ${mapping.length} tensors of the ${what} (${listed}${missing.length > 5 ? ', …' : ''}).`,
    'The file is incomplete or is not a Stable Diffusion 1.x model of this size; download it again or pass the model\'s own config.',
  );
}

/** Summarises the float dtypes of the components' weights by bytes. */
export function sourcePrecisionOf(sources: readonly WeightSource[]): SourcePrecision {
  const bytes = new Map<DType, number>();
  let total = 0;
  for (const source of sources) {
    for (const name of source.names()) {
      const { dtype, shape } = source.get(name);
      const size = sizeOf(shape) * BYTES_PER_ELEMENT[dtype];
      bytes.set(dtype, (bytes.get(dtype) ?? 0) + size);
      total += size;
    }
  }
  const labels: [DType, SourcePrecision][] = [['float32', 'fp32'], ['float16', 'fp16'], ['bfloat16', 'bf16']];
  for (const [dtype, label] of labels) if ((bytes.get(dtype) ?? 0) >= 0.9 * total && total > 0) return label;
  return 'mixed';
}
