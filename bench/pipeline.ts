// Pipeline benchmark: the per-step cost of everything the text-to-image loop does around the denoiser —
// batch duplication and sampler input scaling, classifier-free guidance, the sampler step, the latent
// preview (projection + PNG data URL, as the engine sends it) and the loop's own bookkeeping — as a
// fraction of one SD1.5 denoiser step at 512² (latents [2, 4, 64, 64], batch 2 for guidance).
//
// Both sides are measured here, on the CPU:
//   - the overhead: generateImage's loop with a denoiser that returns a ready ε at once (so the loop time
//     is the overhead alone), 25 steps, previews at every step (the worst case; the UI default is fewer),
//     for every sampler; the median of 3 runs per sampler;
//   - the denoiser: the real ModelDenoiser on an SD1.5-size U-Net (released config, synthetic weights
//     streamed to a temporary file), median of 3 steps after a warm-up.
// Target: overhead < 2 % of the denoiser step for every sampler.
//
// `node --import tsx bench/pipeline.ts` runs it standalone; `npm run bench pipeline` through run-bench.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './bench-result.ts';
import { median } from './bench-math.ts';
import { componentGraphs } from '../app/models/compile-component.ts';
import { SyntheticWeights } from '../app/models/synthetic-weights.ts';
import { SD15_UNET_CONFIG } from '../app/models/unet-config.ts';
import { saveModels } from '../app/onnx/serialize.ts';
import { createSampler } from '../app/pipeline/create-sampler.ts';
import type { Conditioning, Denoiser, LatentDecoder } from '../app/pipeline/denoiser.ts';
import { SAMPLERS, type SamplerName } from '../app/pipeline/generation-request.ts';
import { ModelDenoiser } from '../app/pipeline/model-denoiser.ts';
import { createModelRuntime } from '../app/pipeline/model-runtime.ts';
import { previewDataUrl } from '../app/pipeline/preview-image.ts';
import { generateImage } from '../app/pipeline/text-to-image.ts';
import { randn } from '../app/schedulers/noise.ts';
import { float32, type Tensor } from '../app/tensor/tensor.ts';
import { ClipTokenizer } from '../app/tokenizer/clip-tokenizer.ts';

const SIZE = 512;
const LATENT = SIZE / 8;
const STEPS = 25;
const RUNS = 3;
const TARGET_FRACTION = 0.02;


/** ε already computed: the loop's time is then its own overhead (the output is read, never written). */
class ReadyDenoiser implements Denoiser {
  readonly #epsilon = randn([2, 4, LATENT, LATENT], 7, 1);
  async encodePrompts(_positive: string, _negative: string, guided: boolean): Promise<Conditioning> {
    return { guided };
  }
  async predictNoise(): Promise<Tensor<'float32'>> {
    return this.#epsilon;
  }
}

const blankDecoder: LatentDecoder = { decode: async () => float32([1, 3, SIZE, SIZE]) };

/** Mean loop time per step (ms), previews encoded as the engine does. */
async function loopMsPerStep(sampler: SamplerName): Promise<number> {
  let loopMs = 0;
  await generateImage(
    new ReadyDenoiser(),
    blankDecoder,
    { prompt: '', negativePrompt: '', width: SIZE, height: SIZE, guidance: 7.5, seed: 1, scheduler: createSampler({ sampler, steps: STEPS, eta: 0 }) },
    {
      previewEvery: 1,
      onProgress: (progress) => {
        if (progress.preview) previewDataUrl(progress.preview);
        loopMs = progress.elapsedMs;
      },
    },
  );
  return loopMs / STEPS;
}

async function denoiserStepSeconds(): Promise<{ seconds: number; buildSeconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pipeline-'));
  const runtime = createModelRuntime();
  try {
    const start = performance.now();
    const weights = new SyntheticWeights();
    const graphs = componentGraphs({ kind: 'unet', config: SD15_UNET_CONFIG, weights });
    const saved = saveModels([...graphs].map(([name, graph]) => ({ graph, modelFile: `${name}.onnx` })), { dir, weightsFile: 'unet.weights' });
    const buildSeconds = (performance.now() - start) / 1000;
    // The text encoder is never called here: prompts are given as embeddings.
    const denoiser = new ModelDenoiser(ClipTokenizer.default(), { textEncoder: join(dir, 'unused.onnx'), unet: saved.modelPaths[0]! }, runtime);
    const conditioning = { guided: true, embeddings: randn([2, 77, SD15_UNET_CONFIG.cross_attention_dim], 3) };
    const latents = randn([2, 4, LATENT, LATENT], 5);
    const step = async () => {
      const begin = performance.now();
      await denoiser.predictNoise(latents, 981, conditioning);
      return (performance.now() - begin) / 1000;
    };
    await step();
    const times: number[] = [];
    for (let run = 0; run < RUNS; run++) times.push(await step());
    return { seconds: median(times), buildSeconds };
  } finally {
    await runtime.sessions.clear();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchPipeline(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const overheadMs = new Map<SamplerName, number>();
  await loopMsPerStep('ddim'); // warm-up (JIT)
  for (const sampler of SAMPLERS) {
    const runs: number[] = [];
    for (let run = 0; run < RUNS; run++) runs.push(await loopMsPerStep(sampler));
    overheadMs.set(sampler, median(runs));
  }
  const denoiser = await denoiserStepSeconds();
  const denoiserMs = denoiser.seconds * 1000;
  results.push(
    { name: 'SD1.5 U-Net build + save (synthetic weights)', value: denoiser.buildSeconds, unit: 's' },
    { name: `denoiser step ${SIZE}² batch 2 (ModelDenoiser)`, value: denoiser.seconds, unit: 's' },
  );
  for (const [sampler, ms] of overheadMs) {
    results.push({ name: `loop overhead per step, ${sampler} (preview every step)`, value: ms, unit: 'ms' });
  }
  const worst = Math.max(...overheadMs.values());
  const fraction = worst / denoiserMs;
  results.push({
    name: 'overhead / denoiser step (worst sampler)',
    value: fraction * 100,
    unit: '%',
    target: `< ${TARGET_FRACTION * 100}`,
    pass: fraction < TARGET_FRACTION,
  });
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const result of await benchPipeline()) {
    const verdict = result.pass === undefined ? '' : result.pass ? '  pass' : '  FAIL';
    console.log(`${result.name.padEnd(62)} ${result.value.toPrecision(4).padStart(10)} ${result.unit}${result.target ? `  (${result.target})` : ''}${verdict}`);
  }
}
