// Import benchmark: generates an SD1.5-size single-file LDM checkpoint (fp16, ≈ 2.1 GB of random
// weights, streamed to disk one tensor at a time, with the extra tensors real files carry), imports it
// into a fresh studio home in a child process (so its peak RSS is the import's alone) with the default
// (fp32) storage, and reports import time and peak RSS against the streaming target. With `--precision`
// it also imports with fp16 storage and compares disk use and the stored U-Net's onnxruntime session
// creation (time, RSS) for both (README.md).
//
// `node --import tsx bench/import.ts [--precision] [--keep DIR]` runs it standalone; `npm run bench import`
// runs the default measurements through bench/run-bench.ts.
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchResult } from './bench-result.ts';
import { SD15_CONFIGS, textEncoderLayout, unetLayout, vaeLayout } from '../app/checkpoints/component-config.ts';
import { DEFAULT_PRECISION, importCheckpoint } from '../app/checkpoints/import-checkpoint.ts';
import type { StoredPrecision } from '../app/checkpoints/model-store.ts';
import { textEncoderKeyMap, unetKeyMap, vaeKeyMap } from '../app/checkpoints/ldm-keys.ts';
import { SafetensorsWriter } from '../app/tensor/safetensors.ts';
import type { SafetensorsWriteEntry } from '../app/tensor/safetensors.ts';
import { sizeOf } from '../app/tensor/tensor.ts';

const GB = 1024 ** 3;

/** Shape of a diffusers SD1.5 tensor, from the module it belongs to (channels tracked like diffusers). */
function sd15Shapes(): Map<string, readonly number[]> {
  const shapes = new Map<string, readonly number[]>();
  const vector = (name: string, n: number) => shapes.set(name, [n]);
  const affine = (prefix: string, n: number) => (vector(`${prefix}.weight`, n), vector(`${prefix}.bias`, n));
  const linear = (prefix: string, out: number, inp: number, bias = true) => {
    shapes.set(`${prefix}.weight`, [out, inp]);
    if (bias) vector(`${prefix}.bias`, out);
  };
  const conv = (prefix: string, out: number, inp: number, k: number) => (shapes.set(`${prefix}.weight`, [out, inp, k, k]), vector(`${prefix}.bias`, out));
  const resnet = (prefix: string, inp: number, out: number, temb?: number) => {
    affine(`${prefix}.norm1`, inp);
    conv(`${prefix}.conv1`, out, inp, 3);
    if (temb) linear(`${prefix}.time_emb_proj`, out, temb);
    affine(`${prefix}.norm2`, out);
    conv(`${prefix}.conv2`, out, out, 3);
    if (inp !== out) conv(`${prefix}.conv_shortcut`, out, inp, 1);
  };
  const transformer = (prefix: string, c: number, context: number) => {
    affine(`${prefix}.norm`, c);
    conv(`${prefix}.proj_in`, c, c, 1);
    const block = `${prefix}.transformer_blocks.0`;
    for (const [attention, kv] of [['attn1', c], ['attn2', context]] as const) {
      linear(`${block}.${attention}.to_q`, c, c, false);
      linear(`${block}.${attention}.to_k`, c, kv, false);
      linear(`${block}.${attention}.to_v`, c, kv, false);
      linear(`${block}.${attention}.to_out.0`, c, c);
    }
    for (const norm of ['norm1', 'norm2', 'norm3']) affine(`${block}.${norm}`, c);
    linear(`${block}.ff.net.0.proj`, 8 * c, c); // GEGLU: 2 × 4c
    linear(`${block}.ff.net.2`, c, 4 * c);
    conv(`${prefix}.proj_out`, c, c, 1);
  };

  // U-Net [320, 640, 1280, 1280], 2 layers per block, cross-attention 768.
  const ch = [320, 640, 1280, 1280];
  const temb = 1280;
  conv('conv_in', 320, 4, 3);
  linear('time_embedding.linear_1', temb, 320);
  linear('time_embedding.linear_2', temb, temb);
  const skips: number[] = [320];
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 2; j++) {
      resnet(`down_blocks.${i}.resnets.${j}`, j === 0 ? ch[Math.max(i - 1, 0)] : ch[i], ch[i], temb);
      if (i < 3) transformer(`down_blocks.${i}.attentions.${j}`, ch[i], 768);
      skips.push(ch[i]);
    }
    if (i < 3) (conv(`down_blocks.${i}.downsamplers.0.conv`, ch[i], ch[i], 3), skips.push(ch[i]));
  }
  resnet('mid_block.resnets.0', 1280, 1280, temb);
  transformer('mid_block.attentions.0', 1280, 768);
  resnet('mid_block.resnets.1', 1280, 1280, temb);
  const reversed = [...ch].reverse();
  let previous = 1280;
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 3; j++) {
      resnet(`up_blocks.${i}.resnets.${j}`, (j === 0 ? previous : reversed[i]) + skips.pop()!, reversed[i], temb);
      if (i > 0) transformer(`up_blocks.${i}.attentions.${j}`, reversed[i], 768);
    }
    if (i < 3) conv(`up_blocks.${i}.upsamplers.0.conv`, reversed[i], reversed[i], 3);
    previous = reversed[i];
  }
  affine('conv_norm_out', 320);
  conv('conv_out', 4, 320, 3);

  // VAE [128, 256, 512, 512], 2 layers per encoder block, latent 4.
  const vc = [128, 256, 512, 512];
  const vaeMid = (side: string) => {
    resnet(`${side}.mid_block.resnets.0`, 512, 512);
    affine(`${side}.mid_block.attentions.0.group_norm`, 512);
    for (const projection of ['to_q', 'to_k', 'to_v', 'to_out.0']) linear(`${side}.mid_block.attentions.0.${projection}`, 512, 512);
    resnet(`${side}.mid_block.resnets.1`, 512, 512);
  };
  conv('encoder.conv_in', 128, 3, 3);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 2; j++) resnet(`encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? vc[Math.max(i - 1, 0)] : vc[i], vc[i]);
    if (i < 3) conv(`encoder.down_blocks.${i}.downsamplers.0.conv`, vc[i], vc[i], 3);
  }
  vaeMid('encoder');
  affine('encoder.conv_norm_out', 512);
  conv('encoder.conv_out', 8, 512, 3);
  conv('quant_conv', 8, 8, 1);
  conv('post_quant_conv', 4, 4, 1);
  conv('decoder.conv_in', 512, 4, 3);
  vaeMid('decoder');
  const vr = [...vc].reverse();
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 3; j++) resnet(`decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? vr[Math.max(i - 1, 0)] : vr[i], vr[i]);
    if (i < 3) conv(`decoder.up_blocks.${i}.upsamplers.0.conv`, vr[i], vr[i], 3);
  }
  affine('decoder.conv_norm_out', 128);
  conv('decoder.conv_out', 3, 128, 3);

  // CLIP ViT-L/14 text model.
  shapes.set('text_model.embeddings.token_embedding.weight', [49408, 768]);
  shapes.set('text_model.embeddings.position_embedding.weight', [77, 768]);
  for (let i = 0; i < 12; i++) {
    const layer = `text_model.encoder.layers.${i}`;
    for (const projection of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) linear(`${layer}.self_attn.${projection}`, 768, 768);
    affine(`${layer}.layer_norm1`, 768);
    affine(`${layer}.layer_norm2`, 768);
    linear(`${layer}.mlp.fc1`, 3072, 768);
    linear(`${layer}.mlp.fc2`, 768, 3072);
  }
  affine('text_model.final_layer_norm', 768);
  return shapes;
}

/** Random fp16 bit patterns of magnitude 2^-7 … 2 (finite, no subnormals), like trained weights' range. */
function fillRandomHalf(data: Uint16Array): void {
  randomFillSync(data);
  for (let i = 0; i < data.length; i++) {
    const bits = data[i];
    data[i] = (bits & 0x83ff) | ((8 + ((bits >>> 10) & 7)) << 10);
  }
}

/** Writes an SD1.5-size LDM checkpoint (fp16) to `path`, one tensor at a time; returns its size in bytes. */
export function writeSyntheticSd15Checkpoint(path: string): number {
  const shapes = sd15Shapes();
  const entries: SafetensorsWriteEntry[] = [];
  const keys = [
    ...unetKeyMap(unetLayout(SD15_CONFIGS.unet)),
    ...vaeKeyMap(vaeLayout(SD15_CONFIGS.vae)),
    ...textEncoderKeyMap(textEncoderLayout(SD15_CONFIGS.textEncoder)),
  ];
  for (const key of keys) {
    const shape = shapes.get(key.diffusers);
    if (!shape) throw new Error(`no SD1.5 shape for ${key.diffusers}`);
    // LDM keeps the VAE mid-attention projections as 1×1 convolutions.
    const ldmShape = 'reshape' in key && key.reshape ? [...shape, 1, 1] : shape;
    entries.push({ name: key.ldm, dtype: 'float16', shape: ldmShape });
  }
  if (entries.length !== shapes.size) throw new Error(`${shapes.size} shapes for ${entries.length} tensors`);
  // What released checkpoints carry besides the weights (ignored by the import).
  entries.push({ name: 'cond_stage_model.transformer.text_model.embeddings.position_ids', dtype: 'int64', shape: [1, 77] });
  entries.push({ name: 'alphas_cumprod', dtype: 'float32', shape: [1000] });
  entries.push({ name: 'model_ema.decay', dtype: 'float32', shape: [] });
  const writer = new SafetensorsWriter(path, entries);
  try {
    for (const entry of entries) {
      const size = sizeOf(entry.shape);
      if (entry.dtype === 'float16') {
        const data = new Uint16Array(size);
        fillRandomHalf(data);
        writer.write(entry.name, data);
      } else if (entry.dtype === 'int64') writer.write(entry.name, BigInt64Array.from({ length: size }, (_, i) => BigInt(i)));
      else writer.write(entry.name, new Float32Array(size).fill(0.5));
    }
    writer.commit();
  } catch (error) {
    writer.abort();
    throw error;
  }
  return statSync(path).size;
}

interface ChildReport {
  readonly importSeconds: number;
  readonly peakRssBytes: number;
  readonly storeBytes: number;
  readonly unetWeightsBytes: number;
  /** Seconds from the import's start to the first progress event of each phase. */
  readonly phaseStarts: Readonly<Record<string, number>>;
  readonly sessionSeconds?: number;
  readonly sessionPeakRssBytes?: number;
  /** RSS once the session exists (transient buffers of its creation freed). */
  readonly sessionRssBytes?: number;
}

/** Runs one import (and optionally one U-Net session creation) in a fresh child process. */
function runChild(checkpoint: string, home: string, precision: StoredPrecision, session: boolean): ChildReport {
  const self = fileURLToPath(import.meta.url);
  const args = ['--import', 'tsx', self, '--child', checkpoint, home, precision, session ? 'session' : 'no-session'];
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`import child failed (${result.status}): ${result.stderr.slice(-2000)}`);
  const line = result.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as ChildReport;
}

async function child(checkpoint: string, home: string, precision: StoredPrecision, session: boolean): Promise<void> {
  const started = performance.now();
  const phaseStarts: Record<string, number> = {};
  const imported = await importCheckpoint(checkpoint, { home, precision }, {
    onProgress: (progress) => {
      phaseStarts[progress.phase] ??= (performance.now() - started) / 1000;
    },
  });
  const importSeconds = (performance.now() - started) / 1000;
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  const report: Record<string, unknown> = {
    importSeconds,
    peakRssBytes,
    storeBytes: imported.manifest.sizeBytes,
    unetWeightsBytes: statSync(imported.files.unetWeights).size,
    phaseStarts,
  };
  if (session) {
    const { ModelSession } = await import('../app/runtime/onnx-runtime.ts');
    const begin = performance.now();
    const unet = await ModelSession.create(imported.files.unet);
    report.sessionSeconds = (performance.now() - begin) / 1000;
    report.sessionPeakRssBytes = process.resourceUsage().maxRSS * 1024;
    report.sessionRssBytes = process.memoryUsage().rss;
    await unet.release();
  }
  console.log(JSON.stringify(report));
}

/** The default bench: one fp16 import of the generated checkpoint (time and peak RSS). */
export async function benchImport(options: { readonly precisionComparison?: boolean; readonly keep?: string } = {}): Promise<BenchResult[]> {
  const dir = options.keep ?? mkdtempSync(join(tmpdir(), 'afa-bench-import-'));
  try {
    const checkpoint = join(dir, 'sd15-synthetic-fp16.safetensors');
    const generated = performance.now();
    const fileBytes = writeSyntheticSd15Checkpoint(checkpoint);
    const generateSeconds = (performance.now() - generated) / 1000;
    const comparing = options.precisionComparison ?? false;
    const main = runChild(checkpoint, join(dir, 'home-fp32'), DEFAULT_PRECISION, comparing);
    // Streaming target: the import holds one tensor (plus its cast) at a time, so its peak RSS must stay
    // far below the checkpoint plus one component's fp32 weights (what a load-everything import needs).
    const loadEverything = fileBytes + main.unetWeightsBytes;
    const results: BenchResult[] = [
      { name: 'synthetic SD1.5 checkpoint size', value: fileBytes / GB, unit: 'GiB' },
      { name: 'checkpoint generation time', value: generateSeconds, unit: 's' },
      { name: `import time (fp16 → ${DEFAULT_PRECISION} store, default)`, value: main.importSeconds, unit: 's' },
      { name: 'import throughput', value: fileBytes / GB / main.importSeconds, unit: 'GiB/s' },
      {
        name: 'import peak RSS',
        value: main.peakRssBytes / GB,
        unit: 'GiB',
        target: `< 25% of file + fp32 U-Net (${((0.25 * loadEverything) / GB).toFixed(2)} GiB)`,
        pass: main.peakRssBytes < 0.25 * loadEverything,
      },
      { name: `store size (${DEFAULT_PRECISION})`, value: main.storeBytes / GB, unit: 'GiB' },
      ...Object.entries(main.phaseStarts).map(([phase, seconds]) => ({ name: `import phase '${phase}' starts at`, value: seconds, unit: 's' })),
    ];
    if (comparing) {
      const fp16 = runChild(checkpoint, join(dir, 'home-fp16'), 'fp16', true);
      results.push(
        { name: 'import time (fp16 → fp16 store)', value: fp16.importSeconds, unit: 's' },
        { name: 'import peak RSS (fp16 store)', value: fp16.peakRssBytes / GB, unit: 'GiB' },
        { name: 'store size (fp16)', value: fp16.storeBytes / GB, unit: 'GiB' },
        { name: 'U-Net session creation, fp16 stored + Cast', value: fp16.sessionSeconds!, unit: 's' },
        { name: 'U-Net session creation, fp32 stored', value: main.sessionSeconds!, unit: 's' },
        { name: 'U-Net session peak RSS, fp16 stored + Cast', value: fp16.sessionPeakRssBytes! / GB, unit: 'GiB' },
        { name: 'U-Net session peak RSS, fp32 stored', value: main.sessionPeakRssBytes! / GB, unit: 'GiB' },
        { name: 'RSS after U-Net session creation, fp16 stored + Cast', value: fp16.sessionRssBytes! / GB, unit: 'GiB' },
        { name: 'RSS after U-Net session creation, fp32 stored', value: main.sessionRssBytes! / GB, unit: 'GiB' },
      );
    }
    return results;
  } finally {
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
    else for (const home of ['home-fp16', 'home-fp32']) rmSync(join(dir, home), { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    await child(argv[1]!, argv[2]!, argv[3] as StoredPrecision, argv[4] === 'session');
  } else {
    const keepIndex = argv.indexOf('--keep');
    const results = await benchImport({ precisionComparison: argv.includes('--precision'), keep: keepIndex >= 0 ? argv[keepIndex + 1] : undefined });
    for (const result of results) console.log(`${result.name}: ${result.value.toFixed(3)} ${result.unit}${result.target ? ` (target ${result.target}: ${result.pass ? 'pass' : 'FAIL'})` : ''}`);
  }
}
