// The built-in 'model' target: one checkpoint from the model store (app/checkpoints/model-store.ts)
// with its own tokenizer (diffusers folders bring one; single files use the bundled SD1.x vocabulary).
import { existsSync } from 'node:fs';
import { UserError } from '../common/errors.ts';
import { storedFloat16Form, storedGraphPath } from '../checkpoints/float16-forms.ts';
import { refreshStoredUnetGraph } from '../checkpoints/import-checkpoint.ts';
import { readModelManifest, STORE_VERSION, storedModelFiles, type ModelManifest } from '../checkpoints/model-store.ts';
import type { RecipeSnapshot } from '../images/generation-settings.ts';
import { parseClipTextConfig } from '../models/clip-text-config.ts';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import type { ResolveContext, ResolvedTarget } from './generation-target.ts';
import { ModelDenoiser, VaeLatentDecoder } from './model-denoiser.ts';

/** Tokenizers by folder ('' = bundled): building one parses the 49,408-entry vocabulary (~0.1 s). */
const tokenizers = new Map<string, ClipTokenizer>();

function tokenizerOf(folder: string | undefined): ClipTokenizer {
  if (folder === undefined) return ClipTokenizer.default();
  let tokenizer = tokenizers.get(folder);
  if (!tokenizer) {
    tokenizer = ClipTokenizer.fromDiffusersFolder(folder);
    tokenizers.set(folder, tokenizer);
  }
  return tokenizer;
}

/** The manifest of stored model `modelId`; UserError('not-found') naming what to do when absent. */
export function requireStoredModel(home: string, modelId: string): ModelManifest {
  const manifest = readModelManifest(home, modelId);
  if (!manifest) {
    throw new UserError('not-found', `There is no imported model with id '${modelId}'.`, 'List the imported models with `afa models`, or import one with `afa import <file>`.');
  }
  if (manifest.storeVersion !== STORE_VERSION) {
    throw new UserError(
      'unsupported',
      `Model '${manifest.name}' was imported by another version of the studio (store version ${manifest.storeVersion}, this one reads ${STORE_VERSION}).`,
      'Import it again.',
    );
  }
  return manifest;
}

/** What history records for a single model: method 'single' with the model as the one member. */
export function singleModelSnapshot(manifest: ModelManifest): RecipeSnapshot {
  return {
    recipeId: null,
    name: null,
    method: 'single',
    members: [{ modelId: manifest.id, shortHash: manifest.shortHash, name: manifest.name }],
    aggregatorId: null,
  };
}

/**
 * The model's tokenizer: its own folder or the bundled SD1.x vocabulary, refused when it has ids past the
 * text encoder's embedding table (onnxruntime's Gather would fail in the middle of a job).
 */
export function tokenizerForModel(manifest: ModelManifest, folder: string | undefined): ClipTokenizer {
  const tokenizer = tokenizerOf(folder);
  const textConfig = parseClipTextConfig(manifest.configs.textEncoder, `text encoder config of model '${manifest.name}'`);
  if (tokenizer.config.vocabSize > textConfig.vocab_size) {
    throw new UserError(
      'mismatch',
      `Model '${manifest.name}' has a text encoder of ${textConfig.vocab_size} tokens, but its tokenizer (${tokenizer.config.source}) has ${tokenizer.config.vocabSize}.`,
      'This checkpoint needs its own tokenizer: import its diffusers folder (which carries tokenizer/), or the single file with --config-dir <folder with tokenizer/>.',
    );
  }
  return tokenizer;
}

/** Offers the float16 forms of a stored model's text encoder, U-Net and VAE decoder to the runtime. */
export function offerStoredFloat16(context: Pick<ResolveContext, 'home' | 'runtime'>, manifest: ModelManifest): void {
  for (const component of ['text-encoder', 'unet', 'vae-decoder'] as const) {
    context.runtime.offerFloat16(storedGraphPath(context.home, manifest, component), () => storedFloat16Form(context.home, manifest, component));
  }
}

export async function resolveStoredModel(modelId: string, context: ResolveContext): Promise<ResolvedTarget> {
  const manifest = refreshStoredUnetGraph(context.home, requireStoredModel(context.home, modelId));
  const files = storedModelFiles(context.home, manifest);
  for (const path of [files.textEncoder, files.unet, files.vaeDecoder]) {
    if (!existsSync(path)) {
      throw new UserError('corrupt-file', `Model '${manifest.name}' is incomplete in the store: ${path} is missing.`, 'Remove the model and import it again.');
    }
  }
  const tokenizer = tokenizerForModel(manifest, files.tokenizer);
  offerStoredFloat16(context, manifest);
  return {
    denoiser: new ModelDenoiser(tokenizer, { textEncoder: files.textEncoder, unet: files.unet }, context.runtime),
    decoder: new VaeLatentDecoder(files.vaeDecoder, context.runtime),
    models: [files.textEncoder, files.unet, files.vaeDecoder],
    snapshot: singleModelSnapshot(manifest),
  };
}
