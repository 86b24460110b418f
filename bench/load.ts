// Load benchmark (time to first image): session creation of one SD1.5-size U-Net and of the 3-expert AFA
// lock-step graph (synthetic weights, as bench/ensemble.ts), on the CPU:
//   - before: the model as saved, optimized by onnxruntime at every session creation (no cache);
//   - first load: the optimized-model cache is empty, so onnxruntime optimizes the model once and writes
//     its optimized graph (app/runtime/optimized-models.ts) — the compile of that cache, once per model;
//   - cold: the cached model with the weights files dropped from the page cache (`dd iflag=nocache`:
//     a fresh boot, or a model not used for a long time);
//   - warm: the cached model again (second start of the studio);
// each in a child process of its own (its peak RSS is its own), with the peak RSS during the load and
// each phase's share (from onnxruntime's verbose log, whose timestamps are parsed; logging slows the
// load, so the shares come from separate runs and the times from quiet ones). Still warm, the time from
// `enqueue` to the first step's progress event through GenerationEngine (text encoder, U-Net or AFA
// graph, VAE decoder; cache built), showing the 'load' phase and each model's seconds in it. Then steps
// of the cached session against the uncached one, in one process (the cached graph must not be slower):
// alternated for the U-Net, one after the other for AFA (both AFA sessions would not fit in memory at
// once), and alternated again for an AFA graph of two experts (both fit: the fair comparison of AFA's
// graph, since one after the other mixes in the machine's drift); CPU time per step is the figure to
// trust on a busy machine.
//
// Targets (2-core machine): warm U-Net ≤ 5 s, warm AFA ≤ 15 s, cold ≤ 2 × warm, peak RSS during load
// ≤ 1.1 × the weights. `npm run bench -- load`; AFA_BENCH_QUICK=1 for a narrow U-Net (smoke test).
// AFA_BENCH_DIR keeps the saved models between runs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './bench-result.ts';
import { median, randomTensor } from './bench-math.ts';
import { peakRssBytes } from './process-stats.ts';
import { syntheticAggregators, syntheticExpert } from './synthetic-ensemble.ts';
import { SD15_AGGREGATOR_DEFAULTS } from '../app/ensemble/aggregator-config.ts';
import { cachedGraphRunner, EnsembleDenoiser } from '../app/ensemble/ensemble-denoiser.ts';
import { buildLockStepGraph, expertNamespace, type Expert } from '../app/ensemble/lock-step-graph.ts';
import { Library } from '../app/library/library.ts';
import { SD15_TEXT_ENCODER_CONFIG, type ClipTextConfig } from '../app/models/clip-text-config.ts';
import { componentGraphs } from '../app/models/compile-component.ts';
import { SyntheticWeights } from '../app/models/synthetic-weights.ts';
import { SD15_UNET_CONFIG, type UnetConfig } from '../app/models/unet-config.ts';
import { addUnet } from '../app/models/unet.ts';
import { unetTimestep } from '../app/models/unet-timestep.ts';
import { SD15_VAE_CONFIG, type VaeConfig } from '../app/models/vae-config.ts';
import { Graph } from '../app/onnx/graph.ts';
import { saveModels } from '../app/onnx/serialize.ts';
import { GenerationEngine } from '../app/pipeline/generation-engine.ts';
import { createModelRuntime, CachedModel } from '../app/pipeline/model-runtime.ts';
import { ModelDenoiser, VaeLatentDecoder } from '../app/pipeline/model-denoiser.ts';
import { engineMemoryEnvironment } from '../app/runtime/engine-memory.ts';
import { ModelSession, type SessionOptions } from '../app/runtime/onnx-runtime.ts';
import { sizeOf } from '../app/tensor/tensor.ts';
import { ClipTokenizer } from '../app/tokenizer/clip-tokenizer.ts';

const EXPERTS = 3;
const BATCH = 2;

interface Scale {
  readonly label: string;
  readonly unet: UnetConfig;
  readonly textEncoder: ClipTextConfig;
  readonly vae: VaeConfig;
  readonly latent: number;
  readonly aggregator: { readonly hiddenSize: number; readonly numAttentionHeads: number; readonly numLayers: number };
  /** Timed steps per session (after one warm-up). */
  readonly steps: number;
}

const FULL: Scale = { label: 'SD1.5, 256²', unet: SD15_UNET_CONFIG, textEncoder: SD15_TEXT_ENCODER_CONFIG, vae: SD15_VAE_CONFIG, latent: 32, aggregator: SD15_AGGREGATOR_DEFAULTS, steps: 4 };

const QUICK: Scale = {
  label: 'quick (narrow U-Net, 128²)',
  unet: { ...SD15_UNET_CONFIG, block_out_channels: [32, 64, 64, 64], cross_attention_dim: 64 },
  textEncoder: { ...SD15_TEXT_ENCODER_CONFIG, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 2 },
  vae: { ...SD15_VAE_CONFIG, block_out_channels: [32, 32, 64, 64] },
  latent: 16,
  aggregator: { hiddenSize: 32, numAttentionHeads: 2, numLayers: 2 },
  steps: 2,
};

function scale(): Scale {
  return process.env.AFA_BENCH_QUICK === '1' ? QUICK : FULL;
}

/** The two measured models: one expert's whole U-Net and the AFA graph of three (file names in the bench dir). */
const MODELS = [
  { name: 'U-Net', file: 'unet.onnx', experts: 1, warmTarget: 5 },
  { name: 'AFA (3 experts)', file: 'afa.onnx', experts: EXPERTS, warmTarget: 15 },
] as const;
type MeasuredModel = (typeof MODELS)[number];

/** The AFA graph of two experts, only for steps of its cached and uncached sessions, alternated. */
const AFA_PAIR = { name: 'AFA (2 experts)', file: 'afa2.onnx', experts: 2 } as const;

function expertsOf(file: string): number {
  return file === AFA_PAIR.file ? AFA_PAIR.experts : MODELS.find((entry) => entry.file === file)!.experts;
}

function singleGraph(expert: Expert): Graph {
  const g = new Graph('unet');
  const { noisePred } = g.weightNamespace(expertNamespace(0), () => addUnet(g, expert.weights, expert.config));
  g.output(noisePred, 'noise_pred');
  return g;
}

interface Prepared {
  readonly results: BenchResult[];
  /** Bytes of the weights each measured model runs on (fp32), by file. */
  readonly weightBytes: Record<string, number>;
}

function prepare(s: Scale, dir: string): Prepared {
  const experts = Array.from({ length: EXPERTS }, (_, k) => syntheticExpert(s.unet, k));
  const graphs = [
    { graph: singleGraph(experts[0]!), modelFile: 'unet.onnx' },
    { graph: buildLockStepGraph(experts, { kind: 'aggregators', aggregators: syntheticAggregators(s.unet, s.aggregator, EXPERTS) }, { name: 'afa' }), modelFile: 'afa.onnx' },
    {
      graph: buildLockStepGraph(experts.slice(0, AFA_PAIR.experts), { kind: 'aggregators', aggregators: syntheticAggregators(s.unet, s.aggregator, AFA_PAIR.experts) }, { name: 'afa2' }),
      modelFile: AFA_PAIR.file,
    },
    { graph: componentGraphs({ kind: 'text-encoder', config: s.textEncoder, weights: new SyntheticWeights() }).get('text_encoder')!, modelFile: 'text_encoder.onnx' },
    { graph: componentGraphs({ kind: 'vae-decoder', config: s.vae, weights: new SyntheticWeights() }).get('vae_decoder')!, modelFile: 'vae_decoder.onnx' },
  ];
  const start = performance.now();
  // One weights file per model, so dropping one model's pages (cold) leaves the others' alone.
  for (const { graph, modelFile } of graphs) saveModels([{ graph, modelFile }], { dir, weightsFile: modelFile.replace('.onnx', '.weights') });
  const expertBytes = 4 * (experts[0]!.weights as SyntheticWeights).names().reduce((n, name) => n + sizeOf(experts[0]!.weights.get(name).shape), 0);
  const weightBytes = { 'unet.onnx': statSync(join(dir, 'unet.weights')).size, 'afa.onnx': statSync(join(dir, 'afa.weights')).size };
  return {
    weightBytes,
    results: [
      { name: 'scale', value: s.latent * 8, unit: `px (${s.label})` },
      { name: 'U-Net weights (fp32)', value: expertBytes / 1e9, unit: 'GB' },
      { name: 'AFA weights (3 experts + aggregators)', value: weightBytes['afa.onnx'] / 1e9, unit: 'GB' },
      { name: 'build and save the graphs', value: (performance.now() - start) / 1000, unit: 's' },
    ],
  };
}

/** Seconds (or other measures) of each step, as a list in a row's unit. */
function listed(values: readonly number[]): string {
  return values.map((t) => t.toFixed(2)).join(', ');
}

/** Drops `files` from the page cache (GNU dd's nocache flag: posix_fadvise DONTNEED over the whole file). */
function dropPageCache(files: readonly string[]): void {
  for (const file of files) spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

interface LoadMeasurement {
  readonly seconds: number;
  /** CPU seconds of the process during the load (all threads): less sensitive to other work on the machine. */
  readonly cpuSeconds: number;
  readonly peakRssBytes: number;
  /** RSS before the load began (Node, tsx, onnxruntime's library). */
  readonly baseRssBytes: number;
  readonly source: string;
}

interface Timed {
  readonly wall: number[];
  readonly cpu: number[];
  /** Major page faults (pages read from disk) per step. */
  readonly majorFaults: number[];
}

function feedsFor(s: Scale, experts: number) {
  const dim = s.unet.cross_attention_dim;
  return {
    sample: randomTensor([BATCH, 4, s.latent, s.latent], 1),
    timestep: unetTimestep(500, BATCH),
    encoder_hidden_states: randomTensor(experts > 1 ? [experts, BATCH, 77, dim] : [BATCH, 77, dim], 2),
  };
}

async function open(modelPath: string, options: SessionOptions): Promise<{ session: ModelSession; load: LoadMeasurement }> {
  const base = process.memoryUsage().rss;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const session = await ModelSession.create(modelPath, options);
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return { session, load: { seconds, cpuSeconds: (used.user + used.system) / 1e6, peakRssBytes: peakRssBytes(), baseRssBytes: base, source: session.source } };
}

async function loadOnce(modelPath: string, options: SessionOptions): Promise<LoadMeasurement> {
  const { session, load } = await open(modelPath, options);
  await session.release();
  return load;
}

async function timedStep(session: ModelSession, feeds: ReturnType<typeof feedsFor>, into: Timed): Promise<void> {
  const cpu = process.cpuUsage();
  const faults = process.resourceUsage().majorPageFault;
  const start = performance.now();
  await session.run(feeds, ['noise_pred']);
  const used = process.cpuUsage(cpu);
  into.wall.push((performance.now() - start) / 1000);
  into.cpu.push((used.user + used.system) / 1e6);
  into.majorFaults.push(process.resourceUsage().majorPageFault - faults);
}

/**
 * The model loaded without the cache (the load as before) and from the cache, and their steps: alternated
 * when both fit in memory at once (the fair comparison on a shared machine), else one after the other.
 */
async function compareSteps(s: Scale, modelPath: string, experts: number, cache: string, steps: number, alternate: boolean): Promise<{ before: LoadMeasurement; uncached: Timed; cached: Timed }> {
  const feeds = feedsFor(s, experts);
  const uncached: Timed = { wall: [], cpu: [], majorFaults: [] };
  const cached: Timed = { wall: [], cpu: [], majorFaults: [] };
  const plain = await open(modelPath, {});
  await plain.session.run(feeds, ['noise_pred']); // warm-up: first-run allocations
  if (!alternate) {
    for (let i = 0; i < steps; i++) await timedStep(plain.session, feeds, uncached);
    await plain.session.release();
    // The uncached session read the model's own weights into the page cache; a cached session never
    // reads them, and with both files cached the machine runs short of memory and evicts the entry's pages.
    dropPageCache([modelPath.replace(/\.onnx$/, '.weights')]);
  }
  const fromCache = await open(modelPath, { optimizedModels: cache });
  await fromCache.session.run(feeds, ['noise_pred']);
  for (let i = 0; i < steps; i++) {
    if (alternate) await timedStep(plain.session, feeds, uncached);
    await timedStep(fromCache.session, feeds, cached);
  }
  await fromCache.session.release();
  if (alternate) await plain.session.release();
  return { before: plain.load, uncached, cached };
}

/** Shares of onnxruntime's phases in `log` (its verbose lines), by the line that starts each phase. */
export function ortPhases(log: string, totalSeconds: number): Map<string, number> {
  const lines: { t: number; text: string }[] = [];
  for (const line of log.split('\n')) {
    // "2026-12-03 19:24:52.548309805 [I:onnxruntime:, inference_session.cc:764 TraceSessionOptions] …"
    const match = /\d{4}-\d\d-\d\d (\d\d):(\d\d):(\d\d\.\d+) \[\w:onnxruntime:[^\]]*\] (.*)$/.exec(line);
    if (!match) continue;
    lines.push({ t: Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]), text: match[4]! });
  }
  const phaseOf = (text: string, current: string): string => {
    if (/TraceSessionOptions/.test(text)) return 'read the model';
    if (/Initializing session/.test(text)) return 'partition';
    const transformer = /Applying graph transformer (\S+)/.exec(text)?.[1];
    if (transformer) return transformer === 'ConstantFolding' ? 'constant folding' : transformer === 'NchwcTransformer' ? 'NCHWc layout' : 'other optimizers';
    if (/All nodes placed|SaveMLValueNameIndexMapping|CreateGraphPartitioner/.test(text)) return 'plan';
    if (/Saving initialized tensors\./.test(text)) return 'initializers (weights)';
    if (/Done saving initialized tensors/.test(text)) return 'prepack, kernels';
    if (/Serializing optimized model/.test(text)) return 'save optimized model';
    if (/Session successfully initialized/.test(text)) return 'outside onnxruntime';
    return current;
  };
  const seconds = new Map<string, number>();
  let phase = 'outside onnxruntime';
  let inside = 0;
  for (let i = 0; i < lines.length; i++) {
    phase = phaseOf(lines[i]!.text, phase);
    const next = lines[i + 1];
    if (!next || phase === 'outside onnxruntime') continue;
    const span = Math.max(0, next.t - lines[i]!.t);
    seconds.set(phase, (seconds.get(phase) ?? 0) + span);
    inside += span;
  }
  seconds.set('outside onnxruntime', Math.max(0, totalSeconds - inside));
  return seconds;
}

const MARKER = 'BENCH-LOAD ';

/** Runs this file as a child with `args`; returns its marked JSON line and its stderr. */
function child<T>(args: readonly string[], env: NodeJS.ProcessEnv = {}): { value: T; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], {
    encoding: 'utf8',
    // As the studio starts its engine process (glibc's malloc tunables on Linux: engine-memory.ts).
    env: engineMemoryEnvironment({ ...process.env, ...env }),
    maxBuffer: 256 * 1024 * 1024,
  });
  const line = result.stdout.split('\n').find((text) => text.startsWith(MARKER));
  if (result.status !== 0 || !line) throw new Error(`the load benchmark child ${args.join(' ')} failed (status ${result.status}, signal ${result.signal}): ${result.stdout.slice(-1000)} ${result.stderr.slice(-2000)}`);
  return { value: JSON.parse(line.slice(MARKER.length)) as T, stderr: result.stderr };
}

interface GenerateMeasurement {
  readonly seconds: number;
  readonly loadSeconds: number;
  /** Seconds each model's session took in the load phase, in load order (text encoder, U-Net or AFA graph, VAE decoder). */
  readonly modelSeconds: number[];
  readonly peakRssBytes: number;
  readonly phases: string[];
}

/** enqueue → the first step's progress event, through the engine, with the models' cache entries built. */
async function measureGenerate(s: Scale, dir: string, model: MeasuredModel, cache: string): Promise<GenerateMeasurement> {
  const home = mkdtempSync(join(tmpdir(), 'bench-load-home-'));
  const library = Library.open({ home });
  const runtime = createModelRuntime({ sessionOptions: { optimizedModels: cache } });
  const engine = new GenerationEngine({ library, runtime, memoryBudgetBytes: Number.MAX_SAFE_INTEGER });
  const files = { textEncoder: join(dir, 'text_encoder.onnx'), unet: join(dir, model.file), vaeDecoder: join(dir, 'vae_decoder.onnx') };
  const snapshot = { recipeId: null, name: null, method: 'single' as const, members: [{ modelId: 'bench', shortHash: 'bench', name: 'bench' }], aggregatorId: null };
  engine.registerTarget('model', async (_target, context) => {
    const tokenizer = ClipTokenizer.default();
    const decoder = new VaeLatentDecoder(files.vaeDecoder, context.runtime);
    const models = [files.textEncoder, files.unet, files.vaeDecoder];
    if (model.experts === 1) return { denoiser: new ModelDenoiser(tokenizer, { textEncoder: files.textEncoder, unet: files.unet }, context.runtime), decoder, models, snapshot };
    // The three experts share one synthetic text encoder (its session once): the AFA graph is what is measured.
    const encoders = Array.from({ length: model.experts }, () => ({ tokenizer, model: new CachedModel(files.textEncoder, context.runtime) }));
    return { denoiser: new EnsembleDenoiser(encoders, cachedGraphRunner(files.unet, context.runtime)), decoder, models, snapshot };
  });
  const phases: string[] = [];
  /** Seconds from enqueue to each load progress event, by models loaded (0 when the phase starts). */
  const loaded: number[] = [];
  const start = performance.now();
  const firstStep = new Promise<number>((resolve) => {
    engine.onDidProgress((event) => {
      if (phases.at(-1) !== event.phase) phases.push(event.phase);
      if (event.phase === 'load' && event.models) loaded[event.models.done] = (performance.now() - start) / 1000;
      if (event.phase === 'denoise' && event.step === 1) resolve((performance.now() - start) / 1000);
    });
  });
  const job = engine.enqueue({ settings: { prompt: 'a lighthouse', width: s.latent * 8, height: s.latent * 8, steps: 2, seed: 1 }, target: { kind: 'model', modelId: 'bench' } });
  const seconds = await firstStep;
  const peak = peakRssBytes();
  engine.cancel(job.jobId);
  await job.settled;
  await engine.dispose();
  await runtime.sessions.clear();
  library.close();
  rmSync(home, { recursive: true, force: true });
  const modelSeconds = loaded.slice(1).map((t, i) => t - loaded[i]!);
  return { seconds, loadSeconds: loaded.at(-1) ?? 0, modelSeconds, peakRssBytes: peak, phases };
}

export async function benchLoad(): Promise<BenchResult[]> {
  const s = scale();
  const dir = process.env.AFA_BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'bench-load-'));
  const cache = join(dir, 'optimized-models');
  try {
    const preparedPath = join(dir, 'prepared.json');
    let prepared: Prepared;
    if (existsSync(preparedPath)) {
      prepared = JSON.parse(readFileSync(preparedPath, 'utf8')) as Prepared;
    } else {
      process.stderr.write(`load bench (${s.label}): building and saving the graphs in ${dir}\n`);
      prepared = child<Prepared>(['--prepare', dir]).value;
      writeFileSync(preparedPath, JSON.stringify(prepared));
    }
    rmSync(cache, { recursive: true, force: true });
    const results: BenchResult[] = [...prepared.results];
    // The text encoder's and VAE's entries, so the generate measurement finds every model cached.
    for (const file of ['text_encoder.onnx', 'vae_decoder.onnx']) child<LoadMeasurement>(['--load', dir, file, cache]);
    for (const model of MODELS) {
      const weights = prepared.weightBytes[model.file]!;
      const modelFiles = () => [...filesUnder(dir).filter((file) => file.endsWith('.weights') && !file.startsWith(cache)), ...(existsSync(cache) ? filesUnder(cache) : [])];
      process.stderr.write(`  ${model.name}: first load (builds the cache entry), with onnxruntime's verbose log for the phases\n`);
      const first = child<LoadMeasurement>(['--load', dir, model.file, cache], { AFA_ORT_LOG: 'verbose' });
      process.stderr.write(`  ${model.name}: cold load (page cache dropped)\n`);
      dropPageCache(modelFiles());
      const cold = child<LoadMeasurement>(['--load', dir, model.file, cache]).value;
      process.stderr.write(`  ${model.name}: warm loads\n`);
      const warm = child<LoadMeasurement>(['--load', dir, model.file, cache]).value;
      const warmLogged = child<LoadMeasurement>(['--load', dir, model.file, cache], { AFA_ORT_LOG: 'verbose' });
      // Still warm: the uncached comparison below reads the source weights, which on a machine that cannot
      // hold both in its page cache pushes the cache entry's pages out (AFA: 10.5 GB of each).
      process.stderr.write(`  ${model.name}: generate → first step (warm)\n`);
      const generate = child<GenerateMeasurement>(['--generate', dir, String(MODELS.indexOf(model)), cache]).value;
      const alternate = model.experts === 1;
      process.stderr.write(`  ${model.name}: before (no cache), then steps of the uncached and the cached session${alternate ? ', alternated' : ''}\n`);
      const compared = child<{ before: LoadMeasurement; uncached: Timed; cached: Timed }>(['--compare', dir, model.file, cache, String(s.steps), alternate ? '1' : '0']).value;
      const before = compared.before;
      const cpuRatio = median(compared.cached.cpu) / median(compared.uncached.cpu);
      const wallRatio = median(compared.cached.wall) / median(compared.uncached.wall);
      results.push(
        { name: `${model.name}: before (optimized at every load)`, value: before.seconds, unit: `s (CPU ${before.cpuSeconds.toFixed(1)} s)` },
        { name: `${model.name}: first load (optimize + write cache)`, value: first.value.seconds, unit: `s (${first.value.source}; verbose log on)` },
        { name: `${model.name}: cold (cached, page cache dropped)`, value: cold.seconds, unit: `s (${cold.source}; CPU ${cold.cpuSeconds.toFixed(1)} s)`, target: `≤ 2 × warm`, pass: cold.seconds <= 2 * warm.seconds },
        { name: `${model.name}: warm (cached)`, value: warm.seconds, unit: `s (${warm.source}; CPU ${warm.cpuSeconds.toFixed(1)} s)`, target: `≤ ${model.warmTarget}`, pass: warm.seconds <= model.warmTarget },
        { name: `${model.name}: warm / before`, value: warm.seconds / before.seconds, unit: `ratio (CPU ${(warm.cpuSeconds / before.cpuSeconds).toFixed(3)})` },
      );
      for (const [label, run] of [['first load', first], ['warm', warmLogged]] as const) {
        const phases = ortPhases(run.stderr, run.value.seconds);
        const total = [...phases.values()].reduce((a, b) => a + b, 0);
        for (const [phase, seconds] of [...phases].sort((a, b) => b[1] - a[1])) {
          if (seconds / total >= 0.005) results.push({ name: `${model.name}: ${label} phase ${phase}`, value: (100 * seconds) / total, unit: '%' });
        }
      }
      for (const [label, run] of [['before', before], ['first load', first.value], ['cold', cold], ['warm', warm]] as const) {
        const ratio = run.peakRssBytes / weights;
        results.push({
          name: `${model.name}: peak RSS during load, ${label}`,
          value: ratio,
          unit: `× weights (${(run.peakRssBytes / 1e9).toFixed(2)} GB; ${((run.peakRssBytes - run.baseRssBytes) / 1e9).toFixed(2)} GB over the process before)`,
          ...(label === 'before' ? {} : { target: '≤ 1.1', pass: ratio <= 1.1 }),
        });
      }
      results.push(
        { name: `${model.name}: step, uncached session (median)`, value: median(compared.uncached.wall), unit: `s (${listed(compared.uncached.wall)}; CPU ${listed(compared.uncached.cpu)}; major faults ${compared.uncached.majorFaults.join(', ')})` },
        { name: `${model.name}: step, cached session (median)`, value: median(compared.cached.wall), unit: `s (${listed(compared.cached.wall)}; CPU ${listed(compared.cached.cpu)}; major faults ${compared.cached.majorFaults.join(', ')})` },
        { name: `${model.name}: step cached / uncached, CPU time`, value: cpuRatio, unit: `ratio (${alternate ? 'alternated' : 'one after the other'})`, target: '≤ 1.05', pass: cpuRatio <= 1.05 },
        { name: `${model.name}: step cached / uncached, wall`, value: wallRatio, unit: 'ratio' },
      );
      results.push(
        { name: `${model.name}: generate → first step event (warm)`, value: generate.seconds, unit: `s (phases ${generate.phases.join(' → ')})` },
        { name: `${model.name}: generate → models loaded`, value: generate.loadSeconds, unit: `s (text encoder, ${model.name}, VAE decoder: ${listed(generate.modelSeconds)} s)` },
      );
    }
    process.stderr.write(`  ${AFA_PAIR.name}: steps of the uncached and the cached session, alternated\n`);
    const pair = child<{ before: LoadMeasurement; uncached: Timed; cached: Timed }>(['--compare', dir, AFA_PAIR.file, cache, String(s.steps), '1']).value;
    const pairCpu = median(pair.cached.cpu) / median(pair.uncached.cpu);
    results.push(
      { name: `${AFA_PAIR.name}: step CPU time, uncached / cached session`, value: median(pair.uncached.cpu), unit: `s (${listed(pair.uncached.cpu)} / ${listed(pair.cached.cpu)})` },
      { name: `${AFA_PAIR.name}: step cached / uncached, CPU time`, value: pairCpu, unit: 'ratio (alternated)', target: '≤ 1.05', pass: pairCpu <= 1.05 },
    );
    return results;
  } finally {
    if (!process.env.AFA_BENCH_DIR) rmSync(dir, { recursive: true, force: true });
    else rmSync(cache, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = (flag: string) => process.argv.indexOf(flag);
  const arg = (flag: string, n: number) => process.argv[at(flag) + n]!;
  if (at('--prepare') > 0) {
    console.log(MARKER + JSON.stringify(prepare(scale(), arg('--prepare', 1))));
  } else if (at('--load') > 0) {
    const [dir, file, cache] = [arg('--load', 1), arg('--load', 2), arg('--load', 3)];
    console.log(MARKER + JSON.stringify(await loadOnce(join(dir, file), { optimizedModels: cache })));
  } else if (at('--compare') > 0) {
    const [dir, file, cache, steps, alternate] = [arg('--compare', 1), arg('--compare', 2), arg('--compare', 3), Number(arg('--compare', 4)), arg('--compare', 5) === '1'];
    console.log(MARKER + JSON.stringify(await compareSteps(scale(), join(dir, file), expertsOf(file), cache, steps, alternate)));
  } else if (at('--generate') > 0) {
    console.log(MARKER + JSON.stringify(await measureGenerate(scale(), arg('--generate', 1), MODELS[Number(arg('--generate', 2))]!, arg('--generate', 3))));
  } else {
    for (const result of await benchLoad()) {
      const verdict = result.pass === undefined ? '' : result.pass ? '  pass' : '  FAIL';
      console.log(`${result.name.padEnd(56)} ${result.value.toPrecision(4).padStart(10)} ${result.unit}${result.target ? `  (${result.target})` : ''}${verdict}`);
    }
  }
}
