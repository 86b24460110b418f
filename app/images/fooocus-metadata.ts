// Fooocus and RuinedFooocus keep their settings as JSON in the PNG "parameters" chunk (in EXIF
// UserComment for JPEG/WebP, with the scheme in MakerNote).
// - Fooocus (modules/meta_parser.py FooocusMetadataParser.parse_string): the log's keys sorted —
//   "prompt", "negative_prompt", "full_prompt" / "full_negative_prompt" (lists, styles applied),
//   "styles", "performance", "steps", "resolution" ("(1152, 896)"), "guidance_scale", "sharpness",
//   "sampler", "scheduler", "seed" (a string), "base_model", "base_model_hash", "refiner_model",
//   "loras" ([[name, weight, sha256]]), "vae", "version" ("Fooocus v2.5.5"), "metadata_scheme".
//   The scheme is also a "fooocus_scheme" chunk ("fooocus" or "a1111"; with "a1111" the
//   "parameters" text is A1111's infotext).
// - RuinedFooocus: { "Prompt", "Negative", "steps", "cfg", "width", "height", "seed",
//   "sampler_name", "scheduler", "base_model_name", "base_model_hash", "loras", "start_step",
//   "denoise", "clip_skip", "software": "RuinedFooocus" }; loras are [[hash, "weight - name"]]
//   (older releases: the string "Loras:<name:weight>,…").
import { parseJsonObject } from './exact-json.ts';
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

function stripExtension(name: string): string {
  return name.replace(/\.(safetensors|ckpt|pt|bin)$/i, '');
}

function others(source: Record<string, unknown>, known: ReadonlySet<string>): Record<string, string> {
  const other: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) {
    if (known.has(key)) continue;
    const text = otherText(value);
    if (text !== undefined) other[key] = text;
  }
  return other;
}

const FOOOCUS_KEYS = new Set(['prompt', 'negative_prompt', 'steps', 'resolution', 'guidance_scale', 'sampler', 'scheduler', 'seed', 'base_model', 'base_model_hash', 'loras']);

function fooocusLoras(metadata: Record<string, unknown>): ImportedLora[] {
  const loras: ImportedLora[] = [];
  if (Array.isArray(metadata.loras)) {
    for (const entry of metadata.loras) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string') continue;
      const weight = numberFrom(entry[1]);
      const hash = textFrom(entry[2]);
      loras.push({ name: stripExtension(entry[0]), ...(weight === undefined ? {} : { weight }), ...(hash ? { hash } : {}) });
    }
  }
  if (loras.length > 0) return loras;
  // Older logs: lora_combined_1 = "name.safetensors : 0.5".
  for (const [key, value] of Object.entries(metadata)) {
    const match = /^lora_combined_\d+$/.test(key) && typeof value === 'string' ? /^(.*?)\s*:\s*([-\d.]+)$/.exec(value) : null;
    if (match) loras.push({ name: stripExtension(match[1]!), weight: Number(match[2]) });
  }
  return loras;
}

function fromFooocus(metadata: Record<string, unknown>): ImportedSettings {
  const resolution = /^\(?\s*(\d+)\s*[,x*]\s*(\d+)\s*\)?$/.exec(textFrom(metadata.resolution) ?? '');
  const samplerName = textFrom(metadata.sampler);
  const scheduler = textFrom(metadata.scheduler);
  const modelName = textFrom(metadata.base_model);
  const loras = fooocusLoras(metadata);
  return compact({
    source: 'fooocus',
    prompt: textFrom(metadata.prompt),
    negativePrompt: textFrom(metadata.negative_prompt),
    seed: seedFrom(metadata.seed),
    steps: integerFrom(metadata.steps),
    guidance: numberFrom(metadata.guidance_scale),
    sampler: samplerName === undefined ? undefined : (samplerFromComfyUi(samplerName, scheduler) ?? samplerName),
    samplerLabel: samplerName,
    scheduler,
    width: resolution ? Number(resolution[1]) : undefined,
    height: resolution ? Number(resolution[2]) : undefined,
    modelName: modelName === undefined ? undefined : stripExtension(modelName),
    modelHash: textFrom(metadata.base_model_hash),
    // Fooocus runs SDXL checkpoints only (its forks add Flux, which the name gives away).
    modelFamily: familyFromName(modelName) ?? 'sdxl',
    loras: loras.length > 0 ? loras : undefined,
    other: others(metadata, FOOOCUS_KEYS),
  });
}

const RUINED_KEYS = new Set(['Prompt', 'Negative', 'steps', 'cfg', 'width', 'height', 'seed', 'sampler_name', 'scheduler', 'base_model_name', 'base_model_hash', 'loras', 'software']);

function ruinedLoras(value: unknown): ImportedLora[] {
  const loras: ImportedLora[] = [];
  if (Array.isArray(value)) {
    for (const entry of value) {
      if (!Array.isArray(entry) || typeof entry[1] !== 'string') continue;
      const match = /^\s*([-\d.]+)\s+-\s+(.+)$/.exec(entry[1]);
      if (!match) continue;
      const name = stripExtension(match[2]!.split(/[\\/]/).pop() ?? match[2]!);
      loras.push({ name, weight: Number(match[1]), ...(typeof entry[0] === 'string' && entry[0] !== '' ? { hash: entry[0] } : {}) });
    }
  } else if (typeof value === 'string') {
    for (const match of value.matchAll(/<([^:>]+):([-\d.]+)>/g)) loras.push({ name: stripExtension(match[1]!), weight: Number(match[2]) });
  }
  return loras;
}

function fromRuinedFooocus(metadata: Record<string, unknown>): ImportedSettings {
  const samplerName = textFrom(metadata.sampler_name);
  const scheduler = textFrom(metadata.scheduler);
  const modelName = textFrom(metadata.base_model_name);
  const loras = ruinedLoras(metadata.loras);
  return compact({
    source: 'ruinedfooocus',
    prompt: textFrom(metadata.Prompt) ?? textFrom(metadata.prompt),
    negativePrompt: textFrom(metadata.Negative),
    seed: seedFrom(metadata.seed),
    steps: integerFrom(metadata.steps),
    guidance: numberFrom(metadata.cfg),
    sampler: samplerName === undefined ? undefined : (samplerFromComfyUi(samplerName, scheduler) ?? samplerName),
    samplerLabel: samplerName,
    scheduler,
    width: integerFrom(metadata.width),
    height: integerFrom(metadata.height),
    modelName: modelName === undefined ? undefined : stripExtension(modelName),
    modelHash: textFrom(metadata.base_model_hash),
    modelFamily: familyFromName(modelName) ?? 'sdxl',
    loras: loras.length > 0 ? loras : undefined,
    other: others(metadata, RUINED_KEYS),
  });
}

/** Fooocus or RuinedFooocus JSON in `parameters`; undefined for anything else. */
export function importedFromFooocus(text: ReadonlyMap<string, string>): ImportedSettings | undefined {
  const metadata = parseJsonObject(text.get('parameters'));
  if (!metadata) return undefined;
  if (metadata.software === 'RuinedFooocus') return fromRuinedFooocus(metadata);
  const scheme = text.get('fooocus_scheme') ?? textFrom(metadata.metadata_scheme);
  if (scheme === 'fooocus' || /^Fooocus/i.test(textFrom(metadata.version) ?? '') || ('full_prompt' in metadata && 'resolution' in metadata)) return fromFooocus(metadata);
  return undefined;
}
