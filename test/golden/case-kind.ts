// The contract between the golden runner and the code that runs one kind of case.
// Each file in test/golden/kinds/ exports `kinds: CaseKind[]`; the runner discovers them, so adding a
// kind never means editing the runner. A kind *computes* outputs; the runner compares them with the
// manifest's expectations (atol/rtol, exact integers, PNG pixels, same_as), so comparison is one code path.
import type { StoredFloat } from '../../app/onnx/graph.ts';
import type { SessionOptions } from '../../app/runtime/onnx-runtime.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';

/** One entry of a case's `inputs` or `outputs` in manifest.json (fields as the golden README documents). */
export interface ManifestEntry {
  readonly type: 'tensor' | 'tensor_set' | 'value' | 'png' | 'json' | 'same_as';
  readonly file?: string;
  readonly tensor?: string;
  readonly shape?: readonly number[];
  readonly dtype?: string;
  readonly value?: unknown;
  readonly json_path?: string;
  readonly atol?: number;
  readonly rtol?: number;
  readonly reference_only?: boolean;
  readonly case?: string;
  readonly output?: string;
  readonly exact?: boolean;
  readonly per_tensor?: Readonly<Record<string, readonly number[]>>;
  readonly per_tensor_columns?: readonly string[];
  readonly sha256?: string;
  readonly meaning?: string;
  /** What the generator measured about the output (e.g. fp32_vs_fp64_max_abs, max_abs_value). */
  readonly observed?: Readonly<Record<string, unknown>> | null;
  readonly [extra: string]: unknown;
}

export interface ManifestCase {
  readonly id: string;
  readonly kind: string;
  readonly description?: string;
  /** Model folders/files, relative to the golden directory. */
  readonly model?: Readonly<Record<string, unknown>>;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly inputs?: Readonly<Record<string, ManifestEntry>>;
  readonly outputs: Readonly<Record<string, ManifestEntry>>;
}

/** What a kind returns per output name: a tensor, a set of named tensors, a JSON value, or RGB pixels. */
export type CaseOutput =
  | Tensor
  | { readonly tensorSet: ReadonlyMap<string, Tensor> }
  | { readonly value: unknown }
  | { readonly png: { readonly width: number; readonly height: number; readonly rgb: Uint8Array } };

export interface CaseContext {
  /** The golden directory (absolute). */
  readonly dir: string;
  /** Absolute path of a file named relative to the golden directory. */
  resolve(relativePath: string): string;
  /** Reads an input/output entry of type 'tensor' (cached per file). */
  readTensor(entry: ManifestEntry): Tensor;
  /** Reads an input entry of type 'json' with its json_path selector applied. */
  readJson(entry: ManifestEntry): unknown;
  /** Reads the case's input `name` (a 'tensor' entry); throws naming the case when it has no such input. */
  readInput(name: string): Tensor;
  /** The golden directory's manifest fields other than `cases` (conventions, config, seeds, ...). */
  readonly manifest: Readonly<Record<string, unknown>>;
  /** A scratch directory for this case, removed after it ran. */
  readonly scratch: string;
  /**
   * Options for every onnxruntime session the case opens (the execution provider chosen with
   * `--backend`); kinds pass them on, so one golden directory runs on any provider.
   */
  readonly session: SessionOptions;
  /**
   * The dtype the case's graphs compute in (`--precision`; default float32). Graph I/O is float32 either
   * way; kinds that build graphs pass it to the builders.
   */
  readonly computeDtype: StoredFloat;
}

export interface CaseKind {
  readonly kind: string;
  /**
   * Computes the outputs the runner will check. Outputs that are not returned fail (unless reference_only).
   * A 'value' output may be `{ value }` or a one-element tensor. A 'same_as' output needs no entry of its
   * own: the runner compares the returned output named by the entry's `output` with the other case's.
   */
  run(testCase: ManifestCase, context: CaseContext): Promise<Readonly<Record<string, CaseOutput>>>;
  /**
   * The compute dtypes the kind's graphs can be built in (default float32 only). Cases of a kind asked
   * for another precision are reported skipped, so are kinds that build no graph (tokenizers,
   * schedulers): the float32 run checks them.
   */
  readonly computeDtypes?: readonly StoredFloat[];
}
