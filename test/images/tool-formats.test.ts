// Every generator's format, read from fixture images written the way each tool writes them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readImageSettings } from '../../app/images/metadata.ts';
import { pngWithChunks } from './container-writers.ts';
import {
  A1111_FULL,
  BIG_SEED,
  FORGE_FLUX,
  SDNEXT,
  a1111CrlfPng,
  a1111Jpeg,
  a1111Webp,
  comfyFluxPrompt,
  comfySamplerCustomPrompt,
  comfySaveWithMetadataPng,
  comfySdxlRefinerPrompt,
  comfyWebp,
  comfyWorkflowWithPrimitive,
  diffusionBeePng,
  drawThingsPng,
  fooocusJpeg,
  fooocusPng,
  invokeAi3Png,
  invokeAiDreamQuotedPng,
  invokeAiFluxPng,
  invokeAiGraphOnlyPng,
  novelAiV3Png,
  novelAiV4Png,
  ruinedFooocusPng,
  stabilityMatrixPng,
  swarmJpeg,
  swarmPng,
} from './tool-fixtures.ts';

const png = (entries: Record<string, string>) => pngWithChunks(Object.entries(entries).map(([keyword, text]) => ({ keyword, text })));

describe('AUTOMATIC1111, Forge, SD.Next', () => {
  const expectFull = (read: ReturnType<typeof readImageSettings>) => {
    assert.equal(read?.source, 'automatic1111');
    assert.equal(read?.prompt, 'masterpiece, a castle on a hill,\n<lora:add_detail:0.7>, sunset over the sea');
    assert.equal(read?.negativePrompt, '(worst quality:1.4), easynegative,\nwatermark');
    assert.equal(read?.seed, '99999999999999999999');
    assert.equal(read?.steps, 30);
    assert.equal(read?.sampler, 'dpmpp-2m-karras');
    assert.equal(read?.samplerLabel, 'DPM++ 2M');
    assert.equal(read?.scheduler, 'Karras');
    assert.equal(read?.guidance, 7);
    assert.deepEqual([read?.width, read?.height], [512, 768]);
    assert.equal(read?.modelName, 'v1-5-pruned-emaonly');
    assert.equal(read?.modelHash, '6ce0161689');
    assert.equal(read?.modelFamily, 'sd1');
    assert.deepEqual(read?.loras, [{ name: 'add_detail', weight: 0.7, hash: '7c6bad76eb54' }]);
    assert.equal(read?.other['ADetailer prompt'], 'a smiling face, detailed eyes');
    assert.equal(read?.other['Hires upscaler'], 'R-ESRGAN 4x+');
    assert.equal(read?.other['Hires steps'], '15');
    assert.equal(read?.other['Denoising strength'], '0.45');
    assert.equal(read?.other['TI hashes'], 'easynegative: c74b4e810b03');
    assert.equal(read?.other['Clip skip'], '2');
  };

  it('multi-line prompts, CRLF, quoted values with commas, hires and ADetailer keys, Lora and TI hashes, a seed beyond 2^53', () => {
    expectFull(readImageSettings(a1111CrlfPng()));
  });

  it('the same from a JPEG (piexif UserComment, UTF-16BE) and a WebP (EXIF chunk)', () => {
    expectFull(readImageSettings(a1111Jpeg(A1111_FULL)));
    expectFull(readImageSettings(a1111Webp(A1111_FULL)));
  });

  it('Forge with a Flux model', () => {
    const read = readImageSettings(png({ parameters: FORGE_FLUX }));
    assert.equal(read?.source, 'forge');
    assert.equal(read?.modelFamily, 'flux');
    assert.equal(read?.guidance, 1);
    assert.equal(read?.other['Distilled CFG Scale'], '3.5');
    assert.equal(read?.scheduler, 'Simple');
    assert.equal(read?.sampler, 'euler');
  });

  it('SD.Next with an SDXL model', () => {
    const read = readImageSettings(png({ parameters: SDNEXT }));
    assert.equal(read?.source, 'sd-next');
    assert.equal(read?.modelFamily, 'sdxl');
    assert.equal(read?.seed, 3141592653);
    assert.equal(read?.other.Pipeline, 'StableDiffusionXLPipeline');
  });

  it("Stability Matrix: parameters-json first, its ulong seed exact", () => {
    const read = readImageSettings(stabilityMatrixPng());
    assert.equal(read?.source, 'stability-matrix');
    assert.equal(read?.prompt, 'a red fox in the snow');
    assert.equal(read?.negativePrompt, 'lowres');
    assert.equal(read?.seed, BIG_SEED);
    assert.equal(read?.sampler, 'euler-a');
    assert.equal(read?.scheduler, 'karras');
    assert.equal(read?.guidance, 6.5);
    assert.deepEqual([read?.width, read?.height], [512, 768]);
    assert.equal(read?.modelName, 'dreamshaper_8.safetensors');
  });
});

describe('ComfyUI', () => {
  it('Flux: SamplerCustomAdvanced with RandomNoise, BasicScheduler, BasicGuider, FluxGuidance, UNETLoader and a LoRA', () => {
    const read = readImageSettings(png({ prompt: comfyFluxPrompt() }));
    assert.equal(read?.source, 'comfyui');
    assert.equal(read?.prompt, 'a cozy cabin in the woods, snow');
    assert.equal(read?.negativePrompt, undefined);
    assert.equal(read?.seed, BIG_SEED);
    assert.equal(read?.steps, 20);
    assert.equal(read?.guidance, 1);
    assert.equal(read?.other['Distilled CFG Scale'], '3.5');
    assert.equal(read?.samplerLabel, 'euler');
    assert.equal(read?.scheduler, 'simple');
    assert.deepEqual([read?.width, read?.height], [1024, 1024]);
    assert.equal(read?.modelName, 'flux1-dev');
    assert.equal(read?.modelFamily, 'flux');
    assert.deepEqual(read?.loras, [{ name: 'realism_lora', weight: 0.8 }]);
  });

  it('SDXL base + refiner with KSamplerAdvanced: the first sampler’s seed, the total steps, text through a primitive and a ControlNet', () => {
    const read = readImageSettings(png({ prompt: JSON.stringify(comfySdxlRefinerPrompt()) }));
    assert.equal(read?.prompt, 'evening sunset scenery blue sky nature, glass bottle with a galaxy in it');
    assert.equal(read?.negativePrompt, 'text, watermark');
    assert.equal(read?.seed, 721897303308196);
    assert.equal(read?.steps, 25);
    assert.equal(read?.guidance, 8);
    assert.equal(read?.sampler, 'dpmpp-2m-karras');
    assert.equal(read?.modelName, 'sd_xl_base_1.0');
    assert.equal(read?.modelFamily, 'sdxl');
    assert.equal(read?.other.end_at_step, '20');
    assert.equal(read?.other['refiner model'], 'sd_xl_refiner_1.0');
    assert.equal(read?.other['refiner start_at_step'], '20');
  });

  it('SamplerCustom with KSamplerSelect and KarrasScheduler, image-to-image', () => {
    const read = readImageSettings(png({ prompt: JSON.stringify(comfySamplerCustomPrompt()) }));
    assert.equal(read?.prompt, 'a watercolor harbour');
    assert.equal(read?.negativePrompt, 'photo');
    assert.equal(read?.seed, 42);
    assert.equal(read?.steps, 30);
    assert.equal(read?.guidance, 5.5);
    assert.equal(read?.samplerLabel, 'dpmpp_2m');
    assert.equal(read?.scheduler, 'KarrasScheduler');
    assert.equal(read?.modelName, 'dreamshaper_8');
    assert.equal(read?.width, undefined, 'the size is the loaded image’s, not a setting');
    assert.equal(read?.other['source image'], 'harbour.png');
  });

  it('text through string nodes: a concatenation with a delimiter, a wildcard processor; NaN in the graph', () => {
    const prompt = {
      '1': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'dreamshaper_8.safetensors' } },
      '2': { class_type: 'StringConcatenate', inputs: { string_a: ['3', 0], string_b: 'golden hour', delimiter: ', ' } },
      '3': { class_type: 'ImpactWildcardProcessor', inputs: { wildcard_text: 'a __animal__ on a rock', populated_text: 'a seal on a rock', mode: 'fixed', seed: 3 } },
      '4': { class_type: 'CLIPTextEncode', inputs: { text: ['2', 0], clip: ['1', 1] } },
      '5': { class_type: 'CLIPTextEncode', inputs: { text: ['6', 0], clip: ['1', 1] } },
      '6': { class_type: 'ShowText|pysssss', inputs: { text: ['7', 0] } },
      '7': { class_type: 'PrimitiveStringMultiline', inputs: { value: 'lowres' } },
      '8': { class_type: 'EmptyLatentImage', inputs: { width: 512, height: 512, batch_size: 1 } },
      '9': { class_type: 'KSampler', inputs: { seed: 1, steps: 20, cfg: 7, sampler_name: 'euler', scheduler: 'normal', denoise: 1, model: ['1', 0], positive: ['4', 0], negative: ['5', 0], latent_image: ['8', 0] } },
    };
    const read = readImageSettings(png({ prompt: JSON.stringify(prompt).replace('"denoise":1', '"denoise":1,"sharpness":NaN') }));
    assert.equal(read?.prompt, 'a seal on a rock, golden hour');
    assert.equal(read?.negativePrompt, 'lowres');
    assert.equal(read?.modelName, 'dreamshaper_8');
  });

  it('an editor graph alone: link objects, a seed from a primitive node, a muted node ignored', () => {
    const read = readImageSettings(png({ workflow: JSON.stringify(comfyWorkflowWithPrimitive()) }));
    assert.equal(read?.source, 'comfyui');
    assert.equal(read?.prompt, 'a koi pond, ukiyo-e');
    assert.equal(read?.seed, 8_675_309);
    assert.equal(read?.steps, 24);
    assert.equal(read?.guidance, 7);
    assert.equal(read?.sampler, 'dpmpp-2m-karras');
    assert.deepEqual([read?.width, read?.height], [640, 448]);
    assert.equal(read?.modelName, 'v1-5-pruned-emaonly');
    assert.equal(read?.loras, undefined);
  });

  it('WebP with the graphs in EXIF Model ("prompt:") and Make ("workflow:")', () => {
    const read = readImageSettings(comfyWebp(comfyFluxPrompt(), JSON.stringify(comfyWorkflowWithPrimitive())));
    assert.equal(read?.source, 'comfyui');
    assert.equal(read?.seed, BIG_SEED, 'the API graph wins, and its seed stays exact');
    assert.equal(read?.modelName, 'flux1-dev');
  });

  it("SaveImageWithMetaData: its A1111 parameters, the tool named ComfyUI", () => {
    const read = readImageSettings(comfySaveWithMetadataPng());
    assert.equal(read?.source, 'comfyui');
    assert.equal(read?.seed, 721897303308196);
    assert.equal(read?.sampler, 'dpmpp-2m-karras');
    assert.equal(read?.modelHash, '31e35c80fc');
    assert.equal(read?.other['refiner model'], 'sd_xl_refiner_1.0', 'what the parameters leave out comes from the graph');
  });
});

describe('InvokeAI', () => {
  it('3.x invokeai_metadata with an SDXL model and a LoRA', () => {
    const read = readImageSettings(invokeAi3Png());
    assert.equal(read?.source, 'invokeai');
    assert.equal(read?.prompt, 'a portrait of a knight, oil painting');
    assert.equal(read?.seed, 1234567890);
    assert.equal(read?.sampler, 'euler-a');
    assert.equal(read?.modelName, 'stable-diffusion-xl-base-1-0');
    assert.equal(read?.modelFamily, 'sdxl');
    assert.deepEqual(read?.loras, [{ name: 'detail_tweaker', weight: 0.75 }]);
    assert.equal(read?.other.app_version, '3.4.0');
  });

  it('5.x FLUX metadata: distilled guidance, model and LoRA with hashes', () => {
    const read = readImageSettings(invokeAiFluxPng());
    assert.equal(read?.modelFamily, 'flux');
    assert.equal(read?.modelName, 'FLUX Dev (Quantized)');
    assert.equal(read?.modelHash, 'blake3:e1f2a3');
    assert.equal(read?.other.guidance, '4');
    assert.deepEqual(read?.loras, [{ name: 'film_grain', weight: 0.5, hash: 'blake3:99' }]);
    assert.deepEqual([read?.width, read?.height], [1360, 768]);
  });

  it("the graph's core_metadata node when invokeai_metadata is missing", () => {
    const read = readImageSettings(invokeAiGraphOnlyPng());
    assert.equal(read?.prompt, 'a lighthouse, watercolor');
    assert.equal(read?.seed, 77);
    assert.equal(read?.sampler, 'dpmpp-2m-karras');
    assert.equal(read?.modelFamily, 'sd1');
  });

  it('a 2.x Dream line whose quoted prompt holds " -dark"', () => {
    const read = readImageSettings(invokeAiDreamQuotedPng());
    assert.equal(read?.prompt, 'sci-fi city -dark mood');
    assert.equal(read?.negativePrompt, 'blurry, lowres');
    assert.equal(read?.steps, 50);
    assert.equal(read?.seed, 42);
    assert.deepEqual([read?.width, read?.height], [512, 640]);
    assert.equal(read?.sampler, 'euler-a');
  });
});

describe('NovelAI', () => {
  it('V3: Description, Comment JSON, Software, Source', () => {
    const read = readImageSettings(novelAiV3Png());
    assert.equal(read?.source, 'novelai');
    assert.equal(read?.prompt, '1girl, solo, cherry blossoms, best quality');
    assert.equal(read?.negativePrompt, 'lowres, bad anatomy, bad hands');
    assert.equal(read?.seed, 3141592653);
    assert.equal(read?.steps, 28);
    assert.equal(read?.guidance, 5);
    assert.equal(read?.sampler, 'dpmpp-2m-karras');
    assert.equal(read?.scheduler, 'karras');
    assert.deepEqual([read?.width, read?.height], [832, 1216]);
    assert.equal(read?.modelName, 'Stable Diffusion XL');
    assert.equal(read?.modelHash, 'C1E1DE52');
    assert.equal(read?.modelFamily, 'sdxl');
    assert.equal(read?.other['Generation time'], '5.531623');
  });

  it('V4: structured prompts with character captions', () => {
    const read = readImageSettings(novelAiV4Png());
    assert.equal(read?.prompt, 'a girl and a cat in a garden');
    assert.equal(read?.other['character prompts'], 'girl, red hair');
    assert.equal(read?.negativePrompt, 'blurry, lowres');
    assert.equal(read?.sampler, 'euler-a');
    assert.equal(read?.modelName, 'NovelAI Diffusion V4.5');
    assert.equal(read?.modelFamily, 'other');
  });
});

describe('Fooocus and RuinedFooocus', () => {
  const expectFooocus = (read: ReturnType<typeof readImageSettings>) => {
    assert.equal(read?.source, 'fooocus');
    assert.equal(read?.prompt, 'a cinematic photo of a fox');
    assert.equal(read?.negativePrompt, '');
    assert.equal(read?.seed, 3141592653);
    assert.equal(read?.steps, 30);
    assert.equal(read?.guidance, 4);
    assert.equal(read?.samplerLabel, 'dpmpp_2m_sde_gpu');
    assert.equal(read?.sampler, 'dpmpp-2m-sde-karras');
    assert.equal(read?.scheduler, 'karras');
    assert.deepEqual([read?.width, read?.height], [1152, 896]);
    assert.equal(read?.modelName, 'juggernautXL_v8Rundiffusion');
    assert.equal(read?.modelFamily, 'sdxl');
    assert.equal(read?.loras?.[0]?.name, 'sd_xl_offset_example-lora_1.0');
    assert.equal(read?.loras?.[0]?.weight, 0.1);
    assert.equal(read?.other.styles, "['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp']");
  };

  it('Fooocus JSON in a PNG with fooocus_scheme', () => expectFooocus(readImageSettings(fooocusPng())));
  it('Fooocus JSON in a JPEG: IFD0 UserComment without a character code, MakerNote scheme', () => expectFooocus(readImageSettings(fooocusJpeg())));

  it('Fooocus with the a1111 scheme is still named Fooocus', () => {
    const read = readImageSettings(png({ parameters: 'a fox\nSteps: 30, Sampler: DPM++ 2M SDE Karras, Seed: 5, Size: 1152x896, Version: Fooocus v2.5.5', fooocus_scheme: 'a1111' }));
    assert.equal(read?.source, 'fooocus');
    assert.equal(read?.seed, 5);
  });

  it('RuinedFooocus', () => {
    const read = readImageSettings(ruinedFooocusPng());
    assert.equal(read?.source, 'ruinedfooocus');
    assert.equal(read?.prompt, 'cinematic film still A sunflower field, shallow depth of field');
    assert.equal(read?.negativePrompt, 'anime, cartoon');
    assert.equal(read?.seed, 3864674281);
    assert.equal(read?.guidance, 8.5);
    assert.equal(read?.modelName, 'sd_xl_base_1.0_0.9vae');
    assert.equal(read?.modelHash, 'be9edd61');
    assert.deepEqual(read?.loras, [{ name: 'sd_xl_offset_example-lora_1.0', weight: 0.1, hash: '4852686128' }]);
  });
});

describe('SwarmUI, Draw Things, DiffusionBee', () => {
  const expectSwarm = (read: ReturnType<typeof readImageSettings>) => {
    assert.equal(read?.source, 'swarmui');
    assert.equal(read?.prompt, 'a tiny robot watering plants, <lora:cute_style>');
    assert.equal(read?.negativePrompt, 'blurry');
    assert.equal(read?.seed, 1482910384);
    assert.equal(read?.steps, 35);
    assert.equal(read?.guidance, 6.5);
    assert.equal(read?.sampler, 'dpmpp-2m-karras');
    assert.equal(read?.modelName, 'OfficialStableDiffusion/sd_xl_base_1.0');
    assert.equal(read?.modelHash, '0x31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b');
    assert.equal(read?.modelFamily, 'sdxl');
    assert.deepEqual(read?.loras, [{ name: 'cute_style', weight: 0.8, hash: '0x1f2e3d' }]);
    assert.equal(read?.other.swarm_version, '0.9.5.2');
  };

  it('SwarmUI PNG (iTXt parameters)', () => expectSwarm(readImageSettings(swarmPng())));
  it('SwarmUI JPEG (UserComment, UTF-16LE in a little-endian TIFF)', () => expectSwarm(readImageSettings(swarmJpeg())));

  it('Draw Things XMP: JSON in exif:UserComment, CreatorTool', () => {
    const read = readImageSettings(drawThingsPng());
    assert.equal(read?.source, 'draw-things');
    assert.equal(read?.prompt, 'a lighthouse in a storm, oil painting');
    assert.equal(read?.negativePrompt, 'blurry, lowres');
    assert.equal(read?.seed, 3141592653);
    assert.equal(read?.steps, 28);
    assert.equal(read?.guidance, 7.5);
    assert.equal(read?.sampler, 'dpmpp-2m-karras');
    assert.deepEqual([read?.width, read?.height], [512, 768]);
    assert.equal(read?.modelName, 'sd_v1.5_f16');
    assert.equal(read?.modelFamily, 'sd1');
    assert.deepEqual(read?.loras, [{ name: 'detail_tweaker_lora_f16.ckpt'.replace('.ckpt', ''), weight: 0.6 }]);
  });

  it('DiffusionBee options', () => {
    const read = readImageSettings(diffusionBeePng());
    assert.equal(read?.source, 'diffusionbee');
    assert.equal(read?.prompt, 'a bee on a sunflower, macro photo');
    assert.equal(read?.negativePrompt, 'cartoon');
    assert.equal(read?.seed, 90210);
    assert.equal(read?.steps, 25);
    assert.equal(read?.guidance, 7.5);
    assert.equal(read?.sampler, 'ddim');
    assert.deepEqual([read?.width, read?.height], [512, 512]);
  });
});
