// Training benchmark: one AFA training step (3 frozen experts, 25 trainable SABW aggregators: forward,
// loss, backward through the experts into the aggregators) against one AFA forward step of the same
// ensemble, at 256² pixels (32² latents), batch 1, on the CPU with the default threads:
//   - train ÷ forward without recomputation (target ≤ 3.0: the backward through frozen layers costs
//     about twice the forward, so the floor is near 3) and with recomputation per aggregation point
//     (≤ 4.0: one more forward);
//   - peak RSS with recomputation ≤ 1.5 × the experts' weights (reported without);
//   - AdamW's time per step (TypeScript over Float32Arrays) as a share of the step;
// for SD1.5-size experts with synthetic weights (aggregators: hidden 128, 8 heads, 2 layers, as the
// official code builds them) and for the golden tiny topology. For reference, the official PyTorch code
// (torch 1.13 with OpenBLAS, 2 threads, same shapes) measured 47 s per training step on this kind of
// machine (median of 3; fastest 31 s), 5.8× its own forward, 13.5 GiB peak.
//
// Each configuration runs in its own child process (peak RSS is per process): session creation, one
// warm-up step, then timed steps; the children run one after another in one bench run, and the other
// processes' share of the CPU while they ran is reported (a contended machine inflates absolute times).
// `node --import tsx bench/train.ts` runs it standalone; AFA_BENCH_QUICK=1 measures only the tiny scale;
// AFA_BENCH_TRAIN_PROFILE=1 adds where each step's time goes per op type (bench/op-profile.ts), and
// AFA_BENCH_TRAIN_{SCALES,EXPERTS,MODES,RUNS} narrow the run (below).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './bench-result.ts';
import { syntheticAggregators, syntheticExpert } from './synthetic-ensemble.ts';
import { machineBusySeconds, peakRssBytes, runChild } from './process-stats.ts';
import { median, randomTensor } from './bench-math.ts';
import { formatOpProfile, readOpProfile, type OpProfile } from './op-profile.ts';
import { SD15_AGGREGATOR_DEFAULTS } from '../app/ensemble/aggregator-config.ts';
import type { AggregatorSet } from '../app/ensemble/aggregator-set.ts';
import { buildLockStepGraph, type Expert } from '../app/ensemble/lock-step-graph.ts';
import { SyntheticWeights } from '../app/models/synthetic-weights.ts';
import { SD15_UNET_CONFIG, type UnetConfig } from '../app/models/unet-config.ts';
import { saveModels } from '../app/onnx/serialize.ts';
import { ModelSession } from '../app/runtime/onnx-runtime.ts';
import { sharedFloat32, sizeOf, type Tensor } from '../app/tensor/tensor.ts';
import { buildAfaTrainingGraph } from '../app/training/afa-training-graph.ts';
import { TRAINING_INPUTS, type Recompute, type TrainingGraph } from '../app/training/training-graph.ts';
import { AdamW } from '../app/optimizer/adamw.ts';
import { TRAINING_SESSION_DEFAULTS } from '../app/training/training-session.ts';

// AFA_BENCH_TRAIN_EXPERTS=2 measures a smaller ensemble (less memory, e.g. to profile on a busy machine).
const EXPERTS = Number(process.env.AFA_BENCH_TRAIN_EXPERTS ?? 3);
// AFA_BENCH_TRAIN_PROFILE=1 profiles every step with onnxruntime and reports the time per op type.
const PROFILE = process.env.AFA_BENCH_TRAIN_PROFILE === '1';
// AFA_BENCH_TRAIN_RUNS=n overrides the timed steps per configuration.
const RUNS = process.env.AFA_BENCH_TRAIN_RUNS === undefined ? undefined : Number(process.env.AFA_BENCH_TRAIN_RUNS);
const BATCH = 1;
const TOKENS = 77;

interface Scale {
  readonly label: string;
  readonly config: UnetConfig;
  readonly latent: number;
  readonly aggregator: { readonly hiddenSize: number; readonly numAttentionHeads: number; readonly numLayers: number };
  readonly runs: number;
}

const SCALES: Readonly<Record<string, Scale>> = {
  sd15: { label: 'SD1.5, 256²', config: SD15_UNET_CONFIG, latent: 32, aggregator: SD15_AGGREGATOR_DEFAULTS, runs: 3 },
  tiny: {
    label: 'golden tiny topology, 128²',
    config: { ...SD15_UNET_CONFIG, sample_size: 16, block_out_channels: [32, 32, 64, 64], attention_head_dim: 4, cross_attention_dim: 32, norm_num_groups: 8 },
    latent: 16,
    aggregator: { hiddenSize: 32, numAttentionHeads: 2, numLayers: 2 },
    runs: 10,
  },
};

// 'convtranspose': the step without recomputation and without filter copies (every convolution's
// input gradient a ConvTranspose), side by side with 'none' to show what the copies buy.
type Mode = 'forward' | Recompute | 'convtranspose';
const ALL_MODES: readonly Mode[] = ['forward', 'none', 'points', 'convtranspose'];
const TRAIN_MODES: Readonly<Record<Exclude<Mode, 'forward'>, { readonly recompute: Recompute; readonly filterCopyShare?: number }>> = {
  none: { recompute: 'none' },
  points: { recompute: 'points' },
  convtranspose: { recompute: 'none', filterCopyShare: 0 },
};

/** A comma-separated list from environment variable `name`, each item one of `allowed`; `defaults` when unset. */
function listFromEnv<T extends string>(name: string, allowed: readonly T[], defaults: readonly T[]): readonly T[] {
  const given = process.env[name];
  if (given === undefined) return defaults;
  const items = given.split(',');
  const unknown = items.filter((item) => !(allowed as readonly string[]).includes(item));
  if (unknown.length > 0) throw new Error(`${name}: unknown ${unknown.join(', ')}; choose from ${allowed.join(', ')}.`);
  return items as T[];
}

// AFA_BENCH_TRAIN_MODES=forward,none (comma-separated) measures only those; the ratios need 'forward'.
const MODES = listFromEnv('AFA_BENCH_TRAIN_MODES', ALL_MODES, ALL_MODES);

function experts(s: Scale): Expert[] {
  return Array.from({ length: EXPERTS }, (_, k) => syntheticExpert(s.config, k));
}

function aggregators(s: Scale): AggregatorSet {
  return syntheticAggregators(s.config, s.aggregator, EXPERTS);
}

function shape(s: Scale) {
  return { batch: BATCH, height: s.latent, width: s.latent, tokens: TOKENS };
}

function trainingGraph(s: Scale, mode: Exclude<Mode, 'forward'>): TrainingGraph {
  return buildAfaTrainingGraph(experts(s), aggregators(s), shape(s), { ...TRAIN_MODES[mode], name: `train_${mode}` });
}

interface Prepared {
  readonly expertBytes: number;
  readonly aggregatorParameters: number;
  readonly nodes: Readonly<Record<Mode, number>>;
  readonly recomputedNodes: number;
  readonly segments: { readonly recomputed: number; readonly kept: number };
  readonly keptBytes: Readonly<Record<Recompute, number>>;
  readonly filterCopies: { readonly bytes: number; readonly convolutions: number };
  readonly saveSeconds: number;
}

function prepare(s: Scale, dir: string): Prepared {
  const members = experts(s);
  const forward = buildLockStepGraph(members, { kind: 'aggregators', aggregators: aggregators(s) }, { name: 'forward', inputShape: shape(s) });
  const none = trainingGraph(s, 'none');
  const points = trainingGraph(s, 'points');
  const convTranspose = trainingGraph(s, 'convtranspose');
  const start = performance.now();
  saveModels(
    [forward, none.graph, points.graph, convTranspose.graph].map((graph) => ({ graph, modelFile: `${graph.name}.onnx` })),
    { dir, weightsFile: 'train.weights' },
  );
  // Synthetic weights know their names once a graph asked for them (the forward graph did).
  const expertWeights = members.map((expert) => expert.weights as SyntheticWeights);
  const expertBytes = expertWeights.reduce((sum, weights) => sum + 4 * weights.names().reduce((n, name) => n + sizeOf(weights.get(name).shape), 0), 0);
  return {
    expertBytes,
    aggregatorParameters: none.parameters.reduce((n, parameter) => n + sizeOf(parameter.source.shape), 0),
    nodes: { forward: forward.nodes.length, none: none.graph.nodes.length, points: points.graph.nodes.length, convtranspose: convTranspose.graph.nodes.length },
    recomputedNodes: points.stats.recomputed,
    segments: { recomputed: points.stats.segments, kept: points.stats.keptSegments },
    keptBytes: { none: none.stats.keptBytes, points: points.stats.keptBytes },
    filterCopies: { bytes: none.stats.filterCopyBytes, convolutions: none.stats.convolutionsOnCopies },
    saveSeconds: (performance.now() - start) / 1000,
  };
}

interface Measurement {
  readonly sessionSeconds: number;
  readonly peakRssBytes: number;
  readonly steps: number[];
  readonly optimizerSeconds: number[];
  /** This process's CPU seconds (user + system) per timed step. */
  readonly cpuSeconds: number;
  /** Of which in the kernel (mostly page faults on fresh memory). */
  readonly systemSeconds: number;
  /** Minor page faults per timed step. */
  readonly pageFaults: number;
  readonly foreignLoad?: number;
  readonly profile?: OpProfile;
}

async function measure(s: Scale, dir: string, mode: Mode): Promise<Measurement> {
  const start = performance.now();
  // The forward as inference runs it; training steps with the training sessions' options.
  const profile = PROFILE ? join(dir, `profile-${mode}`) : undefined;
  const options = { ...(mode === 'forward' ? {} : TRAINING_SESSION_DEFAULTS), ...(profile ? { profile } : {}) };
  const session = await ModelSession.create(join(dir, `${mode === 'forward' ? 'forward' : `train_${mode}`}.onnx`), options);
  const sessionSeconds = (performance.now() - start) / 1000;
  const feeds: Record<string, Tensor> = {
    [TRAINING_INPUTS.sample]: randomTensor([BATCH, 4, s.latent, s.latent], 1),
    [TRAINING_INPUTS.timestep]: { dtype: 'float32', shape: [BATCH], data: Float32Array.from({ length: BATCH }, () => 500) },
    [TRAINING_INPUTS.context]: randomTensor([EXPERTS, BATCH, TOKENS, s.config.cross_attention_dim], 2),
  };
  let optimizer: AdamW | undefined;
  const parameters = new Map<string, Float32Array>();
  if (mode !== 'forward') {
    feeds[TRAINING_INPUTS.target] = randomTensor([BATCH, 4, s.latent, s.latent], 3);
    for (const parameter of trainingGraph(s, mode).parameters) {
      // In shared memory, as TrainingSession keeps them.
      const values = sharedFloat32(parameter.source.read().data as Float32Array);
      parameters.set(parameter.value.name, values);
      feeds[parameter.value.name] = { dtype: 'float32', shape: parameter.source.shape, data: values };
    }
    optimizer = new AdamW();
  }
  const step = async () => {
    const outputs = await session.run(feeds);
    if (!optimizer) return 0;
    const gradients = new Map<string, Float32Array>();
    for (const name of parameters.keys()) gradients.set(name, outputs[`grad/${name}`]!.data as Float32Array);
    const before = performance.now();
    await optimizer.updateInParallel(parameters, gradients);
    return (performance.now() - before) / 1000;
  };
  await step(); // warm-up: first-run allocations
  const peak = peakRssBytes();
  const steps: number[] = [];
  const optimizerSeconds: number[] = [];
  const [busyBefore, ownBefore, wallBefore] = [machineBusySeconds(), process.cpuUsage(), performance.now()];
  const faultsBefore = process.resourceUsage().minorPageFault;
  const runs = RUNS ?? s.runs;
  for (let run = 0; run < runs; run++) {
    const begin = performance.now();
    optimizerSeconds.push(await step());
    steps.push((performance.now() - begin) / 1000);
  }
  const used = process.cpuUsage(ownBefore);
  const wall = (performance.now() - wallBefore) / 1000;
  const busy = (machineBusySeconds() ?? NaN) - (busyBefore ?? NaN);
  await session.release();
  const foreignLoad = Number.isNaN(busy) ? undefined : Math.max(0, busy - (used.user + used.system) / 1e6) / (wall * availableParallelism());
  const cpuSeconds = (used.user + used.system) / 1e6 / runs;
  const systemSeconds = used.system / 1e6 / runs;
  const pageFaults = (process.resourceUsage().minorPageFault - faultsBefore) / runs;
  return { sessionSeconds, peakRssBytes: peak, steps, optimizerSeconds, cpuSeconds, systemSeconds, pageFaults, foreignLoad, ...(profile ? { profile: readOpProfile(profile, 1) } : {}) };
}

const MARKER = 'BENCH-TRAIN ';

function child<T>(args: readonly string[]): T {
  return runChild<T>(fileURLToPath(import.meta.url), MARKER, args);
}

async function benchScale(key: string): Promise<BenchResult[]> {
  const s = SCALES[key]!;
  const dir = mkdtempSync(join(tmpdir(), `bench-train-${key}-`));
  try {
    process.stderr.write(`train bench (${s.label}): building and saving the graphs in ${dir}\n`);
    const prepared = child<Prepared>(['--prepare', key, dir]);
    const label = (text: string) => `${key}: ${text}`;
    const results: BenchResult[] = [
      { name: label("experts' weights"), value: prepared.expertBytes / 1e9, unit: 'GB' },
      { name: label('weights file'), value: statSync(join(dir, 'train.weights')).size / 1e9, unit: 'GB' },
      { name: label('aggregator parameters'), value: prepared.aggregatorParameters, unit: 'parameters' },
      { name: label('nodes forward / train / train+recompute'), value: prepared.nodes.points, unit: `nodes (${prepared.nodes.forward} / ${prepared.nodes.none} / ${prepared.nodes.points}; ${prepared.recomputedNodes} recomputed in ${prepared.segments.recomputed} segments, ${prepared.segments.kept} segments kept)` },
    ];
    results.push(
      { name: label('activations kept for the backward, without / with recomputation'), value: prepared.keptBytes.none / 1e9, unit: `GB (${(prepared.keptBytes.points / 1e9).toFixed(3)} GB with)` },
      { name: label('filter copies (dX of stride-1 convolutions as Conv)'), value: prepared.filterCopies.bytes / 1e9, unit: `GB (${prepared.filterCopies.convolutions} convolutions)` },
    );
    const measured: Partial<Record<Mode, Measurement>> = {};
    for (const mode of MODES) {
      process.stderr.write(`  measuring ${mode}\n`);
      try {
        measured[mode] = child<Measurement>(['--measure', key, dir, mode]);
      } catch (error) {
        // Reported as a row (e.g. killed for memory), so the other configurations still count.
        results.push({ name: label(`${mode}: FAILED`), value: NaN, unit: (error as Error).message.slice(0, 200), pass: false });
      }
    }
    const forward = measured.forward ? median(measured.forward.steps) : NaN;
    for (const mode of MODES) {
      const m = measured[mode];
      if (!m) continue;
      const step = median(m.steps);
      const name = mode === 'forward' ? 'AFA forward' : mode === 'none' ? 'AFA train step' : mode === 'points' ? 'AFA train step, recomputed per point' : 'AFA train step without filter copies';
      results.push(
        { name: label(`${name}: session creation`), value: m.sessionSeconds, unit: 's' },
        { name: label(`${name}: step (median of ${m.steps.length})`), value: step, unit: 's' },
        { name: label(`${name}: CPU time per step (this process)`), value: m.cpuSeconds, unit: 's' },
        { name: label(`${name}: of which system time`), value: m.systemSeconds, unit: 's' },
        { name: label(`${name}: minor page faults per step`), value: m.pageFaults, unit: 'faults' },
        { name: label(`${name}: peak RSS`), value: m.peakRssBytes / 1e9, unit: 'GB' },
        { name: label(`${name}: peak RSS / experts' weights`), value: m.peakRssBytes / prepared.expertBytes, unit: 'ratio', ...(mode === 'points' && key === 'sd15' ? { target: '≤ 1.5', pass: m.peakRssBytes <= 1.5 * prepared.expertBytes } : {}) },
      );
      if (mode !== 'forward') {
        const target = mode === 'none' ? 3 : mode === 'points' ? 4 : undefined;
        results.push(
          { name: label(`${name} / forward step`), value: step / forward, unit: 'ratio', ...(target === undefined ? {} : { target: `≤ ${target.toFixed(1)}`, pass: step / forward <= target }) },
          { name: label(`${name}: AdamW share of the step`), value: median(m.optimizerSeconds) / step, unit: 'ratio' },
        );
      }
      if (m.profile) {
        const top = m.profile.byOp.slice(0, 10).map((op) => `${op.op} ${op.ms.toFixed(0)}`).join(', ');
        results.push({ name: label(`${name}: kernel time per step (top ops, ms)`), value: m.profile.kernelMs / 1000, unit: `s (${top})` });
        process.stderr.write(`  ${key} ${mode} profile:\n${formatOpProfile(m.profile).map((line) => `    ${line}\n`).join('')}`);
      }
      if (m.foreignLoad !== undefined) results.push({ name: label(`${name}: other processes' CPU share`), value: m.foreignLoad, unit: 'ratio', target: '< 0.05 (else contended)', pass: m.foreignLoad < 0.05 });
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchTrain(): Promise<BenchResult[]> {
  // AFA_BENCH_TRAIN_SCALES=sd15 (comma-separated) measures only the named scales.
  const keys = listFromEnv('AFA_BENCH_TRAIN_SCALES', Object.keys(SCALES), process.env.AFA_BENCH_QUICK === '1' ? ['tiny'] : ['tiny', 'sd15']);
  const results: BenchResult[] = [];
  for (const key of keys) results.push(...(await benchScale(key)));
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = (flag: string) => process.argv.indexOf(flag);
  if (at('--prepare') > 0) {
    const [key, dir] = [process.argv[at('--prepare') + 1]!, process.argv[at('--prepare') + 2]!];
    console.log(MARKER + JSON.stringify(prepare(SCALES[key]!, dir)));
  } else if (at('--measure') > 0) {
    const [key, dir, mode] = [process.argv[at('--measure') + 1]!, process.argv[at('--measure') + 2]!, process.argv[at('--measure') + 3] as Mode];
    console.log(MARKER + JSON.stringify(await measure(SCALES[key]!, dir, mode)));
  } else {
    for (const result of await benchTrain()) {
      const verdict = result.pass === undefined ? '' : result.pass ? '  pass' : '  FAIL';
      console.log(`${result.name.padEnd(60)} ${result.value.toPrecision(4).padStart(10)} ${result.unit}${result.target ? `  (${result.target})` : ''}${verdict}`);
    }
  }
}
