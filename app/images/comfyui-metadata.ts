// ComfyUI's PNG metadata: two JSON text chunks describing the node graph that made the image.
// - `prompt`, the API format: { "<node id>": { "class_type": "KSampler", "inputs": { "seed": 42,
//   "positive": ["6", 0], ... } } }, where [id, slot] is a link to another node's output.
// - `workflow`, the editor format: { "nodes": [{ "id": 3, "type": "KSampler", "inputs": [{ "name":
//   "positive", "link": 4 }], "widgets_values": [42, "randomize", 20, 8, "euler", "normal", 1] }],
//   "links": [[link id, from node, from slot, to node, to slot, type]] }.
// Settings are read from the sampler node and what its inputs link to: CLIPTextEncode for prompts,
// EmptyLatentImage for the size, the checkpoint loader for the model.
import { compact, integerFrom, numberFrom, textFrom, type ImportedSettings } from './imported-settings.ts';
import { samplerFromComfyUi } from './sampler-names.ts';

interface ApiNode {
  readonly class_type: string;
  readonly inputs: Record<string, unknown>;
}

type ApiPrompt = ReadonlyMap<string, ApiNode>;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isLink(value: unknown): value is [string | number, number] {
  return Array.isArray(value) && value.length === 2 && (typeof value[0] === 'string' || typeof value[0] === 'number') && typeof value[1] === 'number';
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function apiPromptFrom(value: unknown): ApiPrompt | undefined {
  if (!isObject(value)) return undefined;
  const nodes = new Map<string, ApiNode>();
  for (const [id, node] of Object.entries(value)) {
    if (isObject(node) && typeof node.class_type === 'string') nodes.set(id, { class_type: node.class_type, inputs: isObject(node.inputs) ? node.inputs : {} });
  }
  return nodes.size > 0 ? nodes : undefined;
}

// Widget order of the editor format for the node types read here (ComfyUI nodes.py INPUT_TYPES order;
// the editor inserts a "control_after_generate" widget after each seed).
const WIDGETS: Readonly<Record<string, readonly (string | null)[]>> = {
  KSampler: ['seed', null, 'steps', 'cfg', 'sampler_name', 'scheduler', 'denoise'],
  KSamplerAdvanced: ['add_noise', 'noise_seed', null, 'steps', 'cfg', 'sampler_name', 'scheduler', 'start_at_step', 'end_at_step', 'return_with_leftover_noise'],
  CLIPTextEncode: ['text'],
  EmptyLatentImage: ['width', 'height', 'batch_size'],
  CheckpointLoaderSimple: ['ckpt_name'],
  CheckpointLoader: ['config_name', 'ckpt_name'],
  PrimitiveNode: ['value', null],
};

function workflowToApiPrompt(value: unknown): ApiPrompt | undefined {
  if (!isObject(value) || !Array.isArray(value.nodes)) return undefined;
  const links = new Map<number, [string, number]>();
  for (const link of Array.isArray(value.links) ? value.links : []) {
    if (Array.isArray(link) && link.length >= 3) links.set(Number(link[0]), [String(link[1]), Number(link[2])]);
  }
  const nodes = new Map<string, ApiNode>();
  for (const node of value.nodes) {
    if (!isObject(node) || typeof node.type !== 'string') continue;
    const inputs: Record<string, unknown> = {};
    const widgets = Array.isArray(node.widgets_values) ? node.widgets_values : [];
    (WIDGETS[node.type] ?? []).forEach((name, i) => {
      if (name !== null && i < widgets.length) inputs[name] = widgets[i];
    });
    for (const input of Array.isArray(node.inputs) ? node.inputs : []) {
      if (!isObject(input) || typeof input.name !== 'string' || typeof input.link !== 'number') continue;
      const link = links.get(input.link);
      if (link) inputs[input.name] = link;
    }
    nodes.set(String(node.id), { class_type: node.type, inputs });
  }
  return nodes.size > 0 ? nodes : undefined;
}

// Follows links until a node of one of `types` is found, walking through pass-through nodes (LoRA
// loaders, conditioning combiners, latent upscalers) by their linked inputs, breadth-first.
function findUpstream(prompt: ApiPrompt, start: unknown, types: readonly string[]): ApiNode | undefined {
  const queue: unknown[] = [start];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const link = queue.shift();
    if (!isLink(link)) continue;
    const id = String(link[0]);
    if (seen.has(id)) continue;
    seen.add(id);
    const node = prompt.get(id);
    if (!node) continue;
    if (types.includes(node.class_type)) return node;
    for (const input of Object.values(node.inputs)) if (isLink(input)) queue.push(input);
  }
  return undefined;
}

// A widget converted to an input links to a primitive node; its value is that node's first scalar.
function resolve(prompt: ApiPrompt, value: unknown, depth = 0): unknown {
  if (!isLink(value) || depth > 8) return value;
  const node = prompt.get(String(value[0]));
  if (!node) return undefined;
  for (const input of Object.values(node.inputs)) {
    if (typeof input === 'string' || typeof input === 'number') return input;
    if (isLink(input)) return resolve(prompt, input, depth + 1);
  }
  return undefined;
}

const SAMPLER_TYPES = ['KSampler', 'KSamplerAdvanced'];
const TEXT_TYPES = ['CLIPTextEncode'];
const LATENT_TYPES = ['EmptyLatentImage'];
const CHECKPOINT_TYPES = ['CheckpointLoaderSimple', 'CheckpointLoader', 'unCLIPCheckpointLoader'];

function settingsFrom(prompt: ApiPrompt): ImportedSettings | undefined {
  // Several samplers (e.g. a hires pass) are common; the first by node id is the base pass.
  const samplers = [...prompt.entries()]
    .filter(([, node]) => SAMPLER_TYPES.includes(node.class_type))
    .sort(([a], [b]) => Number(a) - Number(b) || a.localeCompare(b));
  if (samplers.length === 0) return undefined;
  const sampler = samplers[0][1].inputs;
  const value = (key: string) => resolve(prompt, sampler[key]);
  const text = (key: string) => {
    const node = findUpstream(prompt, sampler[key], TEXT_TYPES);
    return node ? textFrom(resolve(prompt, node.inputs.text)) : undefined;
  };
  const latent = findUpstream(prompt, sampler.latent_image, LATENT_TYPES);
  const checkpoint = findUpstream(prompt, sampler.model, CHECKPOINT_TYPES);
  const samplerName = textFrom(value('sampler_name'));
  const scheduler = textFrom(value('scheduler'));
  const other: Record<string, string> = {};
  if (scheduler !== undefined) other.scheduler = scheduler;
  const denoise = numberFrom(value('denoise'));
  if (denoise !== undefined) other.denoise = String(denoise);
  const ckpt = checkpoint ? textFrom(resolve(prompt, checkpoint.inputs.ckpt_name)) : undefined;
  return compact({
    source: 'comfyui',
    prompt: text('positive'),
    negativePrompt: text('negative'),
    seed: integerFrom(value('seed') ?? value('noise_seed')),
    steps: integerFrom(value('steps')),
    guidance: numberFrom(value('cfg')),
    sampler: samplerName === undefined ? undefined : (samplerFromComfyUi(samplerName, scheduler) ?? samplerName),
    samplerLabel: samplerName === undefined ? undefined : scheduler ? `${samplerName} (${scheduler})` : samplerName,
    width: latent ? integerFrom(resolve(prompt, latent.inputs.width)) : undefined,
    height: latent ? integerFrom(resolve(prompt, latent.inputs.height)) : undefined,
    modelName: ckpt?.replace(/\.(safetensors|ckpt|pt|bin)$/i, ''),
    other,
  });
}

/** Settings from ComfyUI's `prompt` chunk, else its `workflow` chunk; undefined when neither is usable. */
export function importedFromComfyUi(text: ReadonlyMap<string, string>): ImportedSettings | undefined {
  const prompt = apiPromptFrom(parseJson(text.get('prompt')));
  const fromPrompt = prompt ? settingsFrom(prompt) : undefined;
  if (fromPrompt) return fromPrompt;
  const workflow = workflowToApiPrompt(parseJson(text.get('workflow')));
  return workflow ? settingsFrom(workflow) : undefined;
}
