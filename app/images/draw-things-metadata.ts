// Draw Things (iOS/macOS) writes XMP — in the PNG iTXt chunk "XML:com.adobe.xmp", or the JPEG APP1 XMP
// segment — with xmp:CreatorTool "Draw Things", the prompt in dc:description and its settings as JSON
// in exif:UserComment: { "c" (prompt), "uc" (negative), "seed", "steps", "scale" (CFG), "size"
// ("768x1024"), "model" (file name), "sampler" (A1111-style display names: "DPM++ 2M Karras"),
// "strength", "seed_mode", "shift", "lora": [{ "file", "weight" }], "v2": { the full configuration } }.
import { isRecord, parseJsonObject } from './exact-json.ts';
import { XMP_KEYWORD } from './image-metadata.ts';
import {
  compact,
  familyFromName,
  integerFrom,
  numberFrom,
  otherText,
  seedFrom,
  textFrom,
  type ImportedLora,
  type ImportedSettings,
} from './imported-settings.ts';
import { samplerFromA1111 } from './sampler-names.ts';
import { readXmpProperties } from './xmp.ts';

const KNOWN = new Set(['c', 'uc', 'seed', 'steps', 'scale', 'size', 'model', 'sampler', 'lora', 'v2']);

function stripExtension(name: string): string {
  return name.replace(/\.(safetensors|ckpt|pt|bin)$/i, '');
}

export function importedFromDrawThings(text: ReadonlyMap<string, string>): ImportedSettings | undefined {
  const xmp = text.get(XMP_KEYWORD);
  if (xmp === undefined) return undefined;
  const properties = readXmpProperties(xmp);
  const settings = parseJsonObject(properties.get('exif:UserComment'));
  const creator = properties.get('xmp:CreatorTool') ?? '';
  if (!/Draw Things/i.test(creator) && !(settings && 'c' in settings)) return undefined;
  const json = settings ?? {};
  const size = /^(\d+)\s*x\s*(\d+)$/.exec(textFrom(json.size) ?? '');
  const samplerName = textFrom(json.sampler);
  const modelName = textFrom(json.model);
  const loras: ImportedLora[] = (Array.isArray(json.lora) ? json.lora : []).filter(isRecord).flatMap((entry) => {
    const file = textFrom(entry.file);
    const weight = numberFrom(entry.weight);
    return file === undefined ? [] : [{ name: stripExtension(file), ...(weight === undefined ? {} : { weight }) }];
  });
  const other: Record<string, string> = {};
  for (const [key, value] of Object.entries(json)) {
    if (KNOWN.has(key)) continue;
    const textValue = otherText(value);
    if (textValue !== undefined) other[key] = textValue;
  }
  if (creator) other.CreatorTool = creator;
  return compact({
    source: 'draw-things',
    prompt: textFrom(json.c) ?? properties.get('dc:description'),
    negativePrompt: textFrom(json.uc),
    seed: seedFrom(json.seed),
    steps: integerFrom(json.steps),
    guidance: numberFrom(json.scale),
    sampler: samplerName === undefined ? undefined : (samplerFromA1111(samplerName) ?? samplerName),
    samplerLabel: samplerName,
    width: size ? Number(size[1]) : undefined,
    height: size ? Number(size[2]) : undefined,
    modelName: modelName === undefined ? undefined : stripExtension(modelName),
    modelFamily: familyFromName(modelName),
    loras: loras.length > 0 ? loras : undefined,
    other,
  });
}
