// SwarmUI (and StableSwarmUI before it) writes one JSON object (docs/Image Metadata Format.md): in the
// PNG text chunk "parameters", in EXIF UserComment for JPEG and WebP. `sui_image_params` holds the
// parameters by id — "prompt", "negativeprompt", "model", "seed", "steps", "cfgscale", "width",
// "height", "sampler", "scheduler" (ComfyUI's names), "loras" / "loraweights" (parallel lists),
// "swarm_version", … — and `sui_models` lists the model files with their hashes
// ([{ "name", "param": "model" | "loras" | …, "hash": "0x<sha256>" }]).
import { isRecord, parseJsonObject } from './exact-json.ts';
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
import { samplerFromComfyUi } from './sampler-names.ts';

const KNOWN = new Set(['prompt', 'negativeprompt', 'model', 'seed', 'steps', 'cfgscale', 'width', 'height', 'sampler', 'scheduler', 'loras', 'loraweights']);

function stripExtension(name: string): string {
  return name.replace(/\.(safetensors|ckpt|pt|bin|gguf|sft)$/i, '');
}

export function importedFromSwarmUi(text: ReadonlyMap<string, string>): ImportedSettings | undefined {
  const document = parseJsonObject(text.get('parameters'));
  const params = document?.sui_image_params;
  if (!isRecord(params)) return undefined;
  const models = Array.isArray(document?.sui_models) ? document.sui_models.filter(isRecord) : [];
  const hashOf = (param: string, name: string) =>
    textFrom(models.find((model) => model.param === param && typeof model.name === 'string' && stripExtension(model.name).endsWith(stripExtension(name)))?.hash);
  const modelName = textFrom(params.model);
  const loraNames = Array.isArray(params.loras) ? params.loras.filter((name): name is string => typeof name === 'string') : [];
  const loraWeights = Array.isArray(params.loraweights) ? params.loraweights : [];
  const loras: ImportedLora[] = loraNames.map((name, i) => {
    const weight = numberFrom(loraWeights[i]);
    const hash = hashOf('loras', name);
    return { name: stripExtension(name), ...(weight === undefined ? {} : { weight }), ...(hash ? { hash } : {}) };
  });
  const other: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (KNOWN.has(key)) continue;
    const textValue = otherText(value);
    if (textValue !== undefined) other[key] = textValue;
  }
  if (isRecord(document?.sui_extra_data)) {
    for (const [key, value] of Object.entries(document.sui_extra_data)) {
      const textValue = otherText(value);
      if (textValue !== undefined) other[key] = textValue;
    }
  }
  const samplerName = textFrom(params.sampler);
  const scheduler = textFrom(params.scheduler);
  return compact({
    source: 'swarmui',
    prompt: textFrom(params.prompt),
    negativePrompt: textFrom(params.negativeprompt),
    seed: seedFrom(params.seed),
    steps: integerFrom(params.steps),
    guidance: numberFrom(params.cfgscale),
    sampler: samplerName === undefined ? undefined : (samplerFromComfyUi(samplerName, scheduler) ?? samplerName),
    samplerLabel: samplerName,
    scheduler,
    width: integerFrom(params.width),
    height: integerFrom(params.height),
    modelName: modelName === undefined ? undefined : stripExtension(modelName),
    modelHash: modelName === undefined ? undefined : hashOf('model', modelName),
    modelFamily: familyFromName(modelName),
    loras: loras.length > 0 ? loras : undefined,
    other,
  });
}
