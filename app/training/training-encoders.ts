// The frozen encoders a training run needs before the training step: the VAE encoder (image →
// latent distribution mean and std, [1, 4, R/8, R/8]) and each expert's CLIP text encoder (caption →
// last_hidden_state [77, D]), stacked over the K experts as the AFA training graph takes them. AFA's
// official training encodes images with expert 1's VAE (every SD1.x member shares its latent space).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../common/errors.ts';
import { compileComponent, saveComponent, type CompiledComponent } from '../models/compile-component.ts';
import type { LatentDecoder } from '../pipeline/denoiser.ts';
import { createModelRuntime } from '../pipeline/model-runtime.ts';
import { VaeLatentDecoder } from '../pipeline/model-denoiser.ts';
import { openDiffusersComponent } from '../models/diffusers-folder.ts';
import { parseClipTextConfig } from '../models/clip-text-config.ts';
import { parseVaeConfig } from '../models/vae-config.ts';
import { ModelSession, type SessionOptions } from '../runtime/onnx-runtime.ts';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import type { Tensor } from '../tensor/tensor.ts';

export interface LatentDistribution {
  /** float32 [4, h, w] each: the diagonal Gaussian the VAE encoder outputs (before the scaling factor). */
  readonly mean: Float32Array;
  readonly std: Float32Array;
  readonly shape: readonly number[];
}

export interface TrainingEncoders {
  /** Identifies the weights the encodings depend on (the cache key's model part). */
  readonly modelKey: string;
  /** The VAE's scaling factor (0.18215 for SD1.x). */
  readonly scalingFactor: number;
  /** [K, 77, D]: what one caption's stacked embeddings look like. */
  readonly captionShape: readonly number[];
  encodeImage(pixels: Tensor<'float32'>): Promise<LatentDistribution>;
  /** Each expert's own embedding of the caption, [K, 77, D] flattened. */
  encodeCaption(text: string): Promise<Float32Array>;
  release(): Promise<void>;
}

/** SHA-256 over every file of the folders (name and bytes), in order: for diffusers folders. */
function hashFolders(folders: readonly string[]): string {
  const hash = createHash('sha256');
  for (const folder of folders) {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      if (!statSync(path).isFile()) continue;
      hash.update(name);
      hash.update(readFileSync(path));
    }
  }
  return hash.digest('hex');
}

function asFloat32(tensor: Tensor | undefined, what: string): Tensor<'float32'> {
  if (!tensor || tensor.dtype !== 'float32') throw new EngineError(`${what} did not return float32 values.`);
  return tensor as Tensor<'float32'>;
}

/**
 * Encoders from diffusers pipeline folders (one per expert, each with vae/, text_encoder/ and
 * tokenizer/), compiled into `scratch`. The first folder's VAE encodes the images.
 */
export async function openFolderEncoders(expertFolders: readonly string[], scratch: string, session?: SessionOptions): Promise<TrainingEncoders> {
  const compiled: CompiledComponent[] = [];
  try {
    const vaeFolder = join(expertFolders[0]!, 'vae');
    const vaeComponent = openDiffusersComponent(vaeFolder, parseVaeConfig);
    const vae = await compileComponent({ kind: 'vae-encoder', config: vaeComponent.config, weights: vaeComponent.weights }, join(scratch, 'vae-encoder'), { session });
    compiled.push(vae);
    const textEncoders: { tokenizer: ClipTokenizer; encoder: CompiledComponent }[] = [];
    for (const [k, folder] of expertFolders.entries()) {
      const component = openDiffusersComponent(join(folder, 'text_encoder'), parseClipTextConfig);
      const encoder = await compileComponent({ kind: 'text-encoder', config: component.config, weights: component.weights }, join(scratch, `text-encoder-${k}`), { session });
      compiled.push(encoder);
      textEncoders.push({ tokenizer: ClipTokenizer.fromDiffusersFolder(join(folder, 'tokenizer')), encoder });
    }
    const modelKey = hashFolders([vaeFolder, ...expertFolders.flatMap((folder) => [join(folder, 'text_encoder'), join(folder, 'tokenizer')])]);
    const scalingFactor = vaeComponent.config.scaling_factor;
    const probe = await encodeWith(textEncoders, '');
    return {
      modelKey,
      scalingFactor,
      captionShape: probe.shape,
      async encodeImage(pixels) {
        const { mean, std } = await vae.session('vae_encoder').run({ image: pixels });
        const m = asFloat32(mean, 'The VAE encoder');
        return { mean: m.data, std: asFloat32(std, 'The VAE encoder').data, shape: m.shape.slice(1) };
      },
      async encodeCaption(text) {
        return (await encodeWith(textEncoders, text)).data;
      },
      release: async () => {
        await Promise.all(compiled.map((component) => component.release()));
      },
    };
  } catch (error) {
    await Promise.all(compiled.map((component) => component.release()));
    throw error;
  }
}

async function encodeWith(textEncoders: readonly { tokenizer: ClipTokenizer; encoder: CompiledComponent }[], text: string): Promise<{ data: Float32Array; shape: number[] }> {
  const parts: Float32Array[] = [];
  let shape: readonly number[] = [];
  for (const { tokenizer, encoder } of textEncoders) {
    const hidden = asFloat32((await encoder.session('text_encoder').run({ input_ids: tokenizer.encodeBatch([text]) })).last_hidden_state, 'The text encoder');
    shape = hidden.shape.slice(1);
    parts.push(hidden.data);
  }
  const data = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  parts.forEach((part, k) => data.set(part, k * part.length));
  return { data, shape: [textEncoders.length, ...shape] };
}

/**
 * The VAE decoder of a diffusers pipeline folder (vae/), saved into `scratch`, for the sample images a
 * run draws at each validation (the studio passes its stored vae_decoder.onnx instead).
 */
export function openFolderSampleDecoder(expertFolder: string, scratch: string, session?: SessionOptions): LatentDecoder & { release(): Promise<void> } {
  const component = openDiffusersComponent(join(expertFolder, 'vae'), parseVaeConfig);
  const modelPath = saveComponent({ kind: 'vae-decoder', config: component.config, weights: component.weights }, scratch).get('vae_decoder')!;
  const runtime = createModelRuntime({ sessionOptions: session });
  const decoder = new VaeLatentDecoder(modelPath, runtime);
  return { decode: (latents) => decoder.decode(latents), release: () => runtime.sessions.clear() };
}

/** What openStoredEncoders needs of each imported model (the model store's graphs and tokenizer). */
export interface StoredEncoderFiles {
  /** The model's id (SHA-256 of its weights). */
  readonly id: string;
  readonly textEncoderGraph: string;
  readonly vaeEncoderGraph: string;
  /** SHA-256 of the VAE's stored weights. */
  readonly vaeSha256: string;
  readonly scalingFactor: number;
  readonly tokenizer: ClipTokenizer;
}

/** Encoders from the studio's imported models: their stored vae_encoder.onnx and text_encoder.onnx. */
export async function openStoredEncoders(models: readonly StoredEncoderFiles[], session?: SessionOptions): Promise<TrainingEncoders> {
  const sessions: ModelSession[] = [];
  try {
    const vae = await ModelSession.create(models[0]!.vaeEncoderGraph, session);
    sessions.push(vae);
    const textEncoders: { tokenizer: ClipTokenizer; encoder: ModelSession }[] = [];
    for (const model of models) {
      const encoder = await ModelSession.create(model.textEncoderGraph, session);
      sessions.push(encoder);
      textEncoders.push({ tokenizer: model.tokenizer, encoder });
    }
    const encode = (text: string) => encodeWithSessions(textEncoders, text);
    const probe = await encode('');
    return {
      modelKey: createHash('sha256').update(JSON.stringify({ vae: models[0]!.vaeSha256, textEncoders: models.map((model) => model.id) })).digest('hex'),
      scalingFactor: models[0]!.scalingFactor,
      captionShape: probe.shape,
      async encodeImage(pixels) {
        const { mean, std } = await vae.run({ image: pixels });
        const m = asFloat32(mean, 'The VAE encoder');
        return { mean: m.data, std: asFloat32(std, 'The VAE encoder').data, shape: m.shape.slice(1) };
      },
      async encodeCaption(text) {
        return (await encode(text)).data;
      },
      release: async () => {
        await Promise.all(sessions.map((s) => s.release()));
      },
    };
  } catch (error) {
    await Promise.all(sessions.map((s) => s.release()));
    throw error;
  }
}

async function encodeWithSessions(textEncoders: readonly { tokenizer: ClipTokenizer; encoder: ModelSession }[], text: string): Promise<{ data: Float32Array; shape: number[] }> {
  const parts: Float32Array[] = [];
  let shape: readonly number[] = [];
  for (const { tokenizer, encoder } of textEncoders) {
    const hidden = asFloat32((await encoder.run({ input_ids: tokenizer.encodeBatch([text]) })).last_hidden_state, 'The text encoder');
    shape = hidden.shape.slice(1);
    parts.push(hidden.data);
  }
  const data = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  parts.forEach((part, k) => data.set(part, k * part.length));
  return { data, shape: [textEncoders.length, ...shape] };
}
