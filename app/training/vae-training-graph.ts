// Training a VAE (diffusers AutoencoderKL, app/models/vae.ts) from scratch, as the latent-diffusion
// autoencoder is trained without its adversarial and perceptual terms:
//   posterior  = encoder(image): mean μ, log-variance (clamped to [-30, 20]), σ = exp(logvar / 2)
//   z          = μ + σ·ε              (the reparameterisation; ε is a graph input, so a step is a pure
//                                      function of its inputs)
//   recon      = decoder(z)
//   loss       = mean((recon − image)²) + β · mean(½(μ² + σ² − 1 − logvar))
// Both terms are means (over pixels, over latent elements), so β is the KL weight per latent element
// relative to the per-pixel reconstruction error. The KL term keeps the latents near a unit Gaussian so
// the diffusion model can start from noise; the scaling factor SD applies afterwards is measured on the
// trained encoder's latents (see app/demo), not fixed here.
import { Graph } from '../onnx/graph.ts';
import { add, mul, reduceMean, sub } from '../onnx/ops.ts';
import type { WeightSource } from '../tensor/weights.ts';
import type { VaeConfig } from '../models/vae-config.ts';
import { addVaeDecoder, addVaeEncoder } from '../models/vae.ts';
import { finishWithLoss, meanSquaredError, type TrainingGraph } from './training-graph.ts';

export const VAE_TRAINING_INPUTS = Object.freeze({ image: 'image', noise: 'latent_noise' });
export const VAE_RECONSTRUCTION_OUTPUT = 'reconstruction';
export const VAE_KL_OUTPUT = 'kl';
export const VAE_RECONSTRUCTION_LOSS_OUTPUT = 'reconstruction_mse';

export interface VaeTrainingShape {
  readonly batch: number;
  /** Image height and width in pixels (multiples of 8). */
  readonly height: number;
  readonly width: number;
}

export function buildVaeTrainingGraph(
  weights: WeightSource,
  config: VaeConfig,
  shape: VaeTrainingShape,
  options: { readonly klWeight: number; readonly name?: string; readonly isParameter?: (name: string) => boolean },
): TrainingGraph {
  const down = 2 ** (config.block_out_channels.length - 1);
  const g = new Graph(options.name ?? 'vae_train_step', { isParameter: options.isParameter ?? (() => true) });
  const image = g.input(VAE_TRAINING_INPUTS.image, 'float32', [shape.batch, config.in_channels, shape.height, shape.width]);
  const noise = g.input(VAE_TRAINING_INPUTS.noise, 'float32', [shape.batch, config.latent_channels, shape.height / down, shape.width / down]);
  const { mean, logvar, std } = addVaeEncoder(g, weights, config, image);
  const z = add(g, mean, mul(g, std, noise));
  // The decoder takes pipeline-space latents (it divides by the scaling factor first).
  const reconstruction = addVaeDecoder(g, weights, config, mul(g, z, Math.fround(config.scaling_factor)));
  g.output(reconstruction, VAE_RECONSTRUCTION_OUTPUT);
  const loss = g.scope('loss', () => {
    const mse = meanSquaredError(g, reconstruction, image);
    const variance = mul(g, std, std);
    const perElement = sub(g, add(g, mul(g, mean, mean), variance), add(g, logvar, 1));
    const kl = mul(g, reduceMean(g, perElement, [0, 1, 2, 3], false), 0.5);
    g.output(mse, VAE_RECONSTRUCTION_LOSS_OUTPUT);
    g.output(kl, VAE_KL_OUTPUT);
    return add(g, mse, mul(g, kl, Math.fround(options.klWeight)));
  });
  return finishWithLoss(g, loss, [], 'none');
}
