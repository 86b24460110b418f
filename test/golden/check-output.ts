// Checks one computed output against its manifest entry, whatever its type.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isFloatDType, toFloat32 } from '../../app/tensor/cast.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';
import type { CaseOutput, ManifestEntry } from './case-kind.ts';
import { compareExact, comparePixels, compareTensors, compareValues, isTensor } from './compare.ts';
import type { Comparison } from './compare.ts';
import type { GoldenFiles } from './manifest.ts';
import { providerTolerance, scaledAtol, type ProviderTolerance } from './provider-tolerance.ts';

export type OutputStatus = 'pass' | 'fail' | 'info';

export interface OutputResult {
  readonly name: string;
  readonly type: ManifestEntry['type'];
  /** 'info' for reference_only outputs (never fail) and comparisons the manifest does not require. */
  readonly status: OutputStatus;
  readonly maxAbsError?: number;
  /** The tolerance the error was held to (the largest per-tensor atol for a tensor_set). */
  readonly atol?: number;
  /** Error relative to what was allowed (≤ 1 passes); used to pick a case's worst output. */
  readonly ratio?: number;
  readonly message: string;
}

/** What a `same_as` entry is compared with: the other case's computed output, else its golden entry. */
export type SameAsTarget =
  | { readonly computed: CaseOutput }
  | { readonly golden: ManifestEntry; readonly reason: string }
  | { readonly missing: string };

export interface CheckContext {
  readonly files: GoldenFiles;
  /** All outputs the kind returned for this case (same_as may compare one of them). */
  readonly computed: Readonly<Record<string, CaseOutput>>;
  readonly sameAs: (caseId: string, output: string) => SameAsTarget;
  /** The provider's rule on top of the manifest's tolerances; default the CPU's (as written). */
  readonly tolerance?: ProviderTolerance;
}

export function checkOutput(name: string, entry: ManifestEntry, ours: CaseOutput | undefined, context: CheckContext): OutputResult {
  const result = check(name, entry, ours, context);
  if (entry.reference_only && result.status === 'fail') {
    return { ...result, status: 'info', message: `reference only, not required: ${result.message}` };
  }
  if (entry.reference_only && result.status === 'pass') return { ...result, status: 'info', message: `reference only: ${result.message}` };
  return result;
}

function check(name: string, entry: ManifestEntry, ours: CaseOutput | undefined, context: CheckContext): OutputResult {
  const base = { name, type: entry.type };
  if (entry.type === 'same_as') return checkSameAs(name, entry, context);
  if (ours === undefined) return { ...base, status: 'fail', message: 'not computed (the kind returned no output of this name)' };
  const tolerance = context.tolerance ?? providerTolerance('cpu');
  const rtol = entry.rtol ?? 0;
  const fromComparison = (comparison: Comparison, tolerance: number | undefined): OutputResult => ({
    ...base,
    status: comparison.ok ? 'pass' : 'fail',
    maxAbsError: comparison.maxAbsError,
    atol: tolerance,
    ratio: comparison.ratio,
    message: comparison.message,
  });
  switch (entry.type) {
    case 'tensor': {
      if (!isTensor(ours)) return { ...base, status: 'fail', message: `expected a tensor, got ${describeOutput(ours)}` };
      const expected = context.files.readTensor(entry);
      const atol = scaledAtol(entry.atol ?? 0, tolerance, entry);
      return fromComparison(compareTensors(ours, expected, { atol, rtol }), atol);
    }
    case 'value': {
      const value = isTensor(ours) ? tensorValue(ours) : 'value' in ours ? ours.value : undefined;
      if (value === undefined) return { ...base, status: 'fail', message: `expected a value, got ${describeOutput(ours)}` };
      const atol = scaledAtol(entry.atol ?? 0, tolerance, entry);
      return fromComparison(compareValues(value, entry.value, atol), atol);
    }
    case 'png': {
      if (!('png' in ours)) return { ...base, status: 'fail', message: `expected a png, got ${describeOutput(ours)}` };
      checkSha256(context.files.resolve(entry.file!), entry.sha256);
      const pixelAtol = Math.max(entry.atol ?? 1, tolerance.pixelAtol);
      return fromComparison(comparePixels(ours.png, context.files.readPng(entry), pixelAtol), pixelAtol);
    }
    case 'tensor_set': {
      if (!('tensorSet' in ours)) return { ...base, status: 'fail', message: `expected a tensor set, got ${describeOutput(ours)}` };
      return checkTensorSet(name, entry, ours.tensorSet, context.files, tolerance);
    }
    case 'json':
      return { ...base, status: 'fail', message: "'json' entries describe inputs; the runner has no comparison for a json output" };
  }
}

function checkTensorSet(name: string, entry: ManifestEntry, ours: ReadonlyMap<string, Tensor>, files: GoldenFiles, tolerance: ProviderTolerance): OutputResult {
  const golden = files.readTensorSet(entry);
  const column = Math.max(0, entry.per_tensor_columns?.indexOf('atol') ?? 0);
  const missing = [...golden.keys()].filter((key) => !ours.has(key));
  let worst: { tensor: string; comparison: Comparison; atol: number } | undefined;
  let failing = 0;
  let maxAbsError = 0;
  let largestAtol = 0;
  for (const [tensorName, expected] of golden) {
    const computed = ours.get(tensorName);
    if (!computed) continue;
    const atol = scaledAtol(entry.per_tensor?.[tensorName]?.[column] ?? entry.atol ?? 0, tolerance);
    largestAtol = Math.max(largestAtol, atol);
    const comparison = compareTensors(computed, expected, { atol, rtol: entry.rtol ?? 0 });
    if (!comparison.ok) failing++;
    maxAbsError = Math.max(maxAbsError, comparison.maxAbsError);
    if (!worst || comparison.ratio > worst.comparison.ratio) worst = { tensor: tensorName, comparison, atol };
  }
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`${missing.length} of ${golden.size} tensors not computed (e.g. ${missing.slice(0, 3).join(', ')})`);
  if (failing > 0) parts.push(`${failing} of ${golden.size} tensors outside tolerance`);
  if (worst) parts.push(`worst '${worst.tensor}': ${worst.comparison.message}`);
  return {
    name,
    type: entry.type,
    status: missing.length === 0 && failing === 0 ? 'pass' : 'fail',
    maxAbsError: missing.length > 0 ? Infinity : maxAbsError,
    atol: worst?.atol ?? largestAtol,
    ratio: missing.length > 0 ? Infinity : worst?.comparison.ratio ?? 0,
    message: parts.join('; ') || 'empty set',
  };
}

/**
 * `same_as`: our output (the one named like this entry if the kind returned it, else our output named
 * `entry.output`) must equal the other case's computed `entry.output` — bitwise when `exact`, within
 * `entry.atol` when one is given. Without `exact` or an atol the manifest documents a known difference
 * (e.g. fp16-rounded weights), so the difference is reported as info. When the other case did not run
 * in this session, the golden output of that case is used with that output's own tolerance.
 */
function checkSameAs(name: string, entry: ManifestEntry, context: CheckContext): OutputResult {
  const base = { name, type: entry.type };
  const other = `${entry.case}:${entry.output}`;
  const ours = context.computed[name] ?? context.computed[entry.output!];
  if (!ours || !isTensor(ours)) return { ...base, status: 'fail', message: `no computed tensor '${entry.output}' to compare with ${other}` };
  const target = context.sameAs(entry.case!, entry.output!);
  if ('missing' in target) return { ...base, status: 'fail', message: `cannot compare with ${other}: ${target.missing}` };
  const tolerance = context.tolerance ?? providerTolerance('cpu');
  if ('golden' in target) {
    const expected = context.files.readTensor(target.golden);
    const atol = scaledAtol(target.golden.atol ?? 0, tolerance, target.golden);
    const comparison = compareTensors(ours, expected, { atol, rtol: target.golden.rtol ?? 0 });
    if (!entry.exact && entry.atol === undefined) {
      return { ...base, status: 'info', maxAbsError: comparison.maxAbsError, message: `vs golden ${other} (${target.reason}): max |difference| ${comparison.maxAbsError} (not required to match)` };
    }
    return {
      ...base,
      status: comparison.ok ? 'pass' : 'fail',
      maxAbsError: comparison.maxAbsError,
      atol,
      ratio: comparison.ratio,
      message: `vs golden ${other} (${target.reason}): ${comparison.message}`,
    };
  }
  if (!isTensor(target.computed)) return { ...base, status: 'fail', message: `${other} is not a tensor` };
  if (entry.exact) {
    const comparison = compareExact(ours, target.computed);
    return { ...base, status: comparison.ok ? 'pass' : 'fail', maxAbsError: comparison.maxAbsError, atol: 0, ratio: comparison.ratio, message: `vs ${other}: ${comparison.message}` };
  }
  // Both sides ran on this provider: a same_as within an atol keeps the manifest's atol as written.
  const atol = entry.atol;
  const comparison = compareTensors(ours, target.computed, { atol: atol ?? 0, rtol: entry.rtol ?? 0 });
  if (atol === undefined) {
    return { ...base, status: 'info', maxAbsError: comparison.maxAbsError, message: `vs ${other}: max |difference| ${comparison.maxAbsError} (not required to match)` };
  }
  return { ...base, status: comparison.ok ? 'pass' : 'fail', maxAbsError: comparison.maxAbsError, atol, ratio: comparison.ratio, message: `vs ${other}: ${comparison.message}` };
}

/** The number held by a one-element tensor (a kind may return a scalar value as a 0-d tensor). */
function tensorValue(tensor: Tensor): unknown {
  if (tensor.data.length !== 1) return undefined;
  if (tensor.dtype === 'float64') return tensor.data[0];
  if (isFloatDType(tensor.dtype)) return toFloat32(tensor).data[0];
  const element = tensor.data[0]!;
  return typeof element === 'bigint' ? Number(element) : element;
}

function describeOutput(output: CaseOutput): string {
  if (isTensor(output)) return `a ${output.dtype} tensor`;
  return `{ ${Object.keys(output).join(', ')} }`;
}

function checkSha256(path: string, expected: string | undefined): void {
  if (!expected) return;
  const actual = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (actual !== expected) throw new Error(`golden file ${path} has sha256 ${actual}, the manifest says ${expected}: it is damaged`);
}
