// `auto`: the fastest execution provider that works here, found by a short measured probe the first
// time it is needed and remembered per machine. The probe runs one small SD-like block (3×3 conv,
// GroupNorm, SiLU, attention over 256 positions; ≈ 30 MFLOP) on every provider that opens a session,
// checks each result against the CPU's (a provider giving wrong numbers is never chosen) and takes the
// median of three timed runs after a warm-up; a provider whose warm-up (shader compilation included)
// already took 20× the CPU's median and over a second is not timed further: it is the slower one. The choice is stored in `<home>/provider-choice.json`,
// keyed by machine (host name, OS/arch, onnxruntime version and the providers found), so a data
// directory shared by two machines keeps one choice for each, and a new driver or onnxruntime probes again.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.ts';
import { attribute, Graph, type StoredFloat } from '../onnx/graph.ts';
import { groupNorm, silu } from '../onnx/layers.ts';
import { add, conv, reshape, transpose } from '../onnx/ops.ts';
import { saveModel } from '../onnx/serialize.ts';
import { float32, type Tensor } from '../tensor/tensor.ts';
import { probeBackends } from './backend-probe.ts';
import { listBackends, ModelSession, onnxruntimeVersion, type Backend } from './onnx-runtime.ts';
import { runtimeLog } from './runtime-log.ts';

export type BackendChoice = Backend | 'auto';

export interface ProviderMeasurement {
  readonly backend: Backend;
  /** Median milliseconds of the probe block; absent when the provider could not run it. */
  readonly ms?: number;
  /** Why it was not measured or not eligible. */
  readonly reason?: string;
  /** GPU providers: median milliseconds of the probe block computing in float16, when that works. */
  readonly float16Ms?: number;
  /** GPU providers: why float16 does not work there (e.g. an adapter without float16 shaders). */
  readonly float16Reason?: string;
}

export interface ProviderChoice {
  readonly backend: Backend;
  /**
   * Whether the chosen provider computes the probe correctly in float16 (GPU providers; absent for the
   * CPU and in choices stored before it was measured). 'auto' precision computes in float32 where false.
   */
  readonly float16?: boolean;
  readonly machine: string;
  readonly measurements: readonly ProviderMeasurement[];
  readonly decidedAt: string;
}

/** Output error above this (relative to the CPU output's largest magnitude) means the provider computes something else. */
const RELATIVE_TOLERANCE = 1e-3;
/** The same in float16 compute: a few hundred times float16's unit roundoff (2^-11) through the block. */
const FLOAT16_RELATIVE_TOLERANCE = 2e-2;
const TIMED_RUNS = 3;

/**
 * Identifies this machine's provider setup; a change of any part probes again. Built from what this
 * onnxruntime build offers (listBackends), not from opening devices: reusing a stored choice then
 * touches no GPU driver (Dawn prints its own adapter-search warnings on stderr, outside onnxruntime's
 * logger). A stored GPU that has gone away fails at its first session and the runtime falls back to the CPU.
 */
export async function machineKey(): Promise<string> {
  const offered = listBackends().filter((info) => info.available).map((info) => info.backend);
  return `${hostname()} ${process.platform}-${process.arch} onnxruntime ${onnxruntimeVersion()} [${offered.join(',')}]`;
}

function values(count: number, seed: number, scale: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return ((state / 2147483648) * 2 - 1) * scale;
  });
}

/**
 * [1, 64, 16, 16] → conv 3×3 → GroupNorm(32) → SiLU → self-attention over the 256 positions (8 heads) → + x,
 * computing in `computeDtype` (float32 I/O either way).
 */
function probeGraph(computeDtype: StoredFloat = 'float32'): Graph {
  const g = new Graph('provider_probe', { computeDtype });
  const x = g.computeInput('x', [1, 64, 16, 16]);
  const weight = g.toCompute(g.constant(float32([64, 64, 3, 3], values(64 * 64 * 9, 11, 0.05)), 'conv.weight'));
  const h = silu(g, groupNorm(g, conv(g, x, weight, undefined, { pads: 1 }), 32));
  const tokens = transpose(g, reshape(g, h, [1, 64, 256]), [0, 2, 1]); // [1, 256, 64]
  // The fused attention node the studio's U-Nets use (app/models/attention.ts), 8 heads of width 8.
  const [attended] = g.node({
    op: 'MultiHeadAttention',
    domain: 'com.microsoft',
    inputs: [tokens, tokens, tokens],
    outputs: [{ dtype: computeDtype, shape: [1, 256, 64] }],
    attrs: { num_heads: attribute.int(8), scale: attribute.float(Math.fround(8 ** -0.5)) },
  });
  g.output(add(g, x, reshape(g, transpose(g, attended!, [0, 2, 1]), [1, 64, 16, 16])), 'y');
  return g;
}

async function measure(
  modelPath: string,
  backend: Backend,
  feeds: Record<string, Tensor>,
  cpu: { readonly output: Float32Array; readonly ms: number } | undefined,
  tolerance = RELATIVE_TOLERANCE,
): Promise<ProviderMeasurement & { output?: Float32Array }> {
  let session: ModelSession | undefined;
  try {
    session = await ModelSession.create(modelPath, { backend });
    const warmStart = performance.now();
    const output = (await session.run(feeds)).y!.data as Float32Array; // warm-up (shader compilation, arenas)
    const warmMs = performance.now() - warmStart;
    const reference = cpu?.output;
    if (reference) {
      let worst = 0;
      let largest = 0;
      for (let i = 0; i < reference.length; i++) {
        worst = Math.max(worst, Math.abs(output[i]! - reference[i]!));
        largest = Math.max(largest, Math.abs(reference[i]!));
      }
      if (!(worst <= tolerance * largest)) return { backend, reason: `its result differs from the CPU's by ${worst.toExponential(2)}` };
    }
    if (cpu && warmMs > Math.max(1000, 20 * cpu.ms)) return { backend, ms: warmMs, reason: 'slower than the CPU already at its first run (not timed further)' };
    const times: number[] = [];
    for (let run = 0; run < TIMED_RUNS; run++) {
      const started = performance.now();
      await session.run(feeds);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    return { backend, ms: times[Math.floor(times.length / 2)]!, output };
  } catch (error) {
    return { backend, reason: (error as Error).message.split('\n')[0] };
  } finally {
    await session?.release();
  }
}

/** Measures every working provider now (no file involved). The CPU always works and is the fallback. */
export async function measureProviders(): Promise<{ backend: Backend; measurements: ProviderMeasurement[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'afa-provider-probe-'));
  try {
    const { modelPath } = saveModel(probeGraph(), { dir, modelFile: 'probe.onnx' });
    const { modelPath: float16Path } = saveModel(probeGraph('float16'), { dir, modelFile: 'probe.float16.onnx' });
    const feeds = { x: float32([1, 64, 16, 16], values(64 * 16 * 16, 7, 1)) };
    const cpu = await measure(modelPath, 'cpu', feeds, undefined);
    const cpuResult = cpu.output && cpu.ms !== undefined ? { output: cpu.output, ms: cpu.ms } : undefined;
    const measurements: ProviderMeasurement[] = [cpu.ms === undefined ? { backend: 'cpu', reason: cpu.reason } : { backend: 'cpu', ms: cpu.ms }];
    for (const info of await probeBackends()) {
      if (info.backend === 'cpu') continue;
      if (!info.available) {
        measurements.push({ backend: info.backend, reason: info.reason });
        continue;
      }
      const { output: _output, ...result } = await measure(modelPath, info.backend, feeds, cpuResult);
      if (result.ms === undefined) {
        measurements.push(result);
        continue;
      }
      // The same block in float16 against the CPU's float32 result: what 'auto' precision relies on
      // (also on a provider slower than the CPU here, which the user may still pick by name).
      const half = await measure(float16Path, info.backend, feeds, cpuResult, FLOAT16_RELATIVE_TOLERANCE);
      measurements.push(half.ms !== undefined && half.reason === undefined ? { ...result, float16Ms: half.ms } : { ...result, float16Reason: half.reason ?? 'not measured' });
    }
    let best: ProviderMeasurement = measurements[0]!;
    for (const entry of measurements) if (entry.ms !== undefined && entry.reason === undefined && (best.ms === undefined || entry.ms < best.ms)) best = entry;
    return { backend: best.backend, measurements };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type ChoiceFile = { readonly choices: Readonly<Record<string, ProviderChoice>> };

function readChoices(file: string): ChoiceFile {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<ChoiceFile>;
    return { choices: typeof parsed.choices === 'object' && parsed.choices !== null ? parsed.choices : {} };
  } catch {
    return { choices: {} };
  }
}

const pending = new Map<string, Promise<ProviderChoice>>();

/**
 * The provider `auto` means on this machine: the remembered choice from `file`, else a fresh
 * measurement (stored). Concurrent calls share one probe. `remeasure` forgets the stored choice.
 */
export function chooseProvider(file: string, options: { readonly remeasure?: boolean } = {}): Promise<ProviderChoice> {
  const key = `${file}\u0000${options.remeasure ? 'again' : ''}`;
  let choice = pending.get(key);
  if (!choice) {
    choice = (async () => {
      const machine = await machineKey();
      const stored = readChoices(file).choices[machine];
      if (stored && !options.remeasure) return stored;
      const { backend, measurements } = await measureProviders();
      const chosen = measurements.find((entry) => entry.backend === backend);
      const float16 = backend === 'cpu' ? undefined : chosen?.float16Ms !== undefined;
      const decided: ProviderChoice = { backend, ...(float16 === undefined ? {} : { float16 }), machine, measurements, decidedAt: new Date().toISOString() };
      const summary = measurements
        .map((entry) => {
          const fp32 = entry.ms === undefined ? `(${entry.reason})` : `${entry.ms.toFixed(1)} ms`;
          const fp16 = entry.float16Ms !== undefined ? `, fp16 ${entry.float16Ms.toFixed(1)} ms` : entry.float16Reason ? `, fp16 (${entry.float16Reason})` : '';
          return `${entry.backend} ${fp32}${fp16}`;
        })
        .join('; ');
      runtimeLog(`auto provider: ${backend} (probe: ${summary})`);
      writeFileAtomic(file, new TextEncoder().encode(`${JSON.stringify({ choices: { ...readChoices(file).choices, [machine]: decided } }, null, 2)}\n`));
      return decided;
    })();
    pending.set(key, choice);
    choice.catch(() => pending.delete(key));
  }
  return choice;
}

/**
 * The precision to run with: the setting, except that 'auto' on a provider the probe found unable to
 * compute in float16 is 'fp32' (so no job tries the float16 forms first). A provider picked by name
 * was not probed: its runtime finds out at the first session and falls back once.
 */
export function resolvePrecision<P extends 'auto' | 'fp32' | 'fp16'>(precision: P, choice: ProviderChoice | undefined): P | 'fp32' {
  return precision === 'auto' && choice?.float16 === false ? 'fp32' : precision;
}
