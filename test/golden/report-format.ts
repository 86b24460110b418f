// Text rendering of golden results: one row per case, details for cases that did not pass, a summary.
import type { CaseResult, GoldenReport } from './golden-runner.ts';

const ID_WIDTH = 38;
const KIND_WIDTH = 24;
const ERROR_WIDTH = 22;

function number(value: number | undefined): string {
  if (value === undefined) return '-';
  if (value === 0) return '0';
  if (!Number.isFinite(value)) return String(value);
  return value.toExponential(2);
}

/** `id  kind  worst-error / atol  status  seconds`. */
export function formatRow(result: CaseResult): string {
  const worst = result.worst;
  const error = worst ? `${number(worst.maxAbsError)} / ${number(worst.atol)}` : '-';
  return [
    result.id.padEnd(ID_WIDTH),
    result.kind.padEnd(KIND_WIDTH),
    error.padEnd(ERROR_WIDTH),
    result.status.toUpperCase().padEnd(11),
    `${result.seconds.toFixed(2)}s`,
  ].join(' ');
}

export function formatHeader(): string {
  return ['case'.padEnd(ID_WIDTH), 'kind'.padEnd(KIND_WIDTH), 'max|err| / atol'.padEnd(ERROR_WIDTH), 'status'.padEnd(11), 'time'].join(' ');
}

/** Indented lines explaining a failed or errored case (empty otherwise). */
export function formatDetails(result: CaseResult): string[] {
  // Unsupported cases are listed by kind in the summary; a line per case would only repeat it.
  if (result.status === 'error') {
    return (result.error ?? '').split('\n').map((line) => `    ${line}`);
  }
  if (result.status !== 'fail') return [];
  return result.outputs
    .filter((output) => output.status === 'fail')
    .map((output) => `    ${output.name} (${output.type}): ${output.message}`);
}

export function formatSummary(report: GoldenReport): string[] {
  const { counts } = report;
  const lines = [
    `${report.cases.length} cases: ${counts.pass} passed, ${counts.fail} failed, ${counts.error} errored, ${counts.unsupported} unsupported, ${counts.skipped} skipped`,
  ];
  if (report.unregisteredKinds.length > 0) lines.push(`kinds with no runner in test/golden/kinds: ${report.unregisteredKinds.join(', ')}`);
  if (report.skippedKinds.length > 0) lines.push(`kinds skipped on request: ${report.skippedKinds.join(', ')}`);
  if (report.float32OnlyKinds.length > 0) lines.push(`kinds that compute in float32 only, checked without --precision: ${report.float32OnlyKinds.join(', ')}`);
  for (const { file, message } of report.loadErrors) lines.push(`kinds file ${file} did not load: ${message}`);
  if (report.cases.length === 0) lines.push('FAILED: no case matches the filters');
  else lines.push(report.ok ? 'OK' : 'FAILED');
  return lines;
}
