// Build → save → open: turns a component description (config + weights) into ONNX files in a folder and
// onnxruntime sessions on them. Used by the golden cases, the tests, the benchmarks and the pipeline.
// The U-Net can be saved whole, as lock-step layer graphs, or both; all its graphs share one weights
// file (weights already in a safetensors file in their own dtype are referenced in place, not copied).
import type { JobControl } from '../common/progress.ts';
import type { WeightSource } from '../tensor/weights.ts';
import type { Graph, StoredFloat } from '../onnx/graph.ts';
import { saveModels } from '../onnx/serialize.ts';
import { ModelSession, type SessionOptions } from '../runtime/onnx-runtime.ts';
import { buildClipTextGraph } from './clip-text.ts';
import type { ClipTextConfig } from './clip-text-config.ts';
import { buildUnetGraph, buildUnetLayerGraphs } from './unet.ts';
import type { UnetConfig } from './unet-config.ts';
import { buildVaeDecoderGraph, buildVaeEncoderGraph } from './vae.ts';
import type { VaeConfig } from './vae-config.ts';

/**
 * What every component description may say besides its weights: the dtype its graphs compute in
 * (default float32; 'float16' for GPU providers: ModelRuntime's precision). Graph I/O stays
 * float32 either way.
 */
interface ComponentBase {
  readonly computeDtype?: StoredFloat;
}

export type ComponentSpec = ComponentBase &
  ({
      readonly kind: 'unet';
      readonly config: UnetConfig;
      readonly weights: WeightSource;
      /** Which shapes to build: the whole graph (model 'unet'), the lock-step layers ('time_embedding', 'point00'…), or both. Default whole. */
      readonly shapes?: readonly ('whole' | 'layers')[];
    }
  | { readonly kind: 'text-encoder'; readonly config: ClipTextConfig; readonly weights: WeightSource }
  | { readonly kind: 'vae-decoder'; readonly config: VaeConfig; readonly weights: WeightSource }
  | { readonly kind: 'vae-encoder'; readonly config: VaeConfig; readonly weights: WeightSource });

/** The graphs of a component, by model name (the file is `<name>.onnx`). */
export function componentGraphs(spec: ComponentSpec): ReadonlyMap<string, Graph> {
  const graphs = new Map<string, Graph>();
  const options = { computeDtype: spec.computeDtype ?? 'float32' } as const;
  switch (spec.kind) {
    case 'unet': {
      const shapes = spec.shapes ?? ['whole'];
      if (shapes.includes('whole')) graphs.set('unet', buildUnetGraph(spec.weights, spec.config, 'unet', options));
      if (shapes.includes('layers')) {
        const layers = buildUnetLayerGraphs(spec.weights, spec.config, 'unet', options);
        graphs.set('time_embedding', layers.timeEmbedding);
        layers.points.forEach((graph, index) => graphs.set(unetPointModelName(index), graph));
      }
      break;
    }
    case 'text-encoder':
      graphs.set('text_encoder', buildClipTextGraph(spec.weights, spec.config, 'text_encoder', options));
      break;
    case 'vae-decoder':
      graphs.set('vae_decoder', buildVaeDecoderGraph(spec.weights, spec.config, 'vae_decoder', options));
      break;
    case 'vae-encoder':
      graphs.set('vae_encoder', buildVaeEncoderGraph(spec.weights, spec.config, 'vae_encoder', options));
      break;
  }
  return graphs;
}

/** Model name of U-Net layer graph `index`: 'point00'…'point24'. */
export function unetPointModelName(index: number): string {
  return `point${String(index).padStart(2, '0')}`;
}

/** Builds and saves the component's graphs into `dir` (atomically); returns model paths by name. */
export function saveComponent(spec: ComponentSpec, dir: string, control: JobControl = {}): ReadonlyMap<string, string> {
  const graphs = componentGraphs(spec);
  const models = [...graphs].map(([name, graph]) => ({ graph, modelFile: `${name}.onnx` }));
  const saved = saveModels(models, { dir, weightsFile: `${spec.kind}.weights`, ...control });
  return new Map([...graphs.keys()].map((name, index) => [name, saved.modelPaths[index]]));
}

export interface CompiledComponent {
  readonly dir: string;
  readonly modelPaths: ReadonlyMap<string, string>;
  readonly sessions: ReadonlyMap<string, ModelSession>;
  /** The session of model `name`; throws when the component has none of that name. */
  session(name: string): ModelSession;
  release(): Promise<void>;
}

/**
 * Session options for graphs that run as a chain of short calls (the lock-step layer graphs). Every
 * session owns an intra-op thread pool whose workers spin-wait for work; by default they keep spinning
 * after Run() returns, so the pools of the sessions that just ran burn CPU while the next one works.
 * `session.force_spinning_stop` parks them as soon as their Run() returns and keeps spinning within a
 * run (parking them always, allow_spinning 0, costs a wake-up per parallel op instead). SD1.5 at 256²,
 * batch 2, one step on 2 cores: whole graph 1.32 s; layers 1.91 s by default, 1.41 s without spinning,
 * 1.34 s with force_spinning_stop (same CPU time as the whole graph).
 */
export function chainedSessionOptions(options: SessionOptions = {}): SessionOptions {
  return { ...options, config: { 'session.force_spinning_stop': '1', ...options.config } };
}

/** saveComponent, then one onnxruntime session per model (layer graphs with chainedSessionOptions). */
export async function compileComponent(spec: ComponentSpec, dir: string, options: { readonly session?: SessionOptions } & JobControl = {}): Promise<CompiledComponent> {
  const modelPaths = saveComponent(spec, dir, options);
  const sessions = new Map<string, ModelSession>();
  try {
    for (const [name, path] of modelPaths) {
      const chained = spec.kind === 'unet' && name !== 'unet';
      sessions.set(name, await ModelSession.create(path, chained ? chainedSessionOptions(options.session) : options.session));
    }
  } catch (error) {
    await Promise.all([...sessions.values()].map((session) => session.release()));
    throw error;
  }
  return {
    dir,
    modelPaths,
    sessions,
    session(name: string): ModelSession {
      const session = sessions.get(name);
      if (!session) throw new RangeError(`compiled ${spec.kind} has no model '${name}' (it has ${[...sessions.keys()].join(', ')})`);
      return session;
    },
    release: async () => {
      await Promise.all([...sessions.values()].map((session) => session.release()));
    },
  };
}
