// Where a session's time goes, per op type: reads onnxruntime's profile (SessionOptions.profile, a
// Chrome trace JSON with one event per node run) and sums the kernel times by op type and by the part of
// a training graph a node belongs to (forward, backward, recomputed forward: app/autodiff/backward.ts
// names backward nodes `backward/…` and recomputed copies `…/recompute<i>/…`). Runs before
// `skipRuns` (warm-up) are left out; times are per run.
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface OpTime {
  readonly op: string;
  /** Kernel milliseconds per run. */
  readonly ms: number;
  /** Nodes of this op type run per run. */
  readonly nodes: number;
}

export type Phase = 'forward' | 'backward' | 'recompute';

export interface OpProfile {
  readonly runs: number;
  /** Sum of the kernel times per run, ms (less than the run's wall time: the executor's own overhead). */
  readonly kernelMs: number;
  /** Wall time of a run as onnxruntime measured it, ms (median is not needed: the mean of the kept runs). */
  readonly runMs: number;
  readonly byOp: readonly OpTime[];
  readonly byPhase: Readonly<Record<Phase, OpTime[]>>;
}

interface TraceEvent {
  readonly cat?: string;
  readonly name?: string;
  readonly ts?: number;
  readonly dur?: number;
  readonly args?: { readonly op_name?: string };
}

export function phaseOf(node: string): Phase {
  if (/(^|\/)recompute\d+\//.test(node)) return 'recompute';
  return node.startsWith('backward/') ? 'backward' : 'forward';
}

/** The profile file onnxruntime wrote for `prefix` (the newest one), removed after reading when `remove`. */
export function readOpProfile(prefix: string, skipRuns: number, remove = true): OpProfile {
  const dir = dirname(prefix);
  const stem = basename(prefix);
  const files = readdirSync(dir).filter((file) => file.startsWith(`${stem}_`) && file.endsWith('.json')).sort();
  if (files.length === 0) throw new Error(`No onnxruntime profile ${prefix}_*.json was written.`);
  const file = join(dir, files[files.length - 1]!);
  const events = JSON.parse(readFileSync(file, 'utf8')) as TraceEvent[];
  // AFA_BENCH_KEEP_PROFILES=<folder> keeps a copy of each raw profile there (per-node times, for a closer look).
  const keep = process.env.AFA_BENCH_KEEP_PROFILES;
  if (keep) cpSync(file, join(keep, `${stem}.json`));
  if (remove) for (const name of files) rmSync(join(dir, name), { force: true });
  return summarise(events, skipRuns);
}

export function summarise(events: readonly TraceEvent[], skipRuns: number): OpProfile {
  const runs = events.filter((event) => event.cat === 'Session' && event.name === 'model_run').sort((a, b) => a.ts! - b.ts!);
  const kept = runs.slice(skipRuns);
  if (kept.length === 0) throw new Error(`The profile holds ${runs.length} run(s); none is left after skipping ${skipRuns}.`);
  const from = kept[0]!.ts!;
  const totals = new Map<string, { us: number; nodes: number }>();
  const phases: Record<Phase, Map<string, { us: number; nodes: number }>> = { forward: new Map(), backward: new Map(), recompute: new Map() };
  let kernelUs = 0;
  const add = (map: Map<string, { us: number; nodes: number }>, op: string, us: number) => {
    const entry = map.get(op) ?? { us: 0, nodes: 0 };
    entry.us += us;
    entry.nodes += 1;
    map.set(op, entry);
  };
  for (const event of events) {
    if (event.cat !== 'Node' || !event.name?.endsWith('_kernel_time') || (event.ts ?? 0) < from) continue;
    const op = event.args?.op_name ?? '?';
    const us = event.dur ?? 0;
    kernelUs += us;
    add(totals, op, us);
    add(phases[phaseOf(event.name.slice(0, -'_kernel_time'.length))], op, us);
  }
  const n = kept.length;
  const list = (map: Map<string, { us: number; nodes: number }>) =>
    [...map].map(([op, { us, nodes }]) => ({ op, ms: us / 1000 / n, nodes: nodes / n })).sort((a, b) => b.ms - a.ms);
  return {
    runs: n,
    kernelMs: kernelUs / 1000 / n,
    runMs: kept.reduce((sum, run) => sum + (run.dur ?? 0), 0) / 1000 / n,
    byOp: list(totals),
    byPhase: { forward: list(phases.forward), backward: list(phases.backward), recompute: list(phases.recompute) },
  };
}

/** The top `count` op types as table lines: ms per run, share of the kernel time, nodes. */
export function formatOpProfile(profile: OpProfile, count = 10): string[] {
  const phaseMs = (phase: Phase) => profile.byPhase[phase].reduce((sum, op) => sum + op.ms, 0);
  const lines = [
    `run ${profile.runMs.toFixed(0)} ms, kernels ${profile.kernelMs.toFixed(0)} ms (forward ${phaseMs('forward').toFixed(0)}, backward ${phaseMs('backward').toFixed(0)}, recomputed ${phaseMs('recompute').toFixed(0)})`,
  ];
  for (const op of profile.byOp.slice(0, count)) {
    const parts = (['forward', 'backward', 'recompute'] as const)
      .map((phase) => [phase, profile.byPhase[phase].find((entry) => entry.op === op.op)?.ms ?? 0] as const)
      .filter(([, ms]) => ms > 0)
      .map(([phase, ms]) => `${phase[0]} ${ms.toFixed(0)}`);
    lines.push(`  ${op.op.padEnd(28)} ${op.ms.toFixed(1).padStart(9)} ms ${((100 * op.ms) / profile.kernelMs).toFixed(1).padStart(5)}%  ${String(Math.round(op.nodes)).padStart(6)} nodes  (${parts.join(', ')})`);
  }
  return lines;
}
