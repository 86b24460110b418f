// The loop's elementwise work as small ONNX graphs, so a device-resident loop (text-to-image.ts) never
// brings the latents back to the host between steps: classifier-free guidance, the sampler's step as a
// LinearStep (app/schedulers/scheduler.ts) and the next step's model input (scaleModelInput, and the
// batch of 2 for guidance) run on the same provider as the U-Net, fed device tensors. The coefficients
// are scalar feeds computed on the host each step (a few bytes, not counted as copies).
//
//   ε      = ε_u + g·(ε_c − ε_u)                         (guided: model_output [2, 4, h, w] = [uncond, cond])
//   x_prev = a·x + b·ε + c·noise[step]                    (noise: every step's z, uploaded once per image)
//   input  = s·x_prev, twice along the batch with guidance (s: the next timestep's input scale)
//
// The graphs have no weights; they are written once per machine under the temporary folder, named by
// the hash of their bytes, and run through the runtime's session cache like any model.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.ts';
import { Graph, type Value } from '../onnx/graph.ts';
import { encodeModel } from '../onnx/model-proto.ts';
import { add, concat, gather, mul, split, sub, unsqueeze } from '../onnx/ops.ts';

export interface StepGraphShape {
  /** Classifier-free guidance: the model output has batch 2 and the next input is duplicated. */
  readonly guided: boolean;
  /** The sampler adds noise (Euler ancestral, DDIM with η > 0): the graph takes every step's noise. */
  readonly noisy: boolean;
}

const LATENT: readonly (string | number)[] = [1, 4, 'height', 'width'];

function modelInputOf(g: Graph, latents: Value, scale: Value, guided: boolean): Value {
  const scaled = mul(g, latents, scale);
  return guided ? concat(g, [scaled, scaled], 0) : scaled;
}

/**
 * The step graph. Inputs: sample [1, 4, h, w], model_output [B, 4, h, w], a, b, input_scale (float32
 * scalars); guided: guidance; noisy: c, noise [steps, 4, h, w] and step (int64 [1]). Outputs: prev_sample
 * [1, 4, h, w] and model_input [B, 4, h, w] for the next step.
 */
export function buildStepGraph(shape: StepGraphShape): Graph {
  const g = new Graph(`device_step${shape.guided ? '_guided' : ''}${shape.noisy ? '_noisy' : ''}`);
  const sample = g.input('sample', 'float32', LATENT);
  const output = g.input('model_output', 'float32', [shape.guided ? 2 : 1, 4, 'height', 'width']);
  const a = g.input('a', 'float32', []);
  const b = g.input('b', 'float32', []);
  const inputScale = g.input('input_scale', 'float32', []);
  let epsilon = output;
  if (shape.guided) {
    // Rounded as diffusers' `uncond + g * (cond - uncond)`, like guidance.ts.
    const guidance = g.input('guidance', 'float32', []);
    const [uncond, cond] = split(g, output, [1, 1], 0) as [Value, Value];
    epsilon = add(g, uncond, mul(g, guidance, sub(g, cond, uncond)));
  }
  let prev = add(g, mul(g, a, sample), mul(g, b, epsilon));
  if (shape.noisy) {
    const c = g.input('c', 'float32', []);
    const noise = g.input('noise', 'float32', ['steps', 4, 'height', 'width']);
    const step = g.input('step', 'int64', [1]);
    prev = add(g, prev, mul(g, c, gather(g, noise, step, 0)));
  }
  g.output(prev, 'prev_sample');
  g.output(modelInputOf(g, prev, inputScale, shape.guided), 'model_input');
  return g;
}

/** The first model input: sample [1, 4, h, w], input_scale → model_input [B, 4, h, w]. */
export function buildInputGraph(guided: boolean): Graph {
  const g = new Graph(`device_input${guided ? '_guided' : ''}`);
  const sample = g.input('sample', 'float32', LATENT);
  const inputScale = g.input('input_scale', 'float32', []);
  g.output(modelInputOf(g, sample, inputScale, guided), 'model_input');
  return g;
}

/** Stacks K prompt embeddings [B, 77, D] (inputs e0 … e{K−1}) into [K, B, 77, D] (output `stacked`): an ensemble's conditioning. */
export function buildStackGraph(count: number): Graph {
  const g = new Graph(`device_stack_${count}`);
  const parts = Array.from({ length: count }, (_, k) => unsqueeze(g, g.input(`e${k}`, 'float32', ['batch', 77, 'dim']), [0]));
  g.output(count === 1 ? parts[0]! : concat(g, parts, 0), 'stacked');
  return g;
}

/** The graph's file under `<tmpdir>/afa-studio-step-graphs/`, written (atomically) when missing. */
export function stepGraphFile(graph: Graph, root = join(tmpdir(), 'afa-studio-step-graphs')): string {
  const bytes = encodeModel(graph, new Map());
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const file = join(root, `${graph.name}-${hash}.onnx`);
  if (!existsSync(file)) {
    mkdirSync(root, { recursive: true });
    writeFileAtomic(file, bytes);
  }
  return file;
}
