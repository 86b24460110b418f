// The child of device-resident.test.ts: run with the software WebGPU adapter's environment (the Vulkan
// loader reads it at process start). Imports the golden tiny model into a temporary home and makes the
// same image on the CPU and on WebGPU — with the latents on the device, and (for the before/after
// numbers) with the host loop — for each sampler named on the command line; prints one JSON line after
// MARKER. Exit 2: no WebGPU adapter (the message says why).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importCheckpoint } from '../../app/checkpoints/import-checkpoint.ts';
import { resolveRecipe } from '../../app/ensemble/recipe-target.ts';
import type { ResolvedTarget } from '../../app/pipeline/generation-target.ts';
import { importAggregators } from '../../app/ensemble/import-aggregators.ts';
import { goldenAfaDir, goldenExpertFolders } from '../ensemble/golden-experts.ts';
import { createModelRuntime, type ModelRuntime } from '../../app/pipeline/model-runtime.ts';
import { resolveStoredModel } from '../../app/pipeline/stored-model-target.ts';
import { generateImage, type ImageResult } from '../../app/pipeline/text-to-image.ts';
import { probeBackends } from '../../app/runtime/backend-probe.ts';
import { deviceTensorCount } from '../../app/runtime/onnx-runtime.ts';
import { createScheduler } from '../../app/schedulers/registry.ts';
import type { SchedulerName } from '../../app/schedulers/scheduler-config.ts';
import { TINY_FOLDER } from './tiny-model.ts';

export const MARKER = 'DEVICE-RESIDENT-REPORT ';

/** 128² pixels: latents [1, 4, 16, 16] = 1024 elements, the smallest size whose latents count as large copies. */
export const SIZE = 128;
export const STEPS = 4;
export const PREVIEW_EVERY = 2;

export interface SamplerReport {
  readonly sampler: SchedulerName;
  /** 'model': the tiny model alone; 'afa': the three golden experts' AFA recipe (one compiled lock-step graph). */
  readonly target: 'model' | 'afa';
  /** AFA: the largest difference of the members' shares in the contribution maps, WebGPU vs CPU. */
  readonly maxShareDiff?: number;
  /** AFA: the steps the contribution maps recorded. */
  readonly recordedSteps?: readonly number[];
  /** Largest per-channel difference of the 8-bit images, WebGPU (device loop) vs CPU. */
  readonly maxPixelDiff: number;
  /** The same for the WebGPU host loop (the old path) vs CPU. */
  readonly hostLoopMaxPixelDiff?: number;
  readonly device: NonNullable<ImageResult['transfers']>;
  readonly hostLoop?: NonNullable<ImageResult['transfers']>;
  /** Device tensors the inference thread still held after the images. */
  readonly leftOnDevice: number;
  readonly seconds: { readonly cpu: number; readonly device: number; readonly hostLoop?: number };
  /** The device loop's phases (ms): encode, each step, decode. */
  readonly deviceTimings: ImageResult['timings'];
  /** What the WebGPU runtime computed in with the default ('auto') precision, and what it said about it. */
  readonly precision: { readonly computeDtype: 'float32' | 'float16'; readonly messages: readonly string[] };
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

async function main(): Promise<void> {
  // --host-loop: also the WebGPU host loop (latents back on the host every step), for the before/after count.
  const withHostLoop = process.argv.includes('--host-loop');
  // --afa: the three golden experts' AFA recipe (with the golden aggregators) instead of the single model;
  // its contribution maps come back at the recorded steps only.
  const ensemble = process.argv.includes('--afa');
  const samplers = process.argv.slice(2).filter((arg) => !arg.startsWith('--')) as SchedulerName[];
  const webgpu = (await probeBackends()).find((info) => info.backend === 'webgpu');
  if (!webgpu?.available) {
    process.stderr.write(`No WebGPU adapter: ${webgpu?.reason ?? 'this onnxruntime build has no WebGPU provider'}\n`);
    process.exit(2);
  }
  const home = mkdtempSync(join(tmpdir(), 'afa-device-resident-'));
  try {
    const signal = new AbortController().signal;
    let resolve: (runtime: ModelRuntime) => Promise<ResolvedTarget>;
    if (ensemble) {
      const experts = [];
      for (const folder of goldenExpertFolders(home)) experts.push((await importCheckpoint(folder, { home })).manifest);
      const aggregatorId = importAggregators(goldenAfaDir, experts, { home }).id;
      const recipe = { name: 'AFA', method: 'afa', members: experts.map((expert) => ({ modelId: expert.id })), aggregatorId };
      resolve = (runtime) => resolveRecipe({ recipe }, { home, runtime, signal });
    } else {
      const { manifest } = await importCheckpoint(TINY_FOLDER, { home });
      resolve = (runtime) => resolveStoredModel(manifest.id, { home, runtime, signal });
    }
    const make = async (runtime: ModelRuntime, sampler: SchedulerName, deviceResident: boolean) => {
      const target = await resolve(runtime);
      const scheduler = createScheduler(sampler);
      scheduler.setTimesteps(STEPS);
      const start = performance.now();
      const result = await generateImage(
        target.denoiser,
        target.decoder,
        { prompt: 'a red circle on a blue background', negativePrompt: 'blurry', width: SIZE, height: SIZE, guidance: 7.5, seed: 1234, scheduler },
        { previewEvery: PREVIEW_EVERY, onProgress: () => {}, deviceResident, transfers: runtime.transfers },
      );
      const extras = target.imageExtras?.()?.contributions;
      const contributions = typeof extras === 'string' ? (JSON.parse(extras) as { steps: { step: number; shares: number[] }[] }) : undefined;
      return { result, seconds: (performance.now() - start) / 1000, contributions };
    };
    const cpu = createModelRuntime({ sessionOptions: { backend: 'cpu', intraOpThreads: 1 } });
    // The user's default precision ('auto'): float16 on WebGPU where the adapter has float16 shaders.
    const messages: string[] = [];
    const gpu = createModelRuntime({
      sessionOptions: { backend: 'webgpu', intraOpThreads: 1 },
      onFallback: (message) => {
        messages.push(message);
        process.stderr.write(`${message}\n`);
      },
    });
    const reports: SamplerReport[] = [];
    for (const sampler of samplers) {
      const reference = await make(cpu, sampler, true);
      const device = await make(gpu, sampler, true);
      const hostLoop = withHostLoop ? await make(gpu, sampler, false) : undefined;
      if (gpu.backend !== 'webgpu') throw new Error('the WebGPU runtime fell back to the CPU');
      reports.push({
        sampler,
        target: ensemble ? 'afa' : 'model',
        maxPixelDiff: maxDiff(device.result.rgb.rgb, reference.result.rgb.rgb),
        ...(device.contributions && reference.contributions
          ? {
              recordedSteps: device.contributions.steps.map((s) => s.step),
              maxShareDiff: Math.max(...device.contributions.steps.flatMap((s, i) => s.shares.map((share, k) => Math.abs(share - (reference.contributions!.steps[i]?.shares[k] ?? Infinity))))),
            }
          : {}),
        device: device.result.transfers!,
        ...(hostLoop ? { hostLoopMaxPixelDiff: maxDiff(hostLoop.result.rgb.rgb, reference.result.rgb.rgb), hostLoop: hostLoop.result.transfers! } : {}),
        leftOnDevice: await deviceTensorCount(),
        seconds: { cpu: reference.seconds, device: device.seconds, ...(hostLoop ? { hostLoop: hostLoop.seconds } : {}) },
        deviceTimings: device.result.timings,
        precision: { computeDtype: gpu.computeDtype, messages: [...messages] },
      });
    }
    process.stdout.write(`${MARKER}${JSON.stringify(reports)}\n`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('device-resident-child.ts')) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
