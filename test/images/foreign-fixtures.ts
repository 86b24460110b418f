// PNGs as other tools write them, built from their documented formats (no files copied from them):
// AUTOMATIC1111's `parameters` infotext, InvokeAI's `invokeai_metadata` / `sd-metadata` / `Dream`
// chunks, ComfyUI's `prompt` (API graph) and `workflow` (editor graph) chunks.
import { encodePng, type PixelImage } from '../../app/images/png.ts';
import type { PngTextChunk } from '../../app/images/png-text.ts';

export function testImage(width = 24, height = 16): PixelImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 255;
  return { width, height, channels: 3, data };
}

function png(text: PngTextChunk[], image = testImage()): Uint8Array {
  return encodePng(image, text);
}

/** What every fixture below encodes, so tests can compare against one record. */
export const FIXTURE = {
  prompt: 'a lighthouse on a cliff, storm, (dramatic lighting:1.2)',
  negativePrompt: 'blurry, lowres',
  seed: 3_141_592_653,
  steps: 28,
  guidance: 6.5,
  width: 512,
  height: 768,
  modelName: 'dreamshaper_8',
  modelHash: '879db523c3',
} as const;

// modules/processing.py create_infotext layout, as written by A1111 1.9+ (separate "Schedule type").
export const A1111_PARAMETERS =
  `${FIXTURE.prompt}\nNegative prompt: ${FIXTURE.negativePrompt}\n` +
  `Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3141592653, Size: 512x768, ` +
  `Model hash: 879db523c3, Model: dreamshaper_8, Lora hashes: "detail: 0123abcd, style: 4567ef01", Version: v1.10.1`;

export function a1111Png(): Uint8Array {
  return png([{ keyword: 'parameters', text: A1111_PARAMETERS }]);
}

export function invokeAiPng(): Uint8Array {
  const metadata = {
    app_version: '4.2.9',
    generation_mode: 'txt2img',
    positive_prompt: FIXTURE.prompt,
    negative_prompt: FIXTURE.negativePrompt,
    width: FIXTURE.width,
    height: FIXTURE.height,
    seed: FIXTURE.seed,
    rand_device: 'cpu',
    cfg_scale: FIXTURE.guidance,
    cfg_rescale_multiplier: 0,
    steps: FIXTURE.steps,
    scheduler: 'dpmpp_2m_k',
    model: { key: 'b1c2', hash: 'blake3:abcd', name: FIXTURE.modelName, base: 'sd-1', type: 'main' },
  };
  return png([
    { keyword: 'invokeai_metadata', text: JSON.stringify(metadata) },
    { keyword: 'invokeai_graph', text: JSON.stringify({ id: 'graph', nodes: {}, edges: [] }) },
  ]);
}

export function invokeAiLegacyPng(): Uint8Array {
  const metadata = {
    model: 'stable diffusion',
    model_weights: FIXTURE.modelName,
    model_hash: 'cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516',
    app_id: 'invoke-ai/InvokeAI',
    app_version: '2.3.5',
    image: {
      prompt: [{ prompt: `${FIXTURE.prompt} [${FIXTURE.negativePrompt}]`, weight: 1 }],
      steps: FIXTURE.steps,
      cfg_scale: FIXTURE.guidance,
      threshold: 0,
      perlin: 0,
      height: FIXTURE.height,
      width: FIXTURE.width,
      seed: FIXTURE.seed,
      seamless: false,
      hires_fix: false,
      type: 'txt2img',
      postprocessing: null,
      sampler: 'k_euler_a',
      variations: [],
    },
  };
  return png([
    { keyword: 'Dream', text: `"${FIXTURE.prompt} [${FIXTURE.negativePrompt}]" -s 28 -S 3141592653 -W 512 -H 768 -C 6.5 -A k_euler_a` },
    { keyword: 'sd-metadata', text: JSON.stringify(metadata) },
  ]);
}

export function invokeAiDreamPng(): Uint8Array {
  return png([{ keyword: 'Dream', text: `"${FIXTURE.prompt} [${FIXTURE.negativePrompt}]" -s 28 -S 3141592653 -W 512 -H 768 -C 6.5 -A k_lms` }]);
}

// ComfyUI's default text-to-image graph (nodes 3–9), with a LoRA loader between checkpoint and sampler.
export function comfyUiApiPrompt(): Record<string, unknown> {
  return {
    '3': {
      class_type: 'KSampler',
      inputs: {
        seed: FIXTURE.seed,
        steps: FIXTURE.steps,
        cfg: FIXTURE.guidance,
        sampler_name: 'dpmpp_2m',
        scheduler: 'karras',
        denoise: 1,
        model: ['10', 0],
        positive: ['6', 0],
        negative: ['7', 0],
        latent_image: ['5', 0],
      },
    },
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: `${FIXTURE.modelName}.safetensors` } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: FIXTURE.width, height: FIXTURE.height, batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: FIXTURE.prompt, clip: ['10', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: FIXTURE.negativePrompt, clip: ['10', 1] } },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
    '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'ComfyUI', images: ['8', 0] } },
    '10': { class_type: 'LoraLoader', inputs: { lora_name: 'detail.safetensors', strength_model: 0.8, strength_clip: 0.8, model: ['4', 0], clip: ['4', 1] } },
  };
}

export function comfyUiWorkflow(): Record<string, unknown> {
  // links: [id, from node, from slot, to node, to slot, type]
  return {
    last_node_id: 9,
    last_link_id: 9,
    nodes: [
      {
        id: 3,
        type: 'KSampler',
        inputs: [
          { name: 'model', type: 'MODEL', link: 1 },
          { name: 'positive', type: 'CONDITIONING', link: 4 },
          { name: 'negative', type: 'CONDITIONING', link: 6 },
          { name: 'latent_image', type: 'LATENT', link: 2 },
        ],
        outputs: [{ name: 'LATENT', type: 'LATENT', links: [7] }],
        widgets_values: [FIXTURE.seed, 'randomize', FIXTURE.steps, FIXTURE.guidance, 'euler_ancestral', 'normal', 1],
      },
      { id: 4, type: 'CheckpointLoaderSimple', inputs: [], widgets_values: [`${FIXTURE.modelName}.safetensors`] },
      { id: 5, type: 'EmptyLatentImage', inputs: [], widgets_values: [FIXTURE.width, FIXTURE.height, 1] },
      { id: 6, type: 'CLIPTextEncode', inputs: [{ name: 'clip', type: 'CLIP', link: 3 }], widgets_values: [FIXTURE.prompt] },
      { id: 7, type: 'CLIPTextEncode', inputs: [{ name: 'clip', type: 'CLIP', link: 5 }], widgets_values: [FIXTURE.negativePrompt] },
      { id: 8, type: 'VAEDecode', inputs: [{ name: 'samples', type: 'LATENT', link: 7 }, { name: 'vae', type: 'VAE', link: 8 }], widgets_values: [] },
      { id: 9, type: 'SaveImage', inputs: [{ name: 'images', type: 'IMAGE', link: 9 }], widgets_values: ['ComfyUI'] },
    ],
    links: [
      [1, 4, 0, 3, 0, 'MODEL'],
      [2, 5, 0, 3, 3, 'LATENT'],
      [3, 4, 1, 6, 0, 'CLIP'],
      [4, 6, 0, 3, 1, 'CONDITIONING'],
      [5, 4, 1, 7, 0, 'CLIP'],
      [6, 7, 0, 3, 2, 'CONDITIONING'],
      [7, 3, 0, 8, 0, 'LATENT'],
      [8, 4, 2, 8, 1, 'VAE'],
      [9, 8, 0, 9, 0, 'IMAGE'],
    ],
    groups: [],
    config: {},
    extra: {},
    version: 0.4,
  };
}

export function comfyUiPng(): Uint8Array {
  return png([
    { keyword: 'prompt', text: JSON.stringify(comfyUiApiPrompt()) },
    { keyword: 'workflow', text: JSON.stringify(comfyUiWorkflow()) },
  ]);
}

export function comfyUiWorkflowOnlyPng(): Uint8Array {
  return png([{ keyword: 'workflow', text: JSON.stringify(comfyUiWorkflow()) }]);
}
