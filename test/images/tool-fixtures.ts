// Images as each generator writes them, built here from the tools' own writer code and documentation
// (no files copied from them). Each fixture names where the tool writes what.
import { asciiField, a1111Exif, jpegWith, pngWithChunks, rawText, tiff, undefinedField, utf16, concat, ascii, utf8, webpWith } from './container-writers.ts';

/** 2^64 − 1: ComfyUI's largest seed, and Stability Matrix's ulong. */
export const BIG_SEED = '18446744073709551615';

// --- AUTOMATIC1111 and its forks (modules/processing.py create_infotext) -------------------------

export const A1111_FULL =
  'masterpiece, a castle on a hill,\n<lora:add_detail:0.7>, sunset over the sea\n' +
  'Negative prompt: (worst quality:1.4), easynegative,\nwatermark\n' +
  'Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 99999999999999999999, Size: 512x768, ' +
  'Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.45, Clip skip: 2, ' +
  'ADetailer model: face_yolov8n.pt, ADetailer prompt: "a smiling face, detailed eyes", ADetailer confidence: 0.3, ADetailer version: 24.11.1, ' +
  'Hires upscale: 2, Hires steps: 15, Hires upscaler: R-ESRGAN 4x+, ' +
  'Lora hashes: "add_detail: 7c6bad76eb54", TI hashes: "easynegative: c74b4e810b03", Version: v1.10.1';

export function a1111CrlfPng(): Uint8Array {
  return pngWithChunks([{ keyword: 'parameters', text: A1111_FULL.replace(/\n/g, '\r\n') }]);
}

export const FORGE_FLUX =
  'a cat in a wizard hat, studio light\n' +
  'Steps: 20, Sampler: Euler, Schedule type: Simple, CFG scale: 1, Distilled CFG Scale: 3.5, Seed: 1234, Size: 896x1152, ' +
  'Model hash: 8e91b68084, Model: flux1-dev-bnb-nf4-v2, Version: f2.0.1v1.10.1-previous-535-gb20cb4bf, Module 1: ae, Module 2: clip_l, Module 3: t5xxl_fp16';

export const SDNEXT =
  'photo of a lighthouse at dusk\nNegative prompt: blurry\n' +
  'Steps: 20, Sampler: DPM++ 2M, CFG scale: 6, Seed: 3141592653, Size: 1024x1024, Parser: Full parser, Model: sd_xl_base_1.0, ' +
  'Model hash: 31e35c80fc, Backend: Diffusers, App: SD.Next, Version: 0a5a4f4, Operations: txt2img, Pipeline: StableDiffusionXLPipeline';

/** A1111 saving a JPEG: piexif UserComment, "UNICODE\0" + UTF-16BE in a big-endian TIFF (modules/images.py save_image_with_geninfo). */
export function a1111Jpeg(parameters: string): Uint8Array {
  return jpegWith({ exif: a1111Exif(parameters), width: 512, height: 768 });
}

/** A1111 saving a WebP: the same piexif block in the WebP EXIF chunk. */
export function a1111Webp(parameters: string): Uint8Array {
  return webpWith({ exif: a1111Exif(parameters), width: 512, height: 768 });
}

// --- Stability Matrix (Inference: "parameters" + "parameters-json" + "smproj") ------------------

export function stabilityMatrixPng(): Uint8Array {
  const json =
    '{"PositivePrompt":"a red fox in the snow","NegativePrompt":"lowres","Steps":28,"Sampler":"euler_ancestral","Scheduler":"karras",' +
    `"CfgScale":6.5,"Seed":${BIG_SEED},"Width":512,"Height":768,"ModelName":"dreamshaper_8.safetensors","ModelHash":null,"FrameCount":0,"MotionBucketId":0}`;
  return pngWithChunks([
    { keyword: 'parameters', text: `a red fox in the snow\nNegative prompt: lowres\nSteps: 28, Sampler: Euler a, CFG scale: 6.5, Seed: ${BIG_SEED}, Size: 512x768, Model: dreamshaper_8` },
    { keyword: 'parameters-json', text: json },
    { keyword: 'smproj', text: '{"Version":2,"ProjectType":"TextToImage"}' },
  ]);
}

// --- ComfyUI -------------------------------------------------------------------------------------

/** The Flux dev example graph: SamplerCustomAdvanced, RandomNoise, BasicGuider, FluxGuidance, UNETLoader. */
export function comfyFluxPrompt(): string {
  // json.dumps output; the seed is written as the integer literal it is.
  return (
    '{"6": {"inputs": {"text": "a cozy cabin in the woods, snow", "clip": ["11", 0]}, "class_type": "CLIPTextEncode", "_meta": {"title": "CLIP Text Encode (Positive Prompt)"}}, ' +
    '"8": {"inputs": {"samples": ["13", 0], "vae": ["10", 0]}, "class_type": "VAEDecode"}, ' +
    '"9": {"inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}, "class_type": "SaveImage"}, ' +
    '"10": {"inputs": {"vae_name": "ae.safetensors"}, "class_type": "VAELoader"}, ' +
    '"11": {"inputs": {"clip_name1": "t5xxl_fp16.safetensors", "clip_name2": "clip_l.safetensors", "type": "flux"}, "class_type": "DualCLIPLoader"}, ' +
    '"12": {"inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"}, "class_type": "UNETLoader"}, ' +
    '"13": {"inputs": {"noise": ["25", 0], "guider": ["22", 0], "sampler": ["16", 0], "sigmas": ["17", 0], "latent_image": ["27", 0]}, "class_type": "SamplerCustomAdvanced"}, ' +
    '"16": {"inputs": {"sampler_name": "euler"}, "class_type": "KSamplerSelect"}, ' +
    '"17": {"inputs": {"scheduler": "simple", "steps": 20, "denoise": 1.0, "model": ["30", 0]}, "class_type": "BasicScheduler"}, ' +
    '"22": {"inputs": {"model": ["30", 0], "conditioning": ["26", 0]}, "class_type": "BasicGuider"}, ' +
    `"25": {"inputs": {"noise_seed": ${BIG_SEED}}, "class_type": "RandomNoise"}, ` +
    '"26": {"inputs": {"guidance": 3.5, "conditioning": ["6", 0]}, "class_type": "FluxGuidance"}, ' +
    '"27": {"inputs": {"width": 1024, "height": 1024, "batch_size": 1}, "class_type": "EmptySD3LatentImage"}, ' +
    '"30": {"inputs": {"max_shift": 1.15, "base_shift": 0.5, "width": 1024, "height": 1024, "model": ["31", 0]}, "class_type": "ModelSamplingFlux"}, ' +
    '"31": {"inputs": {"lora_name": "flux/realism_lora.safetensors", "strength_model": 0.8, "model": ["12", 0]}, "class_type": "LoraLoaderModelOnly"}}'
  );
}

/**
 * SDXL base + refiner: two KSamplerAdvanced sharing one 25-step schedule (base 0–20, refiner 20–end),
 * the prompt text from a string primitive, and a ControlNetApplyAdvanced passing both conditionings
 * (slot 0 positive, slot 1 negative). The refiner has the lower node id: order comes from the links.
 */
export function comfySdxlRefinerPrompt(): Record<string, unknown> {
  return {
    '2': {
      class_type: 'KSamplerAdvanced',
      inputs: { add_noise: 'disable', noise_seed: 0, steps: 25, cfg: 8, sampler_name: 'euler', scheduler: 'normal', start_at_step: 20, end_at_step: 10000, return_with_leftover_noise: 'disable', model: ['12', 0], positive: ['15', 0], negative: ['16', 0], latent_image: ['10', 0] },
    },
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd_xl_base_1.0.safetensors' } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: 1024, height: 1024, batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: ['50', 0], clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'text, watermark', clip: ['4', 1] } },
    '10': {
      class_type: 'KSamplerAdvanced',
      inputs: { add_noise: 'enable', noise_seed: 721897303308196, steps: 25, cfg: 8, sampler_name: 'dpmpp_2m', scheduler: 'karras', start_at_step: 0, end_at_step: 20, return_with_leftover_noise: 'enable', model: ['4', 0], positive: ['60', 0], negative: ['60', 1], latent_image: ['5', 0] },
    },
    '12': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd_xl_refiner_1.0.safetensors' } },
    '15': { class_type: 'CLIPTextEncode', inputs: { text: ['50', 0], clip: ['12', 1] } },
    '16': { class_type: 'CLIPTextEncode', inputs: { text: 'text, watermark', clip: ['12', 1] } },
    '17': { class_type: 'VAEDecode', inputs: { samples: ['2', 0], vae: ['12', 2] } },
    '19': { class_type: 'SaveImage', inputs: { filename_prefix: 'ComfyUI', images: ['17', 0] } },
    '50': { class_type: 'PrimitiveStringMultiline', inputs: { value: 'evening sunset scenery blue sky nature, glass bottle with a galaxy in it' } },
    '60': { class_type: 'ControlNetApplyAdvanced', inputs: { strength: 0.6, start_percent: 0, end_percent: 1, positive: ['6', 0], negative: ['7', 0], control_net: ['61', 0], image: ['62', 0] } },
    '61': { class_type: 'ControlNetLoader', inputs: { control_net_name: 'controlnet-canny-sdxl.safetensors' } },
    '62': { class_type: 'LoadImage', inputs: { image: 'edges.png', upload: 'image' } },
  };
}

/** SamplerCustom with KSamplerSelect and KarrasScheduler, image-to-image from a loaded picture. */
export function comfySamplerCustomPrompt(): Record<string, unknown> {
  return {
    '1': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'SD1.5/dreamshaper_8.safetensors' } },
    '2': { class_type: 'CLIPTextEncode', inputs: { text: 'a watercolor harbour', clip: ['1', 1] } },
    '3': { class_type: 'CLIPTextEncode', inputs: { text: 'photo', clip: ['1', 1] } },
    '4': { class_type: 'LoadImage', inputs: { image: 'harbour.png', upload: 'image' } },
    '5': { class_type: 'VAEEncode', inputs: { pixels: ['4', 0], vae: ['1', 2] } },
    '6': { class_type: 'KSamplerSelect', inputs: { sampler_name: 'dpmpp_2m' } },
    '7': { class_type: 'KarrasScheduler', inputs: { steps: 30, sigma_max: 14.6, sigma_min: 0.03, rho: 7 } },
    '8': {
      class_type: 'SamplerCustom',
      inputs: { add_noise: true, noise_seed: 42, cfg: 5.5, model: ['1', 0], positive: ['2', 0], negative: ['3', 0], sampler: ['6', 0], sigmas: ['7', 0], latent_image: ['5', 0] },
    },
  };
}

/** An editor graph (schema 1, link objects) where the seed widget is converted to an input fed by a primitive. */
export function comfyWorkflowWithPrimitive(): Record<string, unknown> {
  return {
    version: 1,
    state: { lastNodeId: 9, lastLinkId: 10 },
    nodes: [
      {
        id: 3,
        type: 'KSampler',
        mode: 0,
        inputs: [
          { name: 'model', type: 'MODEL', link: 1 },
          { name: 'positive', type: 'CONDITIONING', link: 4 },
          { name: 'negative', type: 'CONDITIONING', link: 6 },
          { name: 'latent_image', type: 'LATENT', link: 2 },
          { name: 'seed', type: 'INT', link: 10, widget: { name: 'seed' } },
        ],
        widgets_values: [1, 'fixed', 24, 7, 'dpmpp_2m', 'karras', 1],
      },
      { id: 4, type: 'CheckpointLoaderSimple', mode: 0, inputs: [], widgets_values: ['v1-5-pruned-emaonly.safetensors'] },
      { id: 5, type: 'EmptyLatentImage', mode: 0, inputs: [], widgets_values: [640, 448, 1] },
      { id: 6, type: 'CLIPTextEncode', mode: 0, inputs: [{ name: 'clip', type: 'CLIP', link: 3 }], widgets_values: ['a koi pond, ukiyo-e'] },
      { id: 7, type: 'CLIPTextEncode', mode: 0, inputs: [{ name: 'clip', type: 'CLIP', link: 5 }], widgets_values: ['photo'] },
      // A muted LoRA loader takes no part.
      { id: 8, type: 'LoraLoader', mode: 4, inputs: [], widgets_values: ['muted.safetensors', 1, 1] },
      { id: 9, type: 'PrimitiveNode', mode: 0, outputs: [{ name: 'INT', links: [10] }], widgets_values: [8_675_309, 'fixed'] },
    ],
    links: [
      { id: 1, origin_id: 4, origin_slot: 0, target_id: 3, target_slot: 0, type: 'MODEL' },
      { id: 2, origin_id: 5, origin_slot: 0, target_id: 3, target_slot: 3, type: 'LATENT' },
      { id: 3, origin_id: 4, origin_slot: 1, target_id: 6, target_slot: 0, type: 'CLIP' },
      { id: 4, origin_id: 6, origin_slot: 0, target_id: 3, target_slot: 1, type: 'CONDITIONING' },
      { id: 5, origin_id: 4, origin_slot: 1, target_id: 7, target_slot: 0, type: 'CLIP' },
      { id: 6, origin_id: 7, origin_slot: 0, target_id: 3, target_slot: 2, type: 'CONDITIONING' },
      { id: 10, origin_id: 9, origin_slot: 0, target_id: 3, target_slot: 4, type: 'INT' },
    ],
  };
}

/**
 * ComfyUI's WebP saver (comfy_extras/nodes_images.py SaveAnimatedWEBP): Pillow's Image.Exif with
 * Model (0x0110) = "prompt:<json>" and, counting down from Make (0x010F), "<key>:<json>" per
 * extra_pnginfo entry — so "workflow:<json>" in Make. Little-endian TIFF, all tags in IFD0.
 */
export function comfyWebp(prompt: string, workflow: string): Uint8Array {
  const exif = tiff(true, new Map([[0x0110, asciiField(`prompt:${prompt}`)], [0x010f, asciiField(`workflow:${workflow}`)]]));
  return webpWith({ exif, width: 1024, height: 1024 });
}

/** ComfyUI-SaveImageWithMetaData: an A1111-style "parameters" beside the usual graphs. */
export function comfySaveWithMetadataPng(): Uint8Array {
  return pngWithChunks([
    {
      keyword: 'parameters',
      text:
        'evening sunset scenery blue sky nature, glass bottle with a galaxy in it\nNegative prompt: text, watermark\n' +
        'Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 8.0, Seed: 721897303308196, Size: 1024x1024, Model: sd_xl_base_1.0, Model hash: 31e35c80fc, ' +
        'Hashes: {"model": "31e35c80fc"}, Version: ComfyUI',
    },
    { keyword: 'prompt', text: JSON.stringify(comfySdxlRefinerPrompt()) },
  ]);
}

// --- InvokeAI ------------------------------------------------------------------------------------

export function invokeAi3Png(): Uint8Array {
  const metadata = {
    generation_mode: 'sdxl_txt2img',
    positive_prompt: 'a portrait of a knight, oil painting',
    negative_prompt: 'blurry',
    width: 1024,
    height: 1024,
    seed: 1234567890,
    rand_device: 'cpu',
    cfg_scale: 7,
    steps: 30,
    scheduler: 'euler_a',
    clip_skip: 0,
    model: { model_name: 'stable-diffusion-xl-base-1-0', base_model: 'sdxl', model_type: 'main' },
    controlnets: [],
    ipAdapters: [],
    t2iAdapters: [],
    loras: [{ lora: { model_name: 'detail_tweaker', base_model: 'sdxl' }, weight: 0.75 }],
    vae: { model_name: 'sdxl-vae-fp16-fix', base_model: 'sdxl' },
    positive_style_prompt: '',
    negative_style_prompt: '',
    app_version: '3.4.0',
  };
  return pngWithChunks([
    { keyword: 'invokeai_metadata', text: JSON.stringify(metadata) },
    { keyword: 'invokeai_graph', text: '{"id":"g","nodes":{},"edges":[]}' },
  ]);
}

export function invokeAiFluxPng(): Uint8Array {
  const metadata = {
    generation_mode: 'flux_txt2img',
    positive_prompt: 'a neon street at night, rain',
    width: 1360,
    height: 768,
    seed: 42,
    steps: 30,
    guidance: 4,
    scheduler: 'euler',
    model: { key: 'a8b2', hash: 'blake3:e1f2a3', name: 'FLUX Dev (Quantized)', base: 'flux', type: 'main' },
    loras: [{ model: { key: 'c3', hash: 'blake3:99', name: 'film_grain', base: 'flux', type: 'lora' }, weight: 0.5 }],
    app_version: '5.6.0',
  };
  return pngWithChunks([{ keyword: 'invokeai_metadata', text: JSON.stringify(metadata) }]);
}

/** Only the graph: its core_metadata node carries the fields. */
export function invokeAiGraphOnlyPng(): Uint8Array {
  const graph = {
    id: 'sd1_graph',
    nodes: {
      core_metadata: {
        id: 'core_metadata',
        type: 'core_metadata',
        is_intermediate: true,
        positive_prompt: 'a lighthouse, watercolor',
        negative_prompt: '',
        seed: 77,
        steps: 25,
        cfg_scale: 7.5,
        scheduler: 'dpmpp_2m_k',
        width: 512,
        height: 512,
        model: { key: 'k', hash: 'blake3:1', name: 'Deliberate', base: 'sd-1', type: 'main' },
      },
      noise: { id: 'noise', type: 'noise', seed: 77, width: 512, height: 512 },
    },
    edges: [],
  };
  return pngWithChunks([{ keyword: 'invokeai_graph', text: JSON.stringify(graph) }]);
}

/** InvokeAI 2.x's Dream line: the prompt quoted, here holding " -dark" which is not a switch. */
export function invokeAiDreamQuotedPng(): Uint8Array {
  return pngWithChunks([{ keyword: 'Dream', text: '"sci-fi city -dark mood [blurry, lowres]" -s 50 -S 42 -W 512 -H 640 -C 7.5 -A k_euler_a' }]);
}

// --- NovelAI -------------------------------------------------------------------------------------

export function novelAiV3Png(): Uint8Array {
  const comment =
    '{"prompt": "1girl, solo, cherry blossoms, best quality", "steps": 28, "height": 1216, "width": 832, "scale": 5.0, ' +
    '"uncond_scale": 1.0, "cfg_rescale": 0.0, "seed": 3141592653, "n_samples": 1, "hide_debug_overlay": false, "noise_schedule": "karras", ' +
    '"legacy_v3_extend": false, "sampler": "k_dpmpp_2m", "controlnet_strength": 1.0, "controlnet_model": null, "dynamic_thresholding": false, ' +
    '"sm": false, "sm_dyn": false, "skip_cfg_below_sigma": 0.0, "lora_unet_weights": null, "lora_clip_weights": null, ' +
    '"uc": "lowres, bad anatomy, bad hands", "request_type": "PromptGenerateRequest", "signed_hash": "b2c3"}';
  return pngWithChunks([
    { keyword: 'Title', text: 'AI generated image' },
    { keyword: 'Description', text: '1girl, solo, cherry blossoms, best quality' },
    { keyword: 'Software', text: 'NovelAI' },
    { keyword: 'Source', text: 'Stable Diffusion XL C1E1DE52' },
    { keyword: 'Generation time', text: '5.531623' },
    { keyword: 'Comment', text: comment },
  ]);
}

export function novelAiV4Png(): Uint8Array {
  const comment = {
    prompt: 'a girl and a cat in a garden',
    steps: 23,
    height: 1024,
    width: 1024,
    scale: 6,
    seed: 2718281828,
    noise_schedule: 'karras',
    sampler: 'k_euler_ancestral',
    v4_prompt: { caption: { base_caption: 'a girl and a cat in a garden', char_captions: [{ char_caption: 'girl, red hair', centers: [{ x: 0.5, y: 0.5 }] }] }, use_coords: false, use_order: true },
    v4_negative_prompt: { caption: { base_caption: 'blurry, lowres', char_captions: [] }, legacy_uc: false },
    uc: 'blurry, lowres',
    request_type: 'PromptGenerateRequest',
  };
  return pngWithChunks([
    { keyword: 'Title', text: 'NovelAI generated image' },
    { keyword: 'Description', text: 'a girl and a cat in a garden' },
    { keyword: 'Software', text: 'NovelAI' },
    { keyword: 'Source', text: 'NovelAI Diffusion V4.5 4BDE2A90' },
    { keyword: 'Comment', text: JSON.stringify(comment) },
  ]);
}

// --- Fooocus, RuinedFooocus ----------------------------------------------------------------------

export const FOOOCUS_JSON = JSON.stringify({
  adm_guidance: '(1.5, 0.8, 0.3)',
  base_model: 'juggernautXL_v8Rundiffusion',
  base_model_hash: 'aeb7e9e6897a1e58b10494bd989d001e3d4bc9450633cd7b6f',
  clip_skip: 2,
  full_negative_prompt: ['(worst quality, low quality:1.4)'],
  full_prompt: ['a cinematic photo of a fox, dramatic light', 'cinematic still, highly detailed'],
  guidance_scale: 4,
  loras: [['sd_xl_offset_example-lora_1.0', 0.1, '4852686128f953d0277d0793e2f0335352f96a919c9c16a09787d77f55cbdf6f']],
  metadata_scheme: 'fooocus',
  negative_prompt: '',
  performance: 'Speed',
  prompt: 'a cinematic photo of a fox',
  prompt_expansion: 'a cinematic photo of a fox, dramatic light',
  refiner_model: 'None',
  refiner_switch: 0.5,
  resolution: '(1152, 896)',
  sampler: 'dpmpp_2m_sde_gpu',
  scheduler: 'karras',
  seed: '3141592653',
  sharpness: 2,
  steps: 30,
  styles: "['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp']",
  vae: 'Default (model)',
  version: 'Fooocus v2.5.5',
});

export function fooocusPng(): Uint8Array {
  return pngWithChunks([
    { keyword: 'parameters', text: FOOOCUS_JSON },
    { keyword: 'fooocus_scheme', text: 'fooocus' },
  ]);
}

/** Fooocus's get_exif (modules/meta_parser.py): Pillow Exif, IFD0 UserComment (no character code), Software, MakerNote. */
export function fooocusJpeg(): Uint8Array {
  const exif = tiff(
    true,
    new Map([
      [0x9286, undefinedField(utf8(FOOOCUS_JSON))],
      [0x0131, asciiField('Fooocus v2.5.5')],
      [0x927c, undefinedField(utf8('fooocus'))],
    ]),
  );
  return jpegWith({ exif, width: 1152, height: 896 });
}

export function ruinedFooocusPng(): Uint8Array {
  const json =
    '{"Prompt": "cinematic film still A sunflower field, shallow depth of field", "Negative": "anime, cartoon", "steps": 30, "cfg": 8.5, ' +
    '"width": 1152, "height": 896, "seed": 3864674281, "sampler_name": "dpmpp_2m_sde_gpu", "scheduler": "karras", ' +
    '"base_model_name": "sd_xl_base_1.0_0.9vae.safetensors", "base_model_hash": "be9edd61", ' +
    '"loras": [["4852686128", "0.1 - sd_xl_offset_example-lora_1.0.safetensors"]], "start_step": 0, "denoise": null, "clip_skip": 1, "software": "RuinedFooocus"}';
  return pngWithChunks([{ keyword: 'parameters', text: json }]);
}

// --- SwarmUI -------------------------------------------------------------------------------------

export const SWARM_JSON = `{
  "sui_image_params": {
    "prompt": "a tiny robot watering plants, <lora:cute_style>",
    "negativeprompt": "blurry",
    "model": "OfficialStableDiffusion/sd_xl_base_1.0",
    "seed": 1482910384,
    "steps": 35,
    "cfgscale": 6.5,
    "aspectratio": "1:1",
    "width": 1024,
    "height": 1024,
    "sampler": "dpmpp_2m",
    "scheduler": "karras",
    "loras": ["cute_style"],
    "loraweights": ["0.8"],
    "swarm_version": "0.9.5.2",
    "date": "2025-02-11",
    "generation_time": "0.02 (prep) and 6.12 (gen) seconds"
  },
  "sui_extra_data": { "original_prompt": "a tiny robot watering plants, <lora:cute_style>" },
  "sui_models": [
    { "name": "OfficialStableDiffusion/sd_xl_base_1.0.safetensors", "param": "model", "hash": "0x31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b" },
    { "name": "cute_style.safetensors", "param": "loras", "hash": "0x1f2e3d" }
  ]
}`;

export function swarmPng(): Uint8Array {
  // "a textdata chunk named parameters with empty string as the language id" (ImageSharp's iTXt).
  return pngWithChunks([{ keyword: 'parameters', text: SWARM_JSON, kind: 'iTXt' }]);
}

/** SwarmUI's JPEG: ImageSharp's ExifProfile, little-endian, UserComment "UNICODE\0" + UTF-16LE in the Exif IFD. */
export function swarmJpeg(): Uint8Array {
  const exif = tiff(true, new Map(), new Map([[0x9286, undefinedField(concat(ascii('UNICODE\0'), utf16(SWARM_JSON, true)))]]));
  return jpegWith({ exif, width: 1024, height: 1024 });
}

// --- Draw Things ---------------------------------------------------------------------------------

export function drawThingsXmp(): string {
  const settings =
    '{"c":"a lighthouse in a storm, oil painting","lora":[{"file":"detail_tweaker_lora_f16.ckpt","weight":0.6}],"model":"sd_v1.5_f16.ckpt",' +
    '"sampler":"DPM++ 2M Karras","scale":7.5,"seed":3141592653,"seed_mode":"Scale Alike","shift":1,"size":"512x768","steps":28,"strength":1,' +
    '"uc":"blurry, lowres","v2":{"aestheticScore":6,"batchCount":1,"guidanceScale":7.5,"height":768,"model":"sd_v1.5_f16.ckpt","seed":3141592653,"steps":28,"width":512}}';
  const escaped = settings.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return (
    '<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 6.0.0">' +
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" ' +
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/">' +
    '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">a lighthouse in a storm, oil painting&#xA;-blurry, lowres&#xA;Steps: 28, Sampler: DPM++ 2M Karras</rdf:li></rdf:Alt></dc:description>' +
    `<exif:UserComment><rdf:Alt><rdf:li xml:lang="x-default">${escaped}</rdf:li></rdf:Alt></exif:UserComment>` +
    '<xmp:CreatorTool>Draw Things</xmp:CreatorTool></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="r"?>'
  );
}

export function drawThingsPng(): Uint8Array {
  return pngWithChunks([{ keyword: 'XML:com.adobe.xmp', text: drawThingsXmp(), kind: 'iTXt' }]);
}

// --- DiffusionBee --------------------------------------------------------------------------------

export function diffusionBeePng(): Uint8Array {
  const params = {
    prompt: 'a bee on a sunflower, macro photo',
    negative_prompt: 'cartoon',
    seed: 90210,
    img_width: 512,
    img_height: 512,
    dif_steps: 25,
    guidance_scale: 7.5,
    num_imgs: 1,
    batch_size: 1,
    selected_model: 'Default_SDB_0.1',
    selected_sampler: 'DDIM',
    applet_name: 'txt2img',
  };
  return pngWithChunks([
    { keyword: 'Software', text: 'DiffusionBee' },
    { keyword: 'parameters', text: JSON.stringify(params) },
  ]);
}

export { rawText, utf8 };
