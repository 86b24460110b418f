// Training a VAE (diffusers AutoencoderKL, app/models/vae.ts) from scratch, as the latent-diffusion
// autoencoder is trained without its adversarial and perceptual terms:
//   posterior  = encoder(image): mean μ, log-variance (clamped to [-30, 20]), σ = exp(logvar / 2)
//   z          = μ + σ·ε              (the reparameterisation; ε is a graph input, so a step is a pure
//                                      function of its inputs)
//   recon      = decoder(z)
//   loss       = mean((recon − image)²) + β · mean(½(μ² + σ² − 1 − logvar))
//                [+ γ · mean((μ[:, 0:3] − cellMean(image))²)   with options.colourWeight γ > 0]
// Both terms are means (over pixels, over latent elements), so β is the KL weight per latent element
// relative to the per-pixel reconstruction error. The optional colour term holds the first three
// channels of the posterior mean to the mean RGB (−1…1) of the image cell each latent covers, as SD's
// latents roughly are: without it a small VAE may code hue in the latent's magnitude, so that a U-Net's
// small errors decode as a neighbouring colour (measured in app/demo/family-config.ts). The KL term
// keeps the latents near a unit Gaussian so the diffusion model can start from noise; the scaling
// factor SD applies afterwards is measured on the trained encoder's latents (see app/demo), not fixed
// here.
import { Graph } from '../onnx/graph.ts';
import { add, mul, reduceMean, reshape, slice, sub } from '../onnx/ops.ts';
import type { WeightSource } from '../tensor/weights.ts';
import type { VaeConfig } from '../models/vae-config.ts';
import { addVaeDecoder, addVaeEncoder } from '../models/vae.ts';
import { finishWithLoss, meanSquaredError, type TrainingGraph } from './training-graph.ts';

export const VAE_TRAINING_INPUTS = Object.freeze({ image: 'image', noise: 'latent_noise' });
export const VAE_RECONSTRUCTION_OUTPUT = 'reconstruction';
export const VAE_KL_OUTPUT = 'kl';
export const VAE_RECONSTRUCTION_LOSS_OUTPUT = 'reconstruction_mse';
/** mean((μ[:, 0:3] − cell mean of the image)²) and μ itself, output only when the colour term is on. */
export const VAE_COLOUR_OUTPUT = 'latent_colour';
export const VAE_POSTERIOR_MEAN_OUTPUT = 'posterior_mean';

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
  options: { readonly klWeight: number; readonly colourWeight?: number; readonly name?: string; readonly isParameter?: (name: string) => boolean },
): TrainingGraph {
  const colourWeight = options.colourWeight ?? 0;
  if (!(colourWeight >= 0)) throw new RangeError(`colourWeight must be 0 or more, got ${colourWeight}`);
  if (colourWeight > 0 && (config.in_channels !== 3 || config.latent_channels < 3)) throw new RangeError('the colour term needs an RGB image and at least 3 latent channels');
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
    const objective = add(g, mse, mul(g, kl, Math.fround(options.klWeight)));
    if (colourWeight === 0) return objective;
    const [h, w] = [shape.height / down, shape.width / down];
    const cells = reduceMean(g, reshape(g, image, [shape.batch, 3, h, down, w, down]), [3, 5], false); // [B, 3, h, w]
    const colour = meanSquaredError(g, slice(g, mean, [0], [3], [1]), cells);
    g.output(colour, VAE_COLOUR_OUTPUT);
    g.output(mean, VAE_POSTERIOR_MEAN_OUTPUT);
    return add(g, objective, mul(g, colour, Math.fround(colourWeight)));
  });
  return finishWithLoss(g, loss, [], 'none');
}
