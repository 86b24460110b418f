// Contrastive pretraining of a CLIP text encoder against a small image encoder, as CLIP itself was trained
// (Radford et al. 2021), for a family trained from scratch: a text encoder learned only through the
// diffusion loss has little reason to tell apart words the ε-loss barely rewards (where an object is is
// decided at the noisiest timesteps, where the loss weighs almost nothing), so "on the left" and "on the
// right" end up as nearly the same embedding and no U-Net can follow them. Here every caption of a batch
// must pick out its own image among the others, which forces apart exactly the words that distinguish
// scenes.
//
//   text   = mean over the L positions of the text encoder's last hidden state, projected (D → E)
//            (the mean over every position, padding included, is what the U-Net's cross-attention reads)
//   image  = conv 3×3 + SiLU, then stride-2 conv 3×3 + SiLU down to 4×4, flattened (no global pooling:
//            where things are must survive), projected to E
//   logits = scale · normalize(image) · normalize(text)ᵀ          [B, B]
//   loss   = ½ (cross-entropy over rows + cross-entropy over columns), the diagonal being the true pairs
//
// Only the text encoder is kept afterwards; the image encoder and the text projection exist to train it.
import { Graph, type Value } from '../onnx/graph.ts';
import { linear, silu } from '../onnx/layers.ts';
import { add, conv, div, log, matMul, mul, reduceMean, reduceSum, reshape, softmax, sqrt, transpose } from '../onnx/ops.ts';
import type { ClipTextConfig } from '../models/clip-text-config.ts';
import { addClipText } from '../models/clip-text.ts';
import { ModuleWeights } from '../models/module-weights.ts';
import type { WeightSource } from '../tensor/weights.ts';
import { finishWithLoss, type TrainingGraph } from './training-graph.ts';

export const CONTRASTIVE_INPUTS = Object.freeze({ image: 'image', inputIds: 'input_ids' });
/** Weight-name prefixes of the parts that exist only for this objective. */
export const IMAGE_ENCODER_PREFIX = 'contrastive_image.';
export const TEXT_PROJECTION = 'contrastive_text_projection.weight';
/** The [B images, B captions] similarity logits, an extra output for inspection. */
export const CONTRASTIVE_LOGITS_OUTPUT = 'logits';

export interface ContrastiveShape {
  readonly batch: number;
  /** Square image side in pixels, a multiple of 2^(widths.length − 1) · 4. */
  readonly size: number;
}

export interface ContrastiveOptions {
  /** Channels of the image encoder's convolutions; each after the first halves the resolution. */
  readonly widths: readonly number[];
  /** Shared embedding width E. */
  readonly embedding: number;
  /** The logits' scale, 1 / temperature (CLIP starts at 1 / 0.07). */
  readonly scale: number;
  readonly name?: string;
}

export function buildContrastiveTrainingGraph(
  text: { readonly weights: WeightSource; readonly config: ClipTextConfig },
  image: WeightSource,
  shape: ContrastiveShape,
  options: ContrastiveOptions,
): TrainingGraph {
  const { batch, size } = shape;
  const g = new Graph(options.name ?? 'contrastive_train_step', { isParameter: () => true });
  const inputIds = g.input(CONTRASTIVE_INPUTS.inputIds, 'int64', [batch, text.config.max_position_embeddings]);
  const pixels = g.input(CONTRASTIVE_INPUTS.image, 'float32', [batch, 3, size, size]);

  const textEmbedding = g.scope('text', () => {
    const hidden = g.scope('text_encoder', () => addClipText(g, text.weights, text.config, inputIds).lastHiddenState);
    const pooled = reduceMean(g, hidden, [1], false); // [B, D]
    const projection = new ModuleWeights(image).get(g, TEXT_PROJECTION, [options.embedding, text.config.hidden_size]);
    return normalizeRows(g, linear(g, pooled, projection));
  });

  const imageEmbedding = g.scope('image', () => {
    const w = new ModuleWeights(image).child(IMAGE_ENCODER_PREFIX.slice(0, -1));
    let h = pixels;
    let channels = 3;
    let side = size;
    options.widths.forEach((width, index) => {
      const stride = index === 0 ? 1 : 2;
      const c = w.child(`conv${index}`);
      h = silu(g, conv(g, h, c.get(g, 'weight', [width, channels, 3, 3]), c.get(g, 'bias', [width]), { pads: [1, 1], strides: [stride, stride] }));
      channels = width;
      side /= stride;
    });
    const flat = reshape(g, h, [batch, channels * side * side]);
    const p = w.child('proj');
    return normalizeRows(g, linear(g, flat, p.get(g, 'weight', [options.embedding, channels * side * side]), p.get(g, 'bias', [options.embedding])));
  });

  const loss = g.scope('loss', () => {
    const logits = mul(g, matMul(g, imageEmbedding, transpose(g, textEmbedding, [1, 0])), Math.fround(options.scale)); // [B images, B captions]
    g.output(logits, CONTRASTIVE_LOGITS_OUTPUT);
    const eye = g.constant({ dtype: 'float32', shape: [batch, batch], data: Float32Array.from({ length: batch * batch }, (_, i) => (i % (batch + 1) === 0 ? 1 : 0)) }, 'pairs');
    const crossEntropy = (axis: number) => mul(g, reduceSum(g, mul(g, log(g, softmax(g, logits, axis)), eye), [0, 1], false), -1 / batch);
    return mul(g, add(g, crossEntropy(1), crossEntropy(0)), 0.5);
  });
  return finishWithLoss(g, loss, [], 'none');
}

/** x / ‖x‖ per row of [B, E]. */
function normalizeRows(g: Graph, x: Value): Value {
  return div(g, x, sqrt(g, add(g, reduceSum(g, mul(g, x, x), [1], true), 1e-8)));
}
