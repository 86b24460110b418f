// NovelAI's PNG text chunks (as its image generation service writes them): "Title" ("NovelAI generated
// image" / "AI generated image"), "Description" (the prompt), "Software" ("NovelAI"), "Source" (the
// model and a hash: "Stable Diffusion XL C1E1DE52", "NovelAI Diffusion V4.5 4BDE2A90"), "Generation
// time", and "Comment": the request as JSON — { "prompt", "uc" (negative), "steps", "scale" (CFG),
// "seed", "sampler" ("k_euler_ancestral"), "noise_schedule" ("native", "karras", …), "width",
// "height", "cfg_rescale", … } with V4's structured "v4_prompt" / "v4_negative_prompt"
// ({ "caption": { "base_caption", "char_captions": [{ "char_caption", "centers" }] } }).
import { isRecord, parseJsonObject } from './exact-json.ts';
import { compact, integerFrom, numberFrom, otherText, seedFrom, textFrom, type ImportedSettings, type ModelFamily } from './imported-settings.ts';
import { samplerFromNovelAi } from './sampler-names.ts';

function baseCaption(value: unknown): string | undefined {
  return isRecord(value) && isRecord(value.caption) ? textFrom(value.caption.base_caption) : undefined;
}

// V4's character prompts, each its own prompt box in NovelAI; kept as `other` text, one per line.
function characterCaptions(value: unknown): string | undefined {
  if (!isRecord(value) || !isRecord(value.caption) || !Array.isArray(value.caption.char_captions)) return undefined;
  const captions = value.caption.char_captions.map((entry) => (isRecord(entry) ? textFrom(entry.char_caption) : undefined)).filter((text): text is string => Boolean(text));
  return captions.length > 0 ? captions.join('\n') : undefined;
}

const KNOWN = new Set(['prompt', 'uc', 'steps', 'scale', 'seed', 'sampler', 'noise_schedule', 'width', 'height', 'v4_prompt', 'v4_negative_prompt', 'signed_hash']);

function familyFromSource(source: string | undefined): ModelFamily | undefined {
  if (source === undefined) return undefined;
  // NAI Diffusion V3 (and the anime/furry V2 before it) was built on SDXL; V4 is NovelAI's own model.
  if (/Stable Diffusion XL/i.test(source)) return 'sdxl';
  if (/Stable Diffusion/i.test(source)) return 'sd1';
  return 'other';
}

export function isNovelAi(text: ReadonlyMap<string, string>): boolean {
  return /NovelAI/i.test(text.get('Software') ?? '') || (/NovelAI/i.test(text.get('Title') ?? '') && text.has('Comment'));
}

export function importedFromNovelAi(text: ReadonlyMap<string, string>): ImportedSettings | undefined {
  if (!isNovelAi(text)) return undefined;
  const comment = parseJsonObject(text.get('Comment')) ?? {};
  const source = text.get('Source');
  const sourceMatch = source === undefined ? null : /^(.*?)\s+([0-9A-F]{8})$/i.exec(source.trim());
  const samplerName = textFrom(comment.sampler);
  const schedule = textFrom(comment.noise_schedule);
  const other: Record<string, string> = {};
  for (const [key, value] of Object.entries(comment)) {
    if (KNOWN.has(key)) continue;
    const textValue = otherText(value);
    if (textValue !== undefined) other[key] = textValue;
  }
  const characters = characterCaptions(comment.v4_prompt);
  if (characters) other['character prompts'] = characters;
  const negativeCharacters = characterCaptions(comment.v4_negative_prompt);
  if (negativeCharacters) other['character negative prompts'] = negativeCharacters;
  for (const key of ['Title', 'Generation time', 'Software']) {
    const value = text.get(key);
    if (value !== undefined) other[key] = value;
  }
  return compact({
    source: 'novelai',
    prompt: baseCaption(comment.v4_prompt) ?? textFrom(comment.prompt) ?? text.get('Description'),
    negativePrompt: baseCaption(comment.v4_negative_prompt) ?? textFrom(comment.uc),
    seed: seedFrom(comment.seed),
    steps: integerFrom(comment.steps),
    guidance: numberFrom(comment.scale),
    sampler: samplerName === undefined ? undefined : (samplerFromNovelAi(samplerName, schedule) ?? samplerName),
    samplerLabel: samplerName,
    scheduler: schedule,
    width: integerFrom(comment.width),
    height: integerFrom(comment.height),
    modelName: sourceMatch ? sourceMatch[1] : source,
    modelHash: sourceMatch?.[2],
    modelFamily: familyFromSource(source),
    other,
  });
}
