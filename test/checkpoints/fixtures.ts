// Test fixtures: the golden tiny configs, temporary directories, and small synthetic checkpoints written
// with the real safetensors writer.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigOverrides } from '../../app/checkpoints/component-config.ts';
import { writeSafetensors } from '../../app/tensor/safetensors.ts';
import type { DType, Tensor } from '../../app/tensor/tensor.ts';
import { allocate } from '../../app/tensor/tensor.ts';
import { golden } from './golden-paths.ts';

export function goldenConfig(folder: string): Record<string, unknown> {
  return JSON.parse(readFileSync(golden('models', 'afa', folder, 'config.json'), 'utf8')) as Record<string, unknown>;
}

/** The tiny architecture of the golden expert 1 (models/afa/{unet,text_encoder,vae}/config.json). */
export function tinyConfigs(unetFolder = 'unet', textFolder = 'text_encoder'): ConfigOverrides {
  return { unet: goldenConfig(unetFolder), textEncoder: goldenConfig(textFolder), vae: goldenConfig('vae') };
}

export const EXPERT1_FP32 = golden('models', 'single_file', 'expert1_fp32.safetensors');
export const EXPERT2_FP16 = golden('models', 'single_file', 'expert2_fp16.safetensors');
export const AFA_FOLDER = golden('models', 'afa');

export function temporaryDirectory(t: { after(fn: () => void): void }, prefix = 'afa-checkpoints-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A file of zero-element tensors except those given shapes (detection only looks at a few tensors). */
export function writeHeaderOnly(path: string, names: readonly string[], shapes: Readonly<Record<string, readonly number[]>> = {}, dtype: DType = 'float16'): void {
  const tensors = new Map<string, Tensor>();
  for (const name of names) tensors.set(name, allocate(dtype, shapes[name] ?? [0]));
  for (const [name, shape] of Object.entries(shapes)) if (!tensors.has(name)) tensors.set(name, allocate(dtype, shape));
  writeSafetensors(path, tensors);
}
