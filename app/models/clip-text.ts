// transformers' CLIPTextModel (4.33) as an ONNX graph, as the SD pipelines call it (attention_mask=None):
//   h = token_embedding(input_ids) + position_embedding(arange(L))
//   per layer (pre-LN): h += self_attn(layer_norm1(h), causal mask);  h += mlp(layer_norm2(h))
//   last_hidden_state = final_layer_norm(h)  [B, L, D]  — the prompt embedding SD cross-attends to
//   pooler_output = last_hidden_state[b, pooled index of row b]  [B, D]
// Graph I/O: input_ids int64 [batch, max_position_embeddings] → last_hidden_state, pooler_output (float32).
// The position_ids buffer some checkpoints carry is not read: it is always arange(77).
import type { WeightSource } from '../tensor/weights.ts';
import { float32 } from '../tensor/tensor.ts';
import { attribute, Graph, type GraphOptions, type Value } from '../onnx/graph.ts';
import { add, cast, gather, gelu, layerNorm, mul, sigmoid } from '../onnx/ops.ts';
import { linear } from '../onnx/layers.ts';
import { attentionCore } from './attention.ts';
import type { ClipTextConfig } from './clip-text-config.ts';
import { ModuleWeights } from './module-weights.ts';

/** Adds the text encoder to `g`, reading `input_ids` [B, L] int64; returns both outputs. */
export function addClipText(g: Graph, weights: WeightSource, config: ClipTextConfig, inputIds: Value): { lastHiddenState: Value; pooled: Value } {
  const root = new ModuleWeights(weights).child('text_model');
  const d = config.hidden_size;
  const length = config.max_position_embeddings;
  let h = g.scope('embeddings', () => {
    const e = root.child('embeddings');
    const tokens = gather(g, e.get(g, 'token_embedding.weight', [config.vocab_size, d]), inputIds, 0); // [B, L, D]
    return add(g, tokens, e.get(g, 'position_embedding.weight', [length, d])); // positions 0..L-1 broadcast over B
  });
  const mask = g.constant(causalMask(length), 'causal_mask');
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const w = root.child(`encoder.layers.${layer}`);
    h = g.scope(`encoder.layers.${layer}`, () => encoderLayer(g, w, h, mask, config));
  }
  const f = root.child('final_layer_norm');
  const lastHiddenState = layerNorm(g, h, f.get(g, 'weight', [d]), f.get(g, 'bias', [d]), { epsilon: config.layer_norm_eps });
  const pooled = g.scope('pooler', () => poolEnd(g, lastHiddenState, inputIds, config.eos_token_id));
  return { lastHiddenState, pooled };
}

export function buildClipTextGraph(weights: WeightSource, config: ClipTextConfig, name = 'text_encoder', options: GraphOptions = {}): Graph {
  const g = new Graph(name, options);
  const inputIds = g.input('input_ids', 'int64', ['batch', config.max_position_embeddings]);
  const { lastHiddenState, pooled } = addClipText(g, weights, config, inputIds);
  g.output(lastHiddenState, 'last_hidden_state');
  g.output(pooled, 'pooler_output');
  return g;
}

function encoderLayer(g: Graph, w: ModuleWeights, h: Value, mask: Value, config: ClipTextConfig): Value {
  const d = config.hidden_size;
  const eps = config.layer_norm_eps;
  const norm = (name: string, x: Value) => layerNorm(g, x, w.get(g, `${name}.weight`, [d]), w.get(g, `${name}.bias`, [d]), { epsilon: eps });
  const attended = g.scope('self_attn', () => {
    const a = w.child('self_attn');
    const x = norm('layer_norm1', h);
    const projection = (name: string, input: Value) => linear(g, input, a.get(g, `${name}.weight`, [d, d]), a.get(g, `${name}.bias`, [d]));
    const mixed = attentionCore(g, projection('q_proj', x), projection('k_proj', x), projection('v_proj', x), {
      heads: config.num_attention_heads,
      channels: d,
      scaleAt: 'query',
      mask,
    });
    return projection('out_proj', mixed);
  });
  let x = add(g, h, attended);
  const fed = g.scope('mlp', () => {
    const m = w.child('mlp');
    const inner = config.intermediate_size;
    const hidden = linear(g, norm('layer_norm2', x), m.get(g, 'fc1.weight', [inner, d]), m.get(g, 'fc1.bias', [inner]));
    // quick_gelu: x * sigmoid(1.702 * x) (transformers QuickGELUActivation).
    const activated = config.hidden_act === 'quick_gelu' ? mul(g, hidden, sigmoid(g, mul(g, hidden, Math.fround(1.702)))) : gelu(g, hidden);
    return linear(g, activated, m.get(g, 'fc2.weight', [d, inner]), m.get(g, 'fc2.bias', [d]));
  });
  x = add(g, x, fed);
  return x;
}

/**
 * transformers' `_make_causal_mask`: 0 on and below the diagonal, float32's lowest value above it, added to
 * the attention scores so a token never attends to later ones. [1, 1, L, L].
 */
function causalMask(length: number) {
  const lowest = -3.4028234663852886e38;
  const data = new Float32Array(length * length);
  for (let row = 0; row < length; row++) for (let column = row + 1; column < length; column++) data[row * length + column] = lowest;
  return float32([1, 1, length, length], data);
}

/** hidden [B, L, D] at the pooled position of each row → [B, D] (see ClipTextConfig.eos_token_id). */
function poolEnd(g: Graph, hidden: Value, inputIds: Value, eosTokenId: number): Value {
  // transformers casts ids with .to(torch.int) before argmax; torch.argmax returns the first maximum, as
  // ONNX ArgMax does with select_last_index 0.
  const ids = cast(g, inputIds, 'int32');
  const scores = eosTokenId === 2 ? ids : cast(g, equal(g, ids, g.scalar(eosTokenId, 'int32')), 'int32');
  const batch = hidden.shape?.[0] ?? 'batch';
  const [position] = g.node({
    op: 'ArgMax',
    inputs: [scores],
    outputs: [{ dtype: 'int64', shape: [batch, 1] }],
    attrs: { axis: attribute.int(1), keepdims: attribute.int(1), select_last_index: attribute.int(0) },
  });
  // GatherND with batch_dims 1: row b takes hidden[b, position[b, 0], :].
  const [pooled] = g.node({
    op: 'GatherND',
    inputs: [hidden, position],
    outputs: [{ dtype: hidden.dtype, shape: [batch, hidden.shape?.[2] ?? 'hidden'] }],
    attrs: { batch_dims: attribute.int(1) },
  });
  return pooled;
}

function equal(g: Graph, a: Value, b: Value): Value {
  return g.node({ op: 'Equal', inputs: [a, b], outputs: [{ dtype: 'bool', shape: a.shape }] })[0];
}

