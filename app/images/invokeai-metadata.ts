// InvokeAI's PNG metadata, in the three forms it has used:
// - `invokeai_metadata` (3.x and later): flat JSON, e.g. {"positive_prompt": "...", "negative_prompt":
//   "...", "seed": 1, "steps": 30, "cfg_scale": 7.5, "scheduler": "dpmpp_2m_k", "width": 512,
//   "height": 512, "model": {"model_name" | "name": "...", "hash": "..."}}.
// - `sd-metadata` (2.x): {"model_weights": "...", "model_hash": "...", "app_id": "invoke-ai/InvokeAI",
//   "image": {"prompt": "..." | [{"prompt": "...", "weight": 1}], "steps", "cfg_scale", "seed",
//   "width", "height", "sampler": "k_lms", ...}}; the negative prompt is written inside the prompt in
//   square brackets ("a cat [blurry, lowres]").
// - `Dream` (1.x and 2.x): the command line that made the image, `"<prompt>" -s 50 -S 42 -W 512 -H 512
//   -C 7.5 -A k_lms` (ldm/invoke/args.py dream_prompt_str); the prompt is quoted in older releases.
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
  type ModelFamily,
} from './imported-settings.ts';
import { samplerFromInvokeAi } from './sampler-names.ts';

function objectFrom(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function sampler(name: string | undefined): Pick<ImportedSettings, 'sampler' | 'samplerLabel'> {
  return name === undefined ? {} : { sampler: samplerFromInvokeAi(name) ?? name, samplerLabel: name };
}

function otherScalars(source: Record<string, unknown>, known: ReadonlySet<string>): Record<string, string> {
  const other: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) {
    if (known.has(key)) continue;
    const text = otherText(value);
    if (text !== undefined) other[key] = text;
  }
  return other;
}

// InvokeAI's model bases ('sd-1', 'sd-2', 'sdxl', 'sdxl-refiner', 'sd-3', 'flux', 'cogview4', …).
function familyFromBase(base: string | undefined): ModelFamily | undefined {
  if (base === undefined) return undefined;
  if (base === 'sd-1') return 'sd1';
  if (base === 'sd-2') return 'sd2';
  if (base.startsWith('sdxl')) return 'sdxl';
  if (base === 'sd-3') return 'sd3';
  if (base === 'flux') return 'flux';
  return 'other';
}

// 3.x: { lora: { model_name, base_model }, weight }; 4.x and later: { model: { key, hash, name, base }, weight }.
function lorasFrom(value: unknown): ImportedLora[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const loras: ImportedLora[] = [];
  for (const entry of value) {
    const item = objectFrom(entry);
    const model = objectFrom(item.model ?? item.lora);
    const name = textFrom(model.name) ?? textFrom(model.model_name);
    if (name === undefined) continue;
    const weight = numberFrom(item.weight);
    const hash = textFrom(model.hash);
    loras.push({ name, ...(weight === undefined ? {} : { weight }), ...(hash === undefined ? {} : { hash }) });
  }
  return loras.length > 0 ? loras : undefined;
}

// 2.x wrote negative prompts as bracketed parts of the prompt: "a cat [blurry] [lowres]".
function splitBracketedNegative(prompt: string): { prompt: string; negativePrompt: string } {
  const negatives: string[] = [];
  const positive = prompt.replace(/\[([^\]]*)\]/g, (_, inner: string) => {
    negatives.push(inner.trim());
    return '';
  });
  return { prompt: positive.replace(/\s{2,}/g, ' ').trim(), negativePrompt: negatives.filter(Boolean).join(', ') };
}

const CURRENT_KEYS = new Set(['positive_prompt', 'negative_prompt', 'seed', 'steps', 'cfg_scale', 'scheduler', 'width', 'height', 'model', 'loras']);

function fromCurrent(metadata: Record<string, unknown>): ImportedSettings {
  const model = objectFrom(metadata.model);
  const modelName = textFrom(model.model_name) ?? textFrom(model.name);
  // FLUX models take a distilled guidance ("guidance") instead of a CFG scale.
  const guidance = numberFrom(metadata.cfg_scale);
  return compact({
    source: 'invokeai',
    prompt: textFrom(metadata.positive_prompt),
    negativePrompt: textFrom(metadata.negative_prompt),
    seed: seedFrom(metadata.seed),
    steps: integerFrom(metadata.steps),
    guidance,
    ...sampler(textFrom(metadata.scheduler)),
    width: integerFrom(metadata.width),
    height: integerFrom(metadata.height),
    modelName,
    modelHash: textFrom(model.hash),
    modelFamily: familyFromBase(textFrom(model.base) ?? textFrom(model.base_model)) ?? familyFromName(modelName),
    loras: lorasFrom(metadata.loras),
    other: otherScalars(metadata, CURRENT_KEYS),
  });
}

// Images whose `invokeai_metadata` is missing still carry the graph; its core_metadata node holds the
// same fields (InvokeAI 3.x–6.x build every graph with one).
function fromGraph(graph: Record<string, unknown>): ImportedSettings | undefined {
  const nodes = Array.isArray(graph.nodes) ? graph.nodes : Object.values(objectFrom(graph.nodes));
  const metadata = nodes.map(objectFrom).find((node) => node.type === 'core_metadata' || node.type === 'metadata_accumulator');
  return metadata ? fromCurrent(metadata) : undefined;
}

const LEGACY_IMAGE_KEYS = new Set(['prompt', 'seed', 'steps', 'cfg_scale', 'sampler', 'width', 'height']);

function fromLegacy(metadata: Record<string, unknown>): ImportedSettings {
  const image = objectFrom(metadata.image);
  const rawPrompt = Array.isArray(image.prompt)
    ? image.prompt.map((part) => textFrom(objectFrom(part).prompt) ?? '').join(' ')
    : (textFrom(image.prompt) ?? '');
  const { prompt, negativePrompt } = splitBracketedNegative(rawPrompt);
  return compact({
    source: 'invokeai',
    prompt,
    negativePrompt,
    seed: seedFrom(image.seed),
    steps: integerFrom(image.steps),
    guidance: numberFrom(image.cfg_scale),
    ...sampler(textFrom(image.sampler)),
    width: integerFrom(image.width),
    height: integerFrom(image.height),
    modelName: textFrom(metadata.model_weights) ?? textFrom(metadata.model_id),
    modelFamily: familyFromName(textFrom(metadata.model_weights) ?? textFrom(metadata.model_id)) ?? 'sd1',
    modelHash: textFrom(metadata.model_hash),
    other: otherScalars(image, LEGACY_IMAGE_KEYS),
  });
}

// Splits a command line into words the way shlex does for the simple cases Dream lines contain:
// double or single quotes group, backslash escapes the next character inside double quotes.
function words(line: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote: '"' | "'" | undefined;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && i + 1 < line.length) current += line[++i];
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      started = true;
    } else if (/\s/.test(char)) {
      if (started) out.push(current);
      current = '';
      started = false;
    } else {
      current += char;
      started = true;
    }
  }
  if (started) out.push(current);
  return out;
}

// The end of the quoted prompt that opens a Dream line, or -1 when it does not open with a quote.
function quotedPromptEnd(line: string): number {
  const quote = line[0];
  if (quote !== '"' && quote !== "'") return -1;
  for (let i = 1; i < line.length; i++) {
    if (line[i] === '\\' && quote === '"') i++;
    else if (line[i] === quote) return i + 1;
  }
  return -1;
}

function fromDream(line: string): ImportedSettings {
  const trimmed = line.trim();
  // 2.x quotes the prompt (ldm/invoke/args.py dream_prompt_str), so a quoted prompt may itself hold
  // " -x" (e.g. "sci-fi city -style"); unquoted prompts end at the first switch.
  const quotedEnd = quotedPromptEnd(trimmed);
  const switchStart = quotedEnd > 0 ? quotedEnd : trimmed.search(/(^|\s)--?[A-Za-z]/);
  const promptPart = switchStart < 0 ? trimmed : trimmed.slice(0, switchStart).trim();
  const promptWords = words(promptPart);
  const { prompt, negativePrompt } = splitBracketedNegative(quotedEnd > 0 || promptWords.length === 1 ? (promptWords[0] ?? '') : promptPart);
  const switches = switchStart < 0 ? [] : words(trimmed.slice(switchStart));
  const values = new Map<string, string>();
  for (let i = 0; i < switches.length; i++) {
    const word = switches[i];
    if (!word.startsWith('-')) continue;
    const equals = word.indexOf('=');
    if (equals > 0) values.set(word.slice(0, equals), word.slice(equals + 1));
    else if (i + 1 < switches.length && !/^--?[A-Za-z]/.test(switches[i + 1])) values.set(word, switches[++i]);
    else values.set(word, 'true');
  }
  const pick = (...names: string[]) => names.map((name) => values.get(name)).find((value) => value !== undefined);
  const known = new Set(['-s', '--steps', '-S', '--seed', '-W', '--width', '-H', '--height', '-C', '--cfg_scale', '-A', '--sampler']);
  const other: Record<string, string> = {};
  for (const [key, value] of values) if (!known.has(key)) other[key] = value;
  return compact({
    source: 'invokeai',
    prompt,
    negativePrompt,
    steps: integerFrom(pick('-s', '--steps')),
    seed: seedFrom(pick('-S', '--seed')),
    width: integerFrom(pick('-W', '--width')),
    height: integerFrom(pick('-H', '--height')),
    guidance: numberFrom(pick('-C', '--cfg_scale')),
    ...sampler(pick('-A', '--sampler')),
    other,
  });
}

/** Settings from InvokeAI's chunks, newest format first; undefined when none is present. */
export function importedFromInvokeAi(text: ReadonlyMap<string, string>): ImportedSettings | undefined {
  const current = parseJsonObject(text.get('invokeai_metadata'));
  if (current) return fromCurrent(current);
  const legacy = parseJsonObject(text.get('sd-metadata'));
  if (legacy && legacy.image !== undefined) return fromLegacy(legacy);
  const graph = parseJsonObject(text.get('invokeai_graph'));
  const fromGraphNode = graph ? fromGraph(graph) : undefined;
  if (fromGraphNode) return fromGraphNode;
  const dream = text.get('Dream');
  if (dream !== undefined && dream.trim() !== '') return fromDream(dream);
  return undefined;
}
