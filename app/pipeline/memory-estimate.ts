// How much memory a generation needs, estimated before it is accepted, so that a job the machine cannot
// hold is refused with the numbers rather than started and left to swap or die. float32 throughout:
//
//   weights      every session the job loads (estimateSessionBytes: stored size, or the size of the copy a graph casts a weight to)
//   U-Net        every attention runs as onnxruntime's fused MultiHeadAttention, a flash-attention
//                kernel that never holds the [B·heads, N, N] scores, so the peak grows with the number of
//                latent pixels, not its square: the kernel's working set (~20 maps of the first level,
//                0.2 GB for SD1.5 at 512², app/models/attention.ts) plus the skip features each member
//                keeps for its up path ([B, C_l, h_l, w_l] per resnet and downsampler, and a few working
//                maps per level). B = 2 with classifier-free guidance.
//   VAE decoder  at the image's full size: the last up block and the upsampler that feeds it work on
//                max(C0, C1) channels of H × W; ~10 such maps are alive at the peak.
//   runtime      onnxruntime's arenas and threads, a fixed 128 MiB.
//
// Calibrated on the golden tiny model (decoder-bound at these sizes): the engine's peak RSS grew by
// 161, 350 and 740 MB for 256², 512² and 768² images; the estimate says 229, 481 and 900 MB, an upper
// bound by 20–40%. The U-Net and the decoder never run at once, so the
// peak is the weights plus the larger of the two. Batch count and steps change how long a job takes,
// never its peak: images are made one at a time.
import { totalmem } from 'node:os';
import { readModelManifest, storedModelFiles, type ModelManifest } from '../checkpoints/model-store.ts';
import { UserError } from '../common/errors.ts';
import { formatBytes } from '../common/format-bytes.ts';
import { attentionHeads, parseUnetConfig, type UnetConfig } from '../models/unet-config.ts';
import { parseVaeConfig, type VaeConfig } from '../models/vae-config.ts';
import { estimateSessionBytes } from '../runtime/session-cache.ts';

export interface MemoryEstimateInput {
  /** The U-Net of every model the job runs (one for a single model, each member of an ensemble). */
  readonly unets: readonly UnetConfig[];
  readonly vae: VaeConfig;
  readonly width: number;
  readonly height: number;
  /** Classifier-free guidance (guidance > 1) doubles the U-Net's batch. */
  readonly guided: boolean;
  /** Bytes of the sessions the job loads. */
  readonly weightsBytes: number;
}

export interface MemoryEstimate {
  readonly totalBytes: number;
  readonly weightsBytes: number;
  readonly unetBytes: number;
  readonly decoderBytes: number;
}

const float32 = 4;
const runtimeBytes = 128 * 1024 ** 2;
/** Maps of the first level in MultiHeadAttention's working set, and full-size maps alive in the decoder. */
const attentionMaps = 20;
const decoderMaps = 10;

function unetActivations(config: UnetConfig, latentHeight: number, latentWidth: number, batch: number): { attention: number; features: number } {
  let attention = 0;
  let features = 0;
  config.down_block_types.forEach((type, level) => {
    const pixels = Math.ceil(latentHeight / 2 ** level) * Math.ceil(latentWidth / 2 ** level);
    const channels = config.block_out_channels[level]!;
    // One skip feature per resnet plus the downsampler's, and ~4 working maps (norm, conv, residual).
    features += batch * channels * pixels * float32 * (config.layers_per_block + 1 + 4);
    if (type === 'CrossAttnDownBlock2D') attention = Math.max(attention, attentionMaps * batch * channels * pixels * float32);
  });
  return { attention, features };
}

export function estimateGenerationMemory(input: MemoryEstimateInput): MemoryEstimate {
  const latentHeight = input.height / 8;
  const latentWidth = input.width / 8;
  const batch = input.guided ? 2 : 1;
  // Members run layer by layer in lock-step: their attentions take turns, each keeps its own features.
  let attention = 0;
  let features = 0;
  for (const unet of input.unets) {
    const member = unetActivations(unet, latentHeight, latentWidth, batch);
    attention = Math.max(attention, member.attention);
    features += member.features;
  }
  const unetBytes = attention + features;
  const [c0, c1 = c0] = input.vae.block_out_channels as readonly [number, number?];
  const decoderBytes = decoderMaps * Math.max(c0, c1) * input.height * input.width * float32;
  return {
    totalBytes: input.weightsBytes + runtimeBytes + Math.max(unetBytes, decoderBytes),
    weightsBytes: input.weightsBytes,
    unetBytes,
    decoderBytes,
  };
}

/**
 * The largest width × height of the same aspect (multiples of 64) whose estimate fits `budgetBytes`, or
 * undefined when even 64×64 does not fit (the weights alone are too large).
 */
export function largestSizeWithin(input: MemoryEstimateInput, budgetBytes: number): { width: number; height: number } | undefined {
  // The shorter side in steps of 64, the longer one in proportion (rounded down to 64).
  const wide = input.width >= input.height;
  const aspect = wide ? input.width / input.height : input.height / input.width;
  let best: { width: number; height: number } | undefined;
  for (let short = 64; short <= Math.min(input.width, input.height); short += 64) {
    const long = Math.max(64, Math.floor((short * aspect) / 64) * 64);
    const size = wide ? { width: long, height: short } : { width: short, height: long };
    if (estimateGenerationMemory({ ...input, ...size }).totalBytes > budgetBytes) break;
    best = size;
  }
  return best;
}

/**
 * What a job may use: 80% of the machine's memory. Not the memory free at this moment: that moves with
 * the job running now (whose activations are freed when it ends) and with the page cache, and a job
 * accepted or refused should stay so whatever else happens to be running.
 */
export function memoryBudgetBytes(): number {
  return Math.floor(totalmem() * 0.8);
}

/** The estimate's input for stored models: their configs, and the sessions a job loads (U-Net, text encoder each; one VAE decoder). */
export function storedModelsEstimateInput(home: string, manifests: readonly ModelManifest[], settings: { width: number; height: number; guidance: number }): MemoryEstimateInput {
  let weightsBytes = 0;
  manifests.forEach((manifest, index) => {
    const files = storedModelFiles(home, manifest);
    weightsBytes += estimateSessionBytes(files.unet) + estimateSessionBytes(files.textEncoder);
    if (index === 0) weightsBytes += estimateSessionBytes(files.vaeDecoder);
  });
  return {
    unets: manifests.map((manifest) => parseUnetConfig(manifest.configs.unet)),
    vae: parseVaeConfig(manifests[0]!.configs.vae),
    width: settings.width,
    height: settings.height,
    guided: settings.guidance > 1,
    weightsBytes,
  };
}

/**
 * Refuses (UserError 'invalid-argument') a generation of `modelIds` whose estimate is over the budget,
 * saying how much it needs, what for, and the largest size that fits. Models missing from the store are
 * left to the job, which fails on them with their own error.
 */
export function checkGenerationMemory(home: string, modelIds: readonly string[], settings: { width: number; height: number; guidance: number }, budgetBytes = memoryBudgetBytes()): MemoryEstimate | undefined {
  const manifests = modelIds.map((id) => readModelManifest(home, id));
  if (manifests.length === 0 || manifests.some((manifest) => manifest === undefined)) return undefined;
  let input: MemoryEstimateInput;
  try {
    input = storedModelsEstimateInput(home, manifests as ModelManifest[], settings);
  } catch {
    return undefined; // a damaged store: the job reports it in its own words
  }
  const estimate = estimateGenerationMemory(input);
  if (estimate.totalBytes <= budgetBytes) return estimate;
  const size = `${settings.width}×${settings.height}`;
  const peak = estimate.unetBytes >= estimate.decoderBytes ? `the U-Net's activations ${formatBytes(estimate.unetBytes)}` : `decoding the image ${formatBytes(estimate.decoderBytes)}`;
  const fits = largestSizeWithin(input, budgetBytes);
  const unguided = input.guided && estimateGenerationMemory({ ...input, guided: false }).totalBytes <= budgetBytes;
  throw new UserError(
    'invalid-argument',
    `A ${size} image needs about ${formatBytes(estimate.totalBytes)} of memory (model weights ${formatBytes(estimate.weightsBytes)}, ${peak}); the studio may use ${formatBytes(budgetBytes)} on this machine.`,
    fits
      ? `Lower the width and height to ${fits.width}×${fits.height} or less${unguided ? ', or set guidance to 1 (no negative-prompt pass halves the U-Net\'s activations)' : ''}. Steps and batch count do not change the memory needed.`
      : 'The models alone need more than that: use fewer models in the recipe.',
  );
}
