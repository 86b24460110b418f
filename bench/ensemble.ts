// Ensemble benchmark (the issue's numbers): three SD1.5-size experts with synthetic weights, one CPU
// denoising step at 256² pixels (32² latents) with batch 2 (classifier-free guidance), for
//   - each expert alone (its whole U-Net graph),
//   - AFA: the lock-step graph with 25 SABW aggregators (SD1.5 defaults: hidden 128, 8 heads, 2 layers),
//   - feature averaging (the lock-step graph with a plain mean at every point),
//   - output averaging (three whole U-Nets, noise predictions averaged),
// against the targets: AFA step ÷ (sum of the three single steps) ≤ 1.10, the averages ≤ 1.05, and AFA's
// peak RSS ≤ the experts' weights + 15 %. (The official PyTorch code measured 1.254 on this kind of
// machine: 15.7 s vs 4.18 s single at 256²; the aggregators' arithmetic is ≈ 6 % of the experts'.)
//
// All graphs are saved together, so every weight is written once (≈ 10.4 GB, streamed one tensor at a
// time) and each expert's weights are shared by name (`expert{k}.…`) between its single graph and the
// ensembles. Each configuration is measured in its own child process, one after another, so peak RSS
// (VmHWM) is that configuration's own; times are medians of RUNS steps after one warm-up step, with the
// children ordered single, ensemble, single, … so slow drifts of a shared machine spread over both.
//
// `node --import tsx bench/ensemble.ts` runs it standalone; `npm run bench -- ensemble` through run-bench.
// AFA_BENCH_QUICK=1 shrinks it to a smoke test (narrow U-Net, 16² latents, one timed step).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './bench-result.ts';
import { SD15_AGGREGATOR_DEFAULTS, type AggregatorConfig } from '../app/ensemble/aggregator-config.ts';
import type { AggregatorSet } from '../app/ensemble/aggregator-set.ts';
import { buildLockStepGraph, buildOutputAverageGraph, expertNamespace, type Expert } from '../app/ensemble/lock-step-graph.ts';
import { plausibleWeight, SyntheticWeights } from '../app/models/synthetic-weights.ts';
import { SD15_UNET_CONFIG, type UnetConfig } from '../app/models/unet-config.ts';
import { unetLayout } from '../app/models/unet-layout.ts';
import { addUnet } from '../app/models/unet.ts';
import { unetTimestep } from '../app/models/unet-timestep.ts';
import { Graph } from '../app/onnx/graph.ts';
import { saveModels } from '../app/onnx/serialize.ts';
import { ModelSession, type SessionOptions } from '../app/runtime/onnx-runtime.ts';
import { sizeOf, type Tensor } from '../app/tensor/tensor.ts';

const EXPERTS = 3;
const BATCH = 2;

interface Scale {
  readonly label: string;
  readonly config: UnetConfig;
  readonly latent: number;
  readonly aggregator: { readonly hiddenSize: number; readonly numAttentionHeads: number; readonly numLayers: number };
  /** Timed steps per configuration (after one warm-up step); the median counts. */
  readonly runs: number;
}

const FULL: Scale = { label: 'SD1.5, 256²', config: SD15_UNET_CONFIG, latent: 32, aggregator: SD15_AGGREGATOR_DEFAULTS, runs: 5 };

const QUICK: Scale = {
  label: 'quick (narrow U-Net, 128²)',
  config: { ...SD15_UNET_CONFIG, block_out_channels: [32, 64, 64, 64], cross_attention_dim: 64 },
  latent: 16,
  aggregator: { hiddenSize: 32, numAttentionHeads: 2, numLayers: 2 },
  runs: 1,
};

function scale(): Scale {
  return process.env.AFA_BENCH_QUICK === '1' ? QUICK : FULL;
}

/** The measured configurations: model file (without .onnx) and session options. */
interface Configuration {
  readonly name: string;
  readonly model: string;
  readonly prepackWeights: boolean;
  /** Prompt embeddings per expert ([K, B, 77, D]) instead of one [B, 77, D]. */
  readonly ensemble: boolean;
}

const SINGLES: readonly Configuration[] = Array.from({ length: EXPERTS }, (_, k) => ({ name: `expert ${k + 1} alone`, model: `single${k}`, prepackWeights: true, ensemble: false }));
const AFA: Configuration = { name: 'AFA (25 aggregators)', model: 'afa', prepackWeights: true, ensemble: true };
const AFA_UNPACKED: Configuration = { name: 'AFA, prepacking off', model: 'afa', prepackWeights: false, ensemble: true };
const FEATURE_AVERAGE: Configuration = { name: 'feature average', model: 'feature_average', prepackWeights: true, ensemble: true };
const OUTPUT_AVERAGE: Configuration = { name: 'output average', model: 'output_average', prepackWeights: true, ensemble: true };

/** Singles interleaved with the ensembles (see the header). */
const ORDER: readonly Configuration[] = [SINGLES[0]!, AFA, SINGLES[1]!, FEATURE_AVERAGE, SINGLES[2]!, OUTPUT_AVERAGE, AFA_UNPACKED];

function syntheticExpert(config: UnetConfig, index: number): Expert {
  // A different seed per expert: three distinct checkpoints of one architecture.
  return { config, weights: new SyntheticWeights((name, shape) => plausibleWeight(name, shape, index + 1), `synthetic expert ${index + 1}`) };
}

/** 25 aggregators for an SD1.x layout, with synthetic weights under the official state-dict names. */
function syntheticAggregators(s: Scale): AggregatorSet {
  const configs: AggregatorConfig[] = unetLayout(s.config).map((point) => ({
    inChannels: point.outChannels,
    ...s.aggregator,
    numExperts: EXPERTS,
    crossAttentionDim: s.config.cross_attention_dim,
    timeEmbeddingChannels: 4 * s.config.block_out_channels[0]!,
  }));
  return {
    source: 'synthetic aggregators',
    configs,
    weights: configs.map((_, index) => new SyntheticWeights((name, shape) => plausibleWeight(name, shape, 100 + index), `synthetic aggregator ${index}`)),
  };
}

/** Expert k's whole U-Net under the same weight names as in the ensemble graphs, so all share one file. */
function singleGraph(expert: Expert, index: number): Graph {
  const g = new Graph(`single${index}`);
  const { noisePred } = g.weightNamespace(expertNamespace(index), () => addUnet(g, expert.weights, expert.config));
  g.output(noisePred, 'noise_pred');
  return g;
}

interface Prepared {
  readonly results: BenchResult[];
  readonly expertBytes: number;
}

function prepare(s: Scale, dir: string): Prepared {
  const experts = Array.from({ length: EXPERTS }, (_, k) => syntheticExpert(s.config, k));
  let start = performance.now();
  const graphs = [
    ...experts.map((expert, k) => singleGraph(expert, k)),
    buildLockStepGraph(experts, { kind: 'aggregators', aggregators: syntheticAggregators(s) }, { name: 'afa' }),
    buildLockStepGraph(experts, { kind: 'mean' }, { name: 'feature_average' }),
    buildOutputAverageGraph(experts, Array.from({ length: EXPERTS }, () => 1 / EXPERTS), 'output_average'),
  ];
  const buildSeconds = (performance.now() - start) / 1000;
  const expertBytes = experts.reduce((sum, expert) => sum + 4 * (expert.weights as SyntheticWeights).names().reduce((n, name) => n + sizeOf(expert.weights.get(name).shape), 0), 0);
  start = performance.now();
  let reported = 0;
  const saved = saveModels(
    graphs.map((graph) => ({ graph, modelFile: `${graph.name}.onnx` })),
    {
      dir,
      weightsFile: 'ensemble.weights',
      onProgress: ({ done, total }) => {
        if (total && done - reported > total / 10) {
          reported = done;
          process.stderr.write(`  writing weights ${((100 * done) / total).toFixed(0)} %\n`);
        }
      },
    },
  );
  const saveSeconds = (performance.now() - start) / 1000;
  const afa = graphs.find((graph) => graph.name === 'afa')!;
  return {
    expertBytes,
    results: [
      { name: `scale`, value: s.latent * 8, unit: `px (${s.label})` },
      { name: 'experts\' weights (3 × fp32 U-Net)', value: expertBytes / 1e9, unit: 'GB' },
      { name: 'weights file (experts + aggregators)', value: statSync(saved.weightsPath as string).size / 1e9, unit: 'GB' },
      { name: 'AFA graph nodes', value: afa.nodes.length, unit: 'nodes' },
      { name: 'build 6 graphs', value: buildSeconds, unit: 's' },
      { name: 'save (synthetic weights streamed)', value: saveSeconds, unit: 's' },
    ],
  };
}

function randomTensor(shape: readonly number[], seed: number): Tensor<'float32'> {
  const data = new Float32Array(sizeOf(shape));
  let state = seed;
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state / 2 ** 31 - 1;
  }
  return { dtype: 'float32', shape: [...shape], data };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Peak resident set of this process in bytes (VmHWM; maxRSS where /proc is missing). */
function peakRssBytes(): number {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((text) => text.startsWith('VmHWM:'));
    if (line) return Number(line.replace(/\D+/g, '')) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Busy CPU seconds of the whole machine so far (all cores, /proc/stat; undefined where it is missing). */
function machineBusySeconds(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …: everything but idle and iowait, in 1/100 s.
    return fields.reduce((sum, value, index) => (index === 3 || index === 4 ? sum : sum + value), 0) / 100;
  } catch {
    return undefined;
  }
}

interface Measurement {
  /**
   * Share of the machine's CPU capacity that other processes used while the steps were timed: above a
   * few percent the times are inflated by someone else's work (the machine is shared), not this run's.
   */
  readonly foreignLoad?: number;
  readonly sessionSeconds: number;
  /** Wall seconds per step, each timed run. */
  readonly steps: readonly number[];
  /** Process CPU seconds per step (less sensitive to other jobs on the machine than wall time). */
  readonly cpuSteps: readonly number[];
  readonly peakRssBytes: number;
}

async function measure(s: Scale, modelPath: string, configuration: Configuration): Promise<Measurement> {
  const options: SessionOptions = { prepackWeights: configuration.prepackWeights };
  let start = performance.now();
  const session = await ModelSession.create(modelPath, options);
  const sessionSeconds = (performance.now() - start) / 1000;
  const dim = s.config.cross_attention_dim;
  const feeds = {
    sample: randomTensor([BATCH, 4, s.latent, s.latent], 1),
    timestep: unetTimestep(500, BATCH),
    encoder_hidden_states: randomTensor(configuration.ensemble ? [EXPERTS, BATCH, 77, dim] : [BATCH, 77, dim], 2),
  };
  const steps: number[] = [];
  const cpuSteps: number[] = [];
  await session.run(feeds, ['noise_pred']); // warm-up: first-run allocations and memory pattern
  const [busyBefore, ownBefore, wallBefore] = [machineBusySeconds(), process.cpuUsage(), performance.now()];
  for (let run = 0; run < s.runs; run++) {
    start = performance.now();
    const cpu = process.cpuUsage();
    await session.run(feeds, ['noise_pred']);
    const used = process.cpuUsage(cpu);
    steps.push((performance.now() - start) / 1000);
    cpuSteps.push((used.user + used.system) / 1e6);
  }
  const [busyAfter, own] = [machineBusySeconds(), process.cpuUsage(ownBefore)];
  const capacity = ((performance.now() - wallBefore) / 1000) * availableParallelism();
  const foreignLoad = busyBefore === undefined || busyAfter === undefined ? undefined : Math.max(0, busyAfter - busyBefore - (own.user + own.system) / 1e6) / capacity;
  await session.release();
  return { foreignLoad, sessionSeconds, steps, cpuSteps, peakRssBytes: peakRssBytes() };
}

const MARKER = 'BENCH-ENSEMBLE ';

function child<T>(args: readonly string[]): T {
  const result = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = result.stdout.split('\n').find((text) => text.startsWith(MARKER));
  if (result.status !== 0 || !line) throw new Error(`the ensemble benchmark child ${args.join(' ')} failed (status ${result.status}, signal ${result.signal}): ${result.stdout.slice(-2000)}`);
  return JSON.parse(line.slice(MARKER.length)) as T;
}

export async function benchEnsemble(): Promise<BenchResult[]> {
  const s = scale();
  const dir = process.env.AFA_BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'bench-ensemble-'));
  try {
    // AFA_BENCH_DIR keeps the saved models between runs (for profiling one configuration at a time).
    const preparedPath = join(dir, 'prepared.json');
    let prepared: Prepared;
    if (existsSync(preparedPath)) {
      prepared = JSON.parse(readFileSync(preparedPath, 'utf8')) as Prepared;
    } else {
      process.stderr.write(`ensemble bench (${s.label}): building and saving the graphs in ${dir}\n`);
      prepared = child<Prepared>(['--prepare', dir]);
      if (process.env.AFA_BENCH_DIR) writeFileSync(preparedPath, JSON.stringify(prepared));
    }
    const results: BenchResult[] = [...prepared.results];
    const measured = new Map<Configuration, Measurement>();
    for (const configuration of ORDER) {
      process.stderr.write(`  measuring ${configuration.name}\n`);
      measured.set(configuration, child<Measurement>(['--measure', join(dir, `${configuration.model}.onnx`), String(ORDER.indexOf(configuration))]));
    }
    const seconds = (configuration: Configuration) => median(measured.get(configuration)!.steps);
    const cpuSeconds = (configuration: Configuration) => median(measured.get(configuration)!.cpuSteps);
    const singleSum = SINGLES.reduce((sum, single) => sum + seconds(single), 0);
    const singleCpuSum = SINGLES.reduce((sum, single) => sum + cpuSeconds(single), 0);
    for (const configuration of ORDER) {
      const m = measured.get(configuration)!;
      results.push(
        { name: `${configuration.name}: session creation`, value: m.sessionSeconds, unit: 's' },
        { name: `${configuration.name}: step (median of ${m.steps.length})`, value: seconds(configuration), unit: 's' },
        { name: `${configuration.name}: fastest step`, value: Math.min(...m.steps), unit: 's' },
        { name: `${configuration.name}: step CPU time`, value: cpuSeconds(configuration), unit: 's' },
        { name: `${configuration.name}: peak RSS`, value: m.peakRssBytes / 1e9, unit: 'GB' },
      );
      if (m.foreignLoad !== undefined) {
        results.push({ name: `${configuration.name}: other processes' CPU share`, value: m.foreignLoad, unit: 'ratio', target: '< 0.05 (else contended)', pass: m.foreignLoad < 0.05 });
      }
    }
    results.push({ name: 'sum of the three single steps', value: singleSum, unit: 's' });
    const ratio = (name: string, configuration: Configuration, target: number) => {
      const value = seconds(configuration) / singleSum;
      results.push(
        { name: `${name} step / sum of singles`, value, unit: 'ratio', target: `≤ ${target.toFixed(2)}`, pass: value <= target },
        { name: `${name} CPU time / sum of singles`, value: cpuSeconds(configuration) / singleCpuSum, unit: 'ratio' },
      );
    };
    ratio('AFA', AFA, 1.1);
    ratio('AFA (prepacking off)', AFA_UNPACKED, 1.1);
    ratio('feature average', FEATURE_AVERAGE, 1.05);
    ratio('output average', OUTPUT_AVERAGE, 1.05);
    const budget = prepared.expertBytes * 1.15;
    for (const configuration of [AFA, AFA_UNPACKED]) {
      const peak = measured.get(configuration)!.peakRssBytes;
      results.push({
        name: `${configuration.name}: peak RSS / experts' weights`,
        value: peak / prepared.expertBytes,
        unit: 'ratio',
        target: `≤ 1.15 (${(budget / 1e9).toFixed(2)} GB)`,
        pass: peak <= budget,
      });
    }
    return results;
  } finally {
    if (!process.env.AFA_BENCH_DIR) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = (flag: string) => process.argv.indexOf(flag);
  if (at('--prepare') > 0) {
    console.log(MARKER + JSON.stringify(prepare(scale(), process.argv[at('--prepare') + 1]!)));
  } else if (at('--measure') > 0) {
    const [modelPath, index] = [process.argv[at('--measure') + 1]!, Number(process.argv[at('--measure') + 2])];
    console.log(MARKER + JSON.stringify(await measure(scale(), modelPath, ORDER[index]!)));
  } else {
    for (const result of await benchEnsemble()) {
      const verdict = result.pass === undefined ? '' : result.pass ? '  pass' : '  FAIL';
      console.log(`${result.name.padEnd(48)} ${result.value.toPrecision(4).padStart(10)} ${result.unit}${result.target ? `  (${result.target})` : ''}${verdict}`);
    }
  }
}
