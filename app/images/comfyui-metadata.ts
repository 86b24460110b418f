// ComfyUI's metadata: the node graph that made the image, in two forms (SaveImage writes both as PNG
// text; SaveAnimatedWEBP and the WebP/JPEG savers put them in EXIF Model "prompt:<json>" and Make
// "workflow:<json>").
// - `prompt`, the API graph: { "<node id>": { "class_type": "KSampler", "inputs": { "seed": 42,
//   "positive": ["6", 0], ... } } }, where [id, slot] links to another node's output.
// - `workflow`, the editor graph: { "nodes": [{ "id": 3, "type": "KSampler", "inputs": [{ "name":
//   "positive", "link": 4 }], "widgets_values": [42, "randomize", 20, 8, "euler", "normal", 1] }],
//   "links": [[link id, from node, from slot, to node, to slot, type]] } (or link objects in schema 1).
// Settings are read from the first sampler (the one whose latent does not come from another sampler)
// and what its inputs link to: KSampler / KSamplerAdvanced directly; SamplerCustom and
// SamplerCustomAdvanced through RandomNoise, KSamplerSelect, BasicScheduler and CFGGuider / BasicGuider;
// FluxGuidance on the conditioning; prompts through any chain of nodes up to the text encoders; the size
// from the empty latent; the model from the checkpoint or UNet loader, with the LoRA loaders on the way.
import { isRecord, parseJsonExact } from './exact-json.ts';
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
import { samplerFromComfyUi } from './sampler-names.ts';

interface GraphNode {
  readonly id: string;
  readonly type: string;
  readonly inputs: Readonly<Record<string, unknown>>;
}

type Graph = ReadonlyMap<string, GraphNode>;
type Link = readonly [string, number];

function isLink(value: unknown): value is [string | number, number] {
  return Array.isArray(value) && value.length === 2 && (typeof value[0] === 'string' || typeof value[0] === 'number') && typeof value[1] === 'number';
}

function parse(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return parseJsonExact(text);
  } catch {
    return undefined;
  }
}

export function apiGraphFrom(value: unknown): Graph | undefined {
  if (!isRecord(value)) return undefined;
  const nodes = new Map<string, GraphNode>();
  for (const [id, node] of Object.entries(value)) {
    if (isRecord(node) && typeof node.class_type === 'string') nodes.set(id, { id, type: node.class_type, inputs: isRecord(node.inputs) ? node.inputs : {} });
  }
  return nodes.size > 0 ? nodes : undefined;
}

// Widget order of the editor graph for the nodes read here (each node's INPUT_TYPES order in ComfyUI's
// nodes.py and comfy_extras). The editor adds a "control_after_generate" widget after each seed; it
// is skipped where present.
const WIDGETS: Readonly<Record<string, readonly string[]>> = {
  KSampler: ['seed', 'steps', 'cfg', 'sampler_name', 'scheduler', 'denoise'],
  KSamplerAdvanced: ['add_noise', 'noise_seed', 'steps', 'cfg', 'sampler_name', 'scheduler', 'start_at_step', 'end_at_step', 'return_with_leftover_noise'],
  SamplerCustom: ['add_noise', 'noise_seed', 'cfg'],
  RandomNoise: ['noise_seed'],
  KSamplerSelect: ['sampler_name'],
  BasicScheduler: ['scheduler', 'steps', 'denoise'],
  KarrasScheduler: ['steps', 'sigma_max', 'sigma_min', 'rho'],
  ExponentialScheduler: ['steps', 'sigma_max', 'sigma_min'],
  SDTurboScheduler: ['steps', 'denoise'],
  AlignYourStepsScheduler: ['model_type', 'steps', 'denoise'],
  CFGGuider: ['cfg'],
  DualCFGGuider: ['cfg_conds', 'cfg_cond2_negative'],
  FluxGuidance: ['guidance'],
  CLIPTextEncode: ['text'],
  CLIPTextEncodeSDXL: ['width', 'height', 'crop_w', 'crop_h', 'target_width', 'target_height', 'text_g', 'text_l'],
  CLIPTextEncodeSDXLRefiner: ['ascore', 'width', 'height', 'text'],
  CLIPTextEncodeFlux: ['clip_l', 't5xxl', 'guidance'],
  CLIPTextEncodeSD3: ['clip_l', 'clip_g', 't5xxl', 'empty_padding'],
  EmptyLatentImage: ['width', 'height', 'batch_size'],
  EmptySD3LatentImage: ['width', 'height', 'batch_size'],
  LatentUpscale: ['upscale_method', 'width', 'height', 'crop'],
  LatentUpscaleBy: ['upscale_method', 'scale_by'],
  CheckpointLoaderSimple: ['ckpt_name'],
  CheckpointLoader: ['config_name', 'ckpt_name'],
  UNETLoader: ['unet_name', 'weight_dtype'],
  UnetLoaderGGUF: ['unet_name'],
  LoraLoader: ['lora_name', 'strength_model', 'strength_clip'],
  LoraLoaderModelOnly: ['lora_name', 'strength_model'],
  LoadImage: ['image', 'upload'],
  PrimitiveNode: ['value'],
  PrimitiveString: ['value'],
  PrimitiveStringMultiline: ['value'],
  PrimitiveInt: ['value'],
  PrimitiveFloat: ['value'],
};

const SEED_WIDGETS = new Set(['seed', 'noise_seed', 'value']);
const SEED_CONTROLS = new Set(['fixed', 'increment', 'decrement', 'randomize']);

function widgetInputs(type: string, values: unknown): Record<string, unknown> {
  // Newer editors may store widgets by name.
  if (isRecord(values)) return { ...values };
  const inputs: Record<string, unknown> = {};
  if (!Array.isArray(values)) return inputs;
  const names = WIDGETS[type] ?? [];
  let index = 0;
  for (const name of names) {
    if (index >= values.length) break;
    inputs[name] = values[index++];
    if (SEED_WIDGETS.has(name) && typeof values[index] === 'string' && SEED_CONTROLS.has(values[index] as string)) index++;
  }
  return inputs;
}

export function workflowGraphFrom(value: unknown): Graph | undefined {
  if (!isRecord(value) || !Array.isArray(value.nodes)) return undefined;
  const links = new Map<number, Link>();
  for (const link of Array.isArray(value.links) ? value.links : []) {
    if (Array.isArray(link) && link.length >= 3) links.set(Number(link[0]), [String(link[1]), Number(link[2])]);
    else if (isRecord(link) && link.id !== undefined) links.set(Number(link.id), [String(link.origin_id), Number(link.origin_slot)]);
  }
  const nodes = new Map<string, GraphNode>();
  for (const node of value.nodes) {
    if (!isRecord(node) || typeof node.type !== 'string') continue;
    const inputs = widgetInputs(node.type, node.widgets_values);
    for (const input of Array.isArray(node.inputs) ? node.inputs : []) {
      if (!isRecord(input) || typeof input.name !== 'string' || typeof input.link !== 'number') continue;
      const link = links.get(input.link);
      if (link) inputs[input.name] = link;
    }
    // A node that is bypassed (mode 4) or muted (mode 2) took no part in the image.
    if (node.mode === 2 || node.mode === 4) continue;
    nodes.set(String(node.id), { id: String(node.id), type: node.type, inputs });
  }
  return nodes.size > 0 ? nodes : undefined;
}

function nodeOf(graph: Graph, value: unknown): GraphNode | undefined {
  return isLink(value) ? graph.get(String(value[0])) : undefined;
}

// A widget converted to an input links to a primitive or string node; its value is that node's
// first scalar input, followed through further links.
function resolve(graph: Graph, value: unknown, depth = 0): unknown {
  if (!isLink(value)) return value;
  const node = nodeOf(graph, value);
  if (!node || depth > 16) return undefined;
  for (const key of ['value', 'text', 'string', 'seed', 'noise_seed', 'int', 'float', 'number']) {
    if (key in node.inputs) return resolve(graph, node.inputs[key], depth + 1);
  }
  for (const input of Object.values(node.inputs)) {
    if (typeof input === 'string' || typeof input === 'number') return input;
    if (isLink(input)) return resolve(graph, input, depth + 1);
  }
  return undefined;
}

/** Breadth-first walk upstream from a link; `visit` returns true to stop at a node, 'skip' to not go past it. */
function walkUpstream(graph: Graph, start: unknown, visit: (node: GraphNode, slot: number) => boolean | 'skip'): void {
  const queue: unknown[] = [start];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const link = queue.shift();
    if (!isLink(link)) continue;
    const key = `${link[0]}:${link[1]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const node = graph.get(String(link[0]));
    if (!node) continue;
    const verdict = visit(node, link[1]);
    if (verdict === true) return;
    if (verdict === 'skip') continue;
    // Nodes that carry both conditionings (ControlNetApplyAdvanced, InstructPixToPixConditioning…)
    // pass slot 0 from "positive" and slot 1 from "negative".
    if ('positive' in node.inputs && 'negative' in node.inputs && !('latent_image' in node.inputs)) {
      queue.push(node.inputs[link[1] === 1 ? 'negative' : 'positive']);
      continue;
    }
    for (const input of Object.values(node.inputs)) if (isLink(input)) queue.push(input);
  }
}

function findUpstream(graph: Graph, start: unknown, match: (node: GraphNode) => boolean): GraphNode | undefined {
  let found: GraphNode | undefined;
  walkUpstream(graph, start, (node) => {
    if (!match(node)) return false;
    found = node;
    return true;
  });
  return found;
}

const TEXT_KEYS = ['text', 'text_g', 't5xxl', 'clip_l', 'text_l', 'clip_g', 'prompt', 'positive', 'string'];

// Text fed through string nodes: a primitive or text box ("value", "text", "string"), a wildcard
// processor's result ("populated_text"), or a concatenation (core StringConcatenate: string_a,
// string_b, delimiter; WAS "Text Concatenate": text_a, text_b, … and delimiter), followed up the links.
function textOf(graph: Graph, value: unknown, depth = 0): string | undefined {
  if (typeof value === 'string') return value;
  if (!isLink(value) || depth > 16) return undefined;
  const node = nodeOf(graph, value);
  if (!node) return undefined;
  if ('populated_text' in node.inputs) return textOf(graph, node.inputs.populated_text, depth + 1);
  const parts = Object.entries(node.inputs)
    .filter(([key]) => /^(text|string)_?[a-z0-9]$/i.test(key))
    .map(([, input]) => textOf(graph, input, depth + 1))
    .filter((part): part is string => part !== undefined && part !== '');
  if (parts.length >= 2) return parts.join(textFrom(resolve(graph, node.inputs.delimiter)) ?? '');
  for (const key of ['value', 'text', 'string', 'prompt']) if (key in node.inputs) return textOf(graph, node.inputs[key], depth + 1);
  return textFrom(resolve(graph, value));
}

function isTextEncoder(node: GraphNode): boolean {
  return /CLIPTextEncode|TextEncode/i.test(node.type) || node.type === 'ConditioningZeroOut';
}

// The prompt of a conditioning input: the text of the first text encoder upstream. ConditioningZeroOut
// (Flux and SD3 graphs' usual negative) means an empty prompt.
function promptOf(graph: Graph, conditioning: unknown): string | undefined {
  const encoder = findUpstream(graph, conditioning, isTextEncoder);
  if (!encoder) return undefined;
  if (encoder.type === 'ConditioningZeroOut') return '';
  const texts: string[] = [];
  for (const key of TEXT_KEYS) {
    const value = textOf(graph, encoder.inputs[key]);
    if (value !== undefined && value.trim() !== '' && !texts.includes(value)) texts.push(value);
  }
  return texts.length > 0 ? texts.join('\n') : '';
}

const SAMPLER_TYPES = new Set(['KSampler', 'KSamplerAdvanced', 'SamplerCustom', 'SamplerCustomAdvanced']);

function isSampler(node: GraphNode): boolean {
  if (SAMPLER_TYPES.has(node.type)) return true;
  // Custom-node samplers ("KSampler (Efficient)", "KSamplerAdvanced //Inspire") keep KSampler's inputs.
  return /sampler/i.test(node.type) && ('seed' in node.inputs || 'noise_seed' in node.inputs) && 'latent_image' in node.inputs;
}

function byId(a: GraphNode, b: GraphNode): number {
  return Number(a.id) - Number(b.id) || a.id.localeCompare(b.id);
}

/** The samplers in the order they run: each one's latent comes from the empty latent or from an earlier one. */
function samplersInOrder(graph: Graph): GraphNode[] {
  const samplers = [...graph.values()].filter(isSampler).sort(byId);
  const depth = new Map<string, number>();
  const depthOf = (node: GraphNode, stack: Set<string>): number => {
    const known = depth.get(node.id);
    if (known !== undefined) return known;
    if (stack.has(node.id)) return 0;
    stack.add(node.id);
    let result = 0;
    const previous = findUpstream(graph, node.inputs.latent_image, isSampler);
    if (previous) result = depthOf(previous, stack) + 1;
    depth.set(node.id, result);
    return result;
  };
  return samplers.map((node) => [node, depthOf(node, new Set())] as const).sort((a, b) => a[1] - b[1] || byId(a[0], b[0])).map(([node]) => node);
}

interface SamplerReading {
  seed?: unknown;
  steps?: unknown;
  cfg?: unknown;
  samplerName?: unknown;
  scheduler?: unknown;
  denoise?: unknown;
  positive?: unknown;
  negative?: unknown;
  model?: unknown;
}

// Where each setting of a sampler lives: on the node itself (KSampler) or on the nodes linked to
// its noise, guider, sampler and sigmas inputs (SamplerCustomAdvanced).
function readSampler(graph: Graph, sampler: GraphNode): SamplerReading {
  const inputs = sampler.inputs;
  const value = (node: GraphNode | undefined, key: string) => (node ? resolve(graph, node.inputs[key]) : undefined);
  const noise = nodeOf(graph, inputs.noise);
  const guider = nodeOf(graph, inputs.guider);
  const samplerSelect = findUpstream(graph, inputs.sampler, (node) => 'sampler_name' in node.inputs);
  const sigmas = findUpstream(graph, inputs.sigmas, (node) => 'steps' in node.inputs);
  return {
    seed: resolve(graph, inputs.seed) ?? resolve(graph, inputs.noise_seed) ?? value(noise, 'noise_seed') ?? value(noise, 'seed'),
    steps: resolve(graph, inputs.steps) ?? value(sigmas, 'steps'),
    cfg: resolve(graph, inputs.cfg) ?? value(guider, 'cfg') ?? (guider?.type === 'BasicGuider' ? 1 : undefined),
    samplerName: resolve(graph, inputs.sampler_name) ?? value(samplerSelect, 'sampler_name'),
    scheduler: resolve(graph, inputs.scheduler) ?? value(sigmas, 'scheduler') ?? (sigmas && sigmas.type !== 'BasicScheduler' ? sigmas.type : undefined),
    denoise: resolve(graph, inputs.denoise) ?? value(sigmas, 'denoise'),
    positive: inputs.positive ?? guider?.inputs.positive ?? guider?.inputs.conditioning ?? guider?.inputs.cond1,
    negative: inputs.negative ?? guider?.inputs.negative,
    model: inputs.model ?? guider?.inputs.model ?? sigmas?.inputs.model,
  };
}

const LATENT_SIZE = (node: GraphNode) => /^Empty.*Latent/i.test(node.type) || (/latent/i.test(node.type) && 'width' in node.inputs && 'batch_size' in node.inputs);
const MODEL_LOADER = (node: GraphNode) =>
  /Checkpoint.*Load|Load.*Checkpoint|UNETLoader|UnetLoader|DiffusionModelLoader/i.test(node.type) &&
  ('ckpt_name' in node.inputs || 'unet_name' in node.inputs || 'model_name' in node.inputs);

function stripExtension(name: string): string {
  return name.replace(/\.(safetensors|ckpt|pt|pth|bin|gguf|sft)$/i, '');
}

function baseName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

function lorasOf(graph: Graph, model: unknown): ImportedLora[] {
  const loras: ImportedLora[] = [];
  walkUpstream(graph, model, (node) => {
    if (!/lora/i.test(node.type)) return false;
    const name = textFrom(resolve(graph, node.inputs.lora_name));
    if (name !== undefined && name !== 'None') {
      const weight = numberFrom(resolve(graph, node.inputs.strength_model ?? node.inputs.strength));
      loras.push({ name: stripExtension(baseName(name)), ...(weight === undefined ? {} : { weight }) });
    }
    // rgthree's Power Lora Loader: lora_1 … lora_n as { on, lora, strength }.
    for (const [key, entry] of Object.entries(node.inputs)) {
      if (!/^lora_\d+$/.test(key) || !isRecord(entry) || entry.on === false || typeof entry.lora !== 'string') continue;
      const weight = numberFrom(entry.strength);
      loras.push({ name: stripExtension(baseName(entry.lora)), ...(weight === undefined ? {} : { weight }) });
    }
    return false;
  });
  return loras.reverse();
}

function familyOf(graph: Graph, modelName: string | undefined, loader: GraphNode | undefined): ModelFamily | undefined {
  const types = new Set([...graph.values()].map((node) => node.type));
  const clipTypes = [...graph.values()].filter((node) => /CLIPLoader/.test(node.type)).map((node) => String(resolve(graph, node.inputs.type) ?? ''));
  if (types.has('FluxGuidance') || types.has('CLIPTextEncodeFlux') || types.has('ModelSamplingFlux') || clipTypes.includes('flux')) return 'flux';
  if (types.has('CLIPTextEncodeSD3') || types.has('ModelSamplingSD3') || clipTypes.includes('sd3')) return familyFromName(modelName) ?? 'sd3';
  if (types.has('CLIPTextEncodeSDXL') || types.has('CLIPTextEncodeSDXLRefiner')) return 'sdxl';
  const named = familyFromName(modelName);
  if (named) return named;
  if (loader && /UNET|Unet|DiffusionModel/.test(loader.type)) return 'other';
  return undefined;
}

function settingsFrom(graph: Graph): ImportedSettings | undefined {
  const samplers = samplersInOrder(graph);
  const first = samplers[0];
  if (!first) return undefined;
  const reading = readSampler(graph, first);
  const other: Record<string, string> = {};
  const put = (key: string, value: unknown) => {
    const text = otherText(value);
    if (text !== undefined) other[key] = text;
  };
  put('sampler node', first.type);
  const denoise = numberFrom(reading.denoise);
  if (denoise !== undefined && denoise !== 1) put('denoise', denoise);
  // A base + refiner pair of KSamplerAdvanced splits one schedule: the base's `steps` is the total.
  if (first.type === 'KSamplerAdvanced') {
    put('start_at_step', resolve(graph, first.inputs.start_at_step));
    put('end_at_step', resolve(graph, first.inputs.end_at_step));
  }
  const later = samplers.slice(1);
  if (later.length > 0) {
    const second = readSampler(graph, later[0]!);
    const refiner = later[0]!.type === 'KSamplerAdvanced' && first.type === 'KSamplerAdvanced';
    const prefix = refiner ? 'refiner' : 'second pass';
    put(`${prefix} steps`, second.steps);
    if (refiner) put('refiner start_at_step', resolve(graph, later[0]!.inputs.start_at_step));
    else put(`${prefix} denoise`, second.denoise);
    put(`${prefix} sampler`, second.samplerName);
    const secondModel = findUpstream(graph, second.model, MODEL_LOADER);
    const secondName = secondModel ? textFrom(resolve(graph, secondModel.inputs.ckpt_name ?? secondModel.inputs.unet_name)) : undefined;
    if (secondName) put(`${prefix} model`, stripExtension(baseName(secondName)));
    const upscale = findUpstream(graph, later[0]!.inputs.latent_image, (node) => /upscale/i.test(node.type));
    if (upscale) put(`${prefix} upscale`, upscale.inputs.scale_by ?? `${String(resolve(graph, upscale.inputs.width))}x${String(resolve(graph, upscale.inputs.height))}`);
  }
  const fluxGuidance = findUpstream(graph, reading.positive, (node) => node.type === 'FluxGuidance' || node.type === 'CLIPTextEncodeFlux');
  if (fluxGuidance) put('Distilled CFG Scale', resolve(graph, fluxGuidance.inputs.guidance));

  // Size: from the empty latent; for image-to-image, the loaded image's name (its size is the file's).
  const latent = findUpstream(graph, first.inputs.latent_image, (node) => LATENT_SIZE(node) || node.type === 'LoadImage' || /ImageScale|ResizeImage/i.test(node.type));
  let width: number | undefined;
  let height: number | undefined;
  if (latent && latent.type !== 'LoadImage') {
    width = integerFrom(resolve(graph, latent.inputs.width));
    height = integerFrom(resolve(graph, latent.inputs.height));
  } else if (latent) {
    put('source image', resolve(graph, latent.inputs.image));
  }

  const loader = findUpstream(graph, reading.model, MODEL_LOADER);
  const modelFile = loader ? textFrom(resolve(graph, loader.inputs.ckpt_name ?? loader.inputs.unet_name ?? loader.inputs.model_name)) : undefined;
  const modelName = modelFile === undefined ? undefined : stripExtension(baseName(modelFile));
  const loras = lorasOf(graph, reading.model);
  const samplerName = textFrom(reading.samplerName);
  const scheduler = textFrom(reading.scheduler);
  return compact({
    source: 'comfyui',
    prompt: promptOf(graph, reading.positive),
    negativePrompt: reading.negative === undefined ? undefined : promptOf(graph, reading.negative),
    seed: seedFrom(reading.seed),
    steps: integerFrom(reading.steps),
    guidance: numberFrom(reading.cfg),
    sampler: samplerName === undefined ? undefined : (samplerFromComfyUi(samplerName, scheduler) ?? samplerName),
    samplerLabel: samplerName,
    scheduler,
    width,
    height,
    modelName,
    modelFamily: familyOf(graph, modelName, loader),
    loras: loras.length > 0 ? loras : undefined,
    other,
  });
}

/** Settings from ComfyUI's `prompt` graph, else its `workflow` graph; undefined when neither holds a sampler. */
export function importedFromComfyUi(text: ReadonlyMap<string, string>): ImportedSettings | undefined {
  const api = apiGraphFrom(parse(text.get('prompt')));
  const fromApi = api ? settingsFrom(api) : undefined;
  if (fromApi) return fromApi;
  const workflow = workflowGraphFrom(parse(text.get('workflow')));
  return workflow ? settingsFrom(workflow) : undefined;
}

/** Whether the texts hold a ComfyUI graph (to name the tool even when no sampler could be read). */
export function hasComfyUiGraph(text: ReadonlyMap<string, string>): boolean {
  return apiGraphFrom(parse(text.get('prompt'))) !== undefined || workflowGraphFrom(parse(text.get('workflow'))) !== undefined;
}
