// AUTOMATIC1111's "infotext": the `parameters` PNG text chunk that most SD tools read and show.
// Layout (modules/processing.py create_infotext, modules/infotext_utils.py parse_generation_parameters):
//   <prompt, possibly several lines>
//   Negative prompt: <negative, possibly several lines>      (left out when empty)
//   Steps: 25, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 123, Size: 512x768, Model hash: abcdef1234, Model: name
// A value containing ',', ':' or a newline is written as a JSON string; the last line counts as the
// parameter line only when at least three `key: value` pairs are found in it.
import type { GenerationSettings } from './generation-settings.ts';
import {
  compact,
  familyFromName,
  integerFrom,
  numberFrom,
  seedFrom,
  type ImportedLora,
  type ImportedSettings,
  type ModelFamily,
  type SettingsSource,
} from './imported-settings.ts';
import { a1111SamplerName, samplerFromA1111 } from './sampler-names.ts';

export interface A1111Parameters {
  readonly prompt: string;
  readonly negativePrompt: string;
  /** The `key: value` pairs of the last line, in order, unquoted. */
  readonly params: ReadonlyMap<string, string>;
}

const NEGATIVE_PREFIX = 'Negative prompt:';

// A1111's re_param: a key of word characters, spaces, '-' and '/', then a quoted or comma-free value.
// Python's \w is Unicode-aware, hence \p{L}\p{N}_ here.
function paramPattern(): RegExp {
  return /\s*([\p{L}\p{N}_][\p{L}\p{N}_ \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/gu;
}

function quote(value: string): string {
  return /[,:\n]/.test(value) ? JSON.stringify(value) : value;
}

function unquote(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'string' ? parsed : value;
  } catch {
    return value;
  }
}

function findParams(line: string): [string, string][] {
  const out: [string, string][] = [];
  for (const match of line.matchAll(paramPattern())) {
    if (match[0] === '') break;
    out.push([match[1], match[2]]);
  }
  return out;
}

export function formatA1111Parameters(prompt: string, negativePrompt: string, params: readonly (readonly [string, string | number])[]): string {
  const negative = negativePrompt === '' ? '' : `\n${NEGATIVE_PREFIX} ${negativePrompt}`;
  const line = params.map(([key, value]) => `${key}: ${quote(String(value))}`).join(', ');
  return `${prompt}${negative}\n${line}`.trim();
}

export function parseA1111Parameters(text: string): A1111Parameters {
  const lines = text.replace(/\r\n?/g, '\n').trim().split('\n');
  let last = lines.pop() ?? '';
  let found = findParams(last);
  if (found.length < 3) {
    lines.push(last);
    last = '';
    found = [];
  }
  let prompt = '';
  let negativePrompt = '';
  let inNegative = false;
  for (let line of lines) {
    line = line.trim();
    if (line.startsWith(NEGATIVE_PREFIX)) {
      inNegative = true;
      line = line.slice(NEGATIVE_PREFIX.length).trim();
    }
    if (inNegative) negativePrompt += (negativePrompt === '' ? '' : '\n') + line;
    else prompt += (prompt === '' ? '' : '\n') + line;
  }
  const params = new Map<string, string>();
  for (const [key, value] of found) params.set(key.trim(), unquote(value.trim()));
  return { prompt, negativePrompt, params };
}

/** Our settings in A1111's layout, with the ensemble written as extra `AFA ...` keys. */
export function a1111ParametersFor(settings: GenerationSettings, version?: string): string {
  const { recipe } = settings;
  const single = recipe.members.length === 1 ? recipe.members[0] : undefined;
  const params: [string, string | number][] = [
    ['Steps', settings.steps],
    ['Sampler', a1111SamplerName(settings.sampler)],
    ['CFG scale', settings.guidance],
    ['Seed', settings.seed],
    ['Size', `${settings.width}x${settings.height}`],
  ];
  if (single?.shortHash) params.push(['Model hash', single.shortHash]);
  params.push(['Model', single ? single.name : (recipe.name ?? recipe.members.map((member) => member.name).join(' + '))]);
  if (settings.batchIndex > 0) params.push(['Batch pos', settings.batchIndex]);
  if (!single || recipe.method !== 'single') {
    params.push(['AFA method', recipe.method]);
    const members = recipe.members.map((member) => (member.shortHash ? `${member.name} [${member.shortHash}]` : member.name));
    params.push(['AFA models', members.join(', ')]);
    if (recipe.aggregatorId) params.push(['AFA aggregator', recipe.aggregatorId]);
  }
  if (version) params.push(['Version', version]);
  return formatA1111Parameters(settings.prompt, settings.negativePrompt, params);
}

const KNOWN_KEYS = new Set(['Steps', 'Sampler', 'Schedule type', 'CFG scale', 'Seed', 'Size', 'Model hash', 'Model']);

// `<lora:name:0.8>` (and LyCORIS' `<lyco:…>`) in the prompt is how A1111 applies LoRAs; "Lora hashes"
// names the same files with their AUTOV3 hashes: `Lora hashes: "detail: 0123abcd4567, style: 89ef"`.
function lorasFrom(prompt: string, hashes: string | undefined): ImportedLora[] {
  const byName = new Map<string, { name: string; weight?: number; hash?: string }>();
  for (const match of prompt.matchAll(/<(?:lora|lyco):([^:>]+)(?::([-\d.]+))?[^>]*>/g)) {
    const name = match[1]!.trim();
    const weight = numberFrom(match[2]);
    byName.set(name, { name, ...(weight === undefined ? {} : { weight }) });
  }
  for (const part of (hashes ?? '').split(',')) {
    const colon = part.lastIndexOf(':');
    if (colon < 0) continue;
    const name = part.slice(0, colon).trim();
    const hash = part.slice(colon + 1).trim();
    if (name === '' || hash === '') continue;
    byName.set(name, { ...(byName.get(name) ?? { name }), hash });
  }
  return [...byName.values()];
}

/** Which program wrote A1111-style parameters: its forks leave their mark in `Version` or `App`. */
function a1111Flavour(params: ReadonlyMap<string, string>): SettingsSource {
  const app = params.get('App') ?? '';
  const version = params.get('Version') ?? '';
  if (/sd\.?next/i.test(app)) return 'sd-next';
  // Forge versions read "f2.0.1v1.10.1-previous-…" or "f0.0.17v1.8.0rc-latest-…".
  if (/^f\d/.test(version) || /forge/i.test(version)) return 'forge';
  if (/^Fooocus/i.test(version)) return 'fooocus';
  if (/RuinedFooocus/i.test(version)) return 'ruinedfooocus';
  if (/stability ?matrix/i.test(version)) return 'stability-matrix';
  return 'automatic1111';
}

function familyFromParams(params: ReadonlyMap<string, string>, width?: number, height?: number): ModelFamily | undefined {
  // Forge writes the distilled guidance of Flux models as its own key.
  if (params.has('Distilled CFG Scale')) return 'flux';
  const fromName = familyFromName(params.get('Model'));
  if (fromName) return fromName;
  if (/xl/i.test(params.get('Pipeline') ?? '')) return 'sdxl';
  if (width !== undefined && height !== undefined && width * height >= 1024 * 1024 * 0.75) return 'sdxl';
  return undefined;
}

export function importedFromA1111(text: string, source?: SettingsSource): ImportedSettings {
  const { prompt, negativePrompt, params } = parseA1111Parameters(text);
  const size = /^(\d+)\s*x\s*(\d+)$/.exec(params.get('Size') ?? '');
  const width = size ? Number(size[1]) : undefined;
  const height = size ? Number(size[2]) : undefined;
  const samplerLabel = params.get('Sampler');
  const scheduler = params.get('Schedule type');
  const other: Record<string, string> = {};
  for (const [key, value] of params) if (!KNOWN_KEYS.has(key)) other[key] = value;
  const loras = lorasFrom(prompt, params.get('Lora hashes'));
  return compact({
    source: source ?? a1111Flavour(params),
    prompt,
    negativePrompt,
    steps: integerFrom(params.get('Steps')),
    sampler: samplerLabel === undefined ? undefined : (samplerFromA1111(samplerLabel, scheduler) ?? samplerLabel),
    samplerLabel,
    scheduler,
    guidance: numberFrom(params.get('CFG scale')),
    seed: seedFrom(params.get('Seed')),
    width,
    height,
    modelHash: params.get('Model hash'),
    modelName: params.get('Model'),
    modelFamily: familyFromParams(params, width, height),
    loras: loras.length > 0 ? loras : undefined,
    other,
  });
}
