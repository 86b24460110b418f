// DiffusionBee (macOS) keeps each image's generation options as one JSON object — the `params` of its
// history items, which "Copy all parameters" exports: { "prompt", "negative_prompt", "seed",
// "img_width", "img_height", "dif_steps", "guidance_scale", "selected_model" / "model_version",
// "selected_sampler", "num_imgs", "batch_size", "applet_name" ("txt2img"), … }. Saved images carry it in
// a text chunk (PNG) or EXIF UserComment; it is recognised by those option names, or by a
// "Software"/"Source" text naming DiffusionBee.
import { parseJsonObject } from './exact-json.ts';
import { compact, familyFromName, integerFrom, numberFrom, otherText, seedFrom, textFrom, type ImportedSettings } from './imported-settings.ts';
import { samplerFromA1111, samplerFromComfyUi } from './sampler-names.ts';

const KNOWN = new Set(['prompt', 'negative_prompt', 'seed', 'img_width', 'img_height', 'dif_steps', 'guidance_scale', 'selected_model', 'model_version', 'selected_sampler', 'sampler']);
// Options that only DiffusionBee's image generation form has.
const SIGNATURE = ['dif_steps', 'img_width', 'img_height'];

export function importedFromDiffusionBee(text: ReadonlyMap<string, string>): ImportedSettings | undefined {
  const namesTool = [...text.entries()].some(([key, value]) => /^(Software|Source|generator)$/i.test(key) && /DiffusionBee/i.test(value));
  for (const value of text.values()) {
    const json = parseJsonObject(value);
    if (!json || !(SIGNATURE.some((key) => key in json) || (namesTool && 'prompt' in json))) continue;
    const samplerName = textFrom(json.selected_sampler) ?? textFrom(json.sampler);
    const modelName = textFrom(json.selected_model) ?? textFrom(json.model_version);
    const other: Record<string, string> = {};
    for (const [key, entry] of Object.entries(json)) {
      if (KNOWN.has(key)) continue;
      const textValue = otherText(entry);
      if (textValue !== undefined) other[key] = textValue;
    }
    return compact({
      source: 'diffusionbee',
      prompt: textFrom(json.prompt),
      negativePrompt: textFrom(json.negative_prompt),
      seed: seedFrom(json.seed),
      steps: integerFrom(json.dif_steps ?? json.steps),
      guidance: numberFrom(json.guidance_scale),
      sampler: samplerName === undefined ? undefined : (samplerFromA1111(samplerName) ?? samplerFromComfyUi(samplerName) ?? samplerName),
      samplerLabel: samplerName,
      width: integerFrom(json.img_width ?? json.width),
      height: integerFrom(json.img_height ?? json.height),
      modelName,
      modelFamily: familyFromName(modelName),
      other,
    });
  }
  return undefined;
}
