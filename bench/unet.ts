// U-Net benchmark: an SD1.5-size U-Net (the released config, ≈ 860M parameters) with synthetic weights
// (streamed to a temporary weights file one tensor at a time, never held whole in memory), saved whole
// and as the 25 lock-step layer graphs sharing that one weights file. Times one denoising step on the
// CPU with batch 2 (classifier-free guidance) at 256² and 512² pixels (32² and 64² latents):
//   - the whole graph against the targets (≤ 2.58 s at 256², ≤ 12.25 s at 512² on the 2-core CI machine),
//   - the layer graphs run one after another against the whole graph (within 5 %),
// plus build+save and session-creation times and the peak RSS. The measurement runs in a child process,
// so its peak RSS is its own.
//
// `node --import tsx bench/unet.ts` runs it standalone; `npm run bench unet` runs it through run-bench.ts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './bench-result.ts';
import { median, randomTensor } from './bench-math.ts';
import { chainedSessionOptions, componentGraphs, unetPointModelName } from '../app/models/compile-component.ts';
import { SyntheticWeights } from '../app/models/synthetic-weights.ts';
import { SD15_UNET_CONFIG } from '../app/models/unet-config.ts';
import { unetLayout } from '../app/models/unet-layout.ts';
import { runUnetLockStep } from '../app/models/unet-lock-step.ts';
import { unetTimestep } from '../app/models/unet-timestep.ts';
import { saveModels } from '../app/onnx/serialize.ts';
import { ModelSession } from '../app/runtime/onnx-runtime.ts';
import { sizeOf } from '../app/tensor/tensor.ts';
import { benchComputeDtype, benchSessionOptions } from './bench-options.ts';
import { measureStepCopies } from './step-copies.ts';

const BATCH = 2;
const SIZES = [256, 512] as const;
const TARGET_SECONDS: Readonly<Record<(typeof SIZES)[number], number>> = { 256: 2.58, 512: 12.25 };
/**
 * Timed runs per size and shape (after one warm-up run), alternating whole/layers. The fastest run
 * counts: other work on a shared machine only ever adds time, so the minimum is the best estimate of the
 * model's own cost (the median is reported too). Small steps get more runs: they are cheap and noisier.
 */
const RUNS: Readonly<Record<(typeof SIZES)[number], number>> = { 256: 9, 512: 5 };



const peakRssMb = () => process.resourceUsage().maxRSS / 1024;
const rssMb = () => process.memoryUsage().rss / 1024 ** 2;

interface Timing {
  /** Wall-clock seconds. */
  readonly wall: number;
  /** CPU seconds of the whole process (all threads): less sensitive to other work on a shared machine. */
  readonly cpu: number;
}

async function timed(work: () => Promise<unknown>): Promise<Timing> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await work();
  const cpu = process.cpuUsage(cpuStart);
  return { wall: (performance.now() - start) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
}

async function measure(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bench-unet-'));
  try {
    const config = SD15_UNET_CONFIG;
    const weights = new SyntheticWeights();
    let start = performance.now();
    const graphs = componentGraphs({ kind: 'unet', config, weights, shapes: ['whole', 'layers'], computeDtype: benchComputeDtype() });
    const buildSeconds = (performance.now() - start) / 1000;
    const parameters = weights.names().reduce((sum, name) => sum + sizeOf(weights.get(name).shape), 0);
    start = performance.now();
    const saved = saveModels([...graphs].map(([name, graph]) => ({ graph, modelFile: `${name}.onnx` })), { dir, weightsFile: 'unet.weights' });
    const saveSeconds = (performance.now() - start) / 1000;
    const paths = new Map([...graphs.keys()].map((name, index) => [name, saved.modelPaths[index]]));
    results.push(
      { name: 'SD1.5 U-Net parameters', value: parameters / 1e6, unit: 'M' },
      { name: 'weights file', value: statSync(saved.weightsPath as string).size / 1024 ** 3, unit: 'GiB' },
      { name: 'build whole + 26 layer graphs', value: buildSeconds, unit: 's' },
      { name: 'save (synthetic weights streamed)', value: saveSeconds, unit: 's' },
    );

    const inputs = (size: number) => {
      const latent = size / 8;
      return {
        sample: randomTensor([BATCH, 4, latent, latent], 1),
        timestep: unetTimestep(999, BATCH),
        encoderHiddenStates: randomTensor([BATCH, 77, config.cross_attention_dim], 2),
      };
    };

    // Both shapes loaded at once, so runs can alternate (fairer on a shared machine).
    start = performance.now();
    const whole = await ModelSession.create(paths.get('unet') as string, benchSessionOptions());
    const wholeSessionSeconds = (performance.now() - start) / 1000;
    const wholeRss = rssMb();
    start = performance.now();
    const timeEmbedding = await ModelSession.create(paths.get('time_embedding') as string, chainedSessionOptions(benchSessionOptions()));
    const points: ModelSession[] = [];
    for (const point of unetLayout(config)) {
      points.push(await ModelSession.create(paths.get(unetPointModelName(point.index)) as string, chainedSessionOptions(benchSessionOptions())));
    }
    const layers = { timeEmbedding, points };
    const layerSessionSeconds = (performance.now() - start) / 1000;
    results.push(
      { name: 'session: whole graph', value: wholeSessionSeconds, unit: 's' },
      { name: 'sessions: 26 layer graphs', value: layerSessionSeconds, unit: 's' },
      { name: 'RSS with the whole session', value: wholeRss, unit: 'MB' },
      { name: 'RSS with whole + layer sessions', value: rssMb(), unit: 'MB' },
    );

    for (const size of SIZES) {
      const { sample, timestep, encoderHiddenStates } = inputs(size);
      const runWhole = () => timed(() => whole.run({ sample, timestep, encoder_hidden_states: encoderHiddenStates }));
      const runLayers = () => timed(() => runUnetLockStep(layers, config, { sample, timestep, encoderHiddenStates }));
      await runWhole();
      await runLayers();
      const [wholeTimes, layerTimes] = [[] as Timing[], [] as Timing[]];
      for (let run = 0; run < RUNS[size]; run++) {
        wholeTimes.push(await runWhole());
        layerTimes.push(await runLayers());
      }
      const wholeSeconds = Math.min(...wholeTimes.map((t) => t.wall));
      const layerSeconds = Math.min(...layerTimes.map((t) => t.wall));
      const ratio = layerSeconds / wholeSeconds;
      const cpuRatio = median(layerTimes.map((t) => t.cpu)) / median(wholeTimes.map((t) => t.cpu));
      results.push(
        { name: `step ${size}² batch ${BATCH}: whole graph`, value: wholeSeconds, unit: 's', target: `≤ ${TARGET_SECONDS[size]}`, pass: wholeSeconds <= TARGET_SECONDS[size] },
        { name: `step ${size}² batch ${BATCH}: whole graph, median`, value: median(wholeTimes.map((t) => t.wall)), unit: 's' },
        { name: `step ${size}² batch ${BATCH}: layer graphs`, value: layerSeconds, unit: 's' },
        { name: `step ${size}² batch ${BATCH}: layer graphs, median`, value: median(layerTimes.map((t) => t.wall)), unit: 's' },
        { name: `step ${size}²: layers / whole`, value: ratio, unit: 'ratio', target: '≤ 1.05', pass: ratio <= 1.05 },
        { name: `step ${size}²: layers / whole, CPU time (median)`, value: cpuRatio, unit: 'ratio' },
      );
    }
    // What the pipeline's loops copy per step on the bench's provider (npm run bench -- --backend webgpu).
    const { sample, timestep, encoderHiddenStates } = inputs(SIZES[0]);
    results.push(...(await measureStepCopies(whole, { sample, timestep, encoder_hidden_states: encoderHiddenStates }, ['sample', 'encoder_hidden_states'], `U-Net ${SIZES[0]}²`)));
    await whole.release();
    await Promise.all([layers.timeEmbedding, ...layers.points].map((session) => session.release()));
    results.push(
      { name: 'peak RSS (both shapes loaded)', value: peakRssMb(), unit: 'MB' },
      // Other work on the machine inflates wall times; the 1-minute load average says how much.
      { name: 'load average (1 min) at the end', value: loadavg()[0], unit: 'procs' },
    );
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MARKER = 'BENCH-UNET-RESULTS ';

export async function benchUnet(): Promise<BenchResult[]> {
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = child.stdout.split('\n').find((text) => text.startsWith(MARKER));
  if (child.status !== 0 || !line) throw new Error(`the U-Net benchmark child failed (status ${child.status}): ${child.stdout.slice(-2000)}`);
  return JSON.parse(line.slice(MARKER.length)) as BenchResult[];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--child')) {
    console.log(MARKER + JSON.stringify(await measure()));
  } else {
    for (const result of await benchUnet()) {
      const verdict = result.pass === undefined ? '' : result.pass ? '  pass' : '  FAIL';
      console.log(`${result.name.padEnd(40)} ${result.value.toPrecision(4).padStart(10)} ${result.unit}${result.target ? `  (${result.target})` : ''}${verdict}`);
    }
  }
}
