// The U-Net's timestep embedding: diffusers `Timesteps(C0, flip_sin_to_cos, downscale_freq_shift)`
// (`get_timestep_embedding`) followed by `TimestepEmbedding` (linear_1 → SiLU → linear_2).
// Float32 throughout, as diffusers computes it: exponent = -ln(10000)·arange(C0/2) / (C0/2 - shift),
// frequencies = exp(exponent), argument = float(t)·frequency, embedding = [cos, sin] when flipped.
import type { Graph, Value } from '../onnx/graph.ts';
import { cast, concat, cos, floatConstant, mul, sin, unsqueeze } from '../onnx/ops.ts';
import { linear, silu } from '../onnx/layers.ts';
import type { WeightSource } from '../tensor/weights.ts';
import { ModuleWeights } from './module-weights.ts';
import type { UnetConfig } from './unet-config.ts';
import { torchExpFloat32 } from './torch-expf.ts';

/**
 * The C0/2 frequencies, float32, bit-identical to diffusers on a CPU: the exponent is float32 arithmetic
 * (the Python scalar -ln(10000) becomes float32) and exp is torch's (torchExpFloat32).
 */
export function timestepFrequencies(channels: number, freqShift: number): Float32Array {
  const half = channels / 2;
  const scale = Math.fround(-Math.log(10000));
  const frequencies = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const exponent = Math.fround(Math.fround(scale * i) / (half - freqShift));
    frequencies[i] = torchExpFloat32(exponent);
  }
  return frequencies;
}

/**
 * Sinusoidal projection of `timestep` (float32 or int64, shape [B]) → [B, C0] float32 (`time_proj`).
 * Integer timesteps are cast like `.float()`; float64 ones must be rounded to float32 by the caller.
 */
export function unetTimeProjection(g: Graph, config: UnetConfig, timestep: Value): Value {
  return g.scope('time_proj', () => {
    const channels = config.block_out_channels[0];
    const frequencies = floatConstant(g, [1, channels / 2], timestepFrequencies(channels, config.freq_shift));
    const argument = mul(g, unsqueeze(g, cast(g, timestep, 'float32'), [1]), frequencies);
    const [sine, cosine] = [sin(g, argument), cos(g, argument)];
    return concat(g, config.flip_sin_to_cos ? [cosine, sine] : [sine, cosine], 1);
  });
}

/**
 * `temb` = TimestepEmbedding(time_proj(t)): [B] → [B, 4·C0] float32. Every resnet of the U-Net adds
 * `time_emb_proj(SiLU(temb))`; AFA's aggregators read it too.
 */
export function unetTimeEmbedding(g: Graph, weights: WeightSource, config: UnetConfig, timestep: Value): Value {
  const projected = unetTimeProjection(g, config, timestep);
  return timeEmbeddingMlp(g, weights, config, projected);
}

/** linear_1 → SiLU → linear_2 on the projected timestep [B, C0]. */
export function timeEmbeddingMlp(g: Graph, weights: WeightSource, config: UnetConfig, projected: Value): Value {
  return g.scope('time_embedding', () => {
    const channels = config.block_out_channels[0];
    const width = 4 * channels;
    const w = new ModuleWeights(weights).child('time_embedding');
    // The sinusoid is float32 in every graph; the MLP runs in the compute dtype (diffusers casts t_emb
    // to the sample's dtype before linear_1).
    const hidden = linear(g, g.toCompute(projected), w.get(g, 'linear_1.weight', [width, channels]), w.get(g, 'linear_1.bias', [width]));
    return linear(g, silu(g, hidden), w.get(g, 'linear_2.weight', [width, width]), w.get(g, 'linear_2.bias', [width]));
  });
}
