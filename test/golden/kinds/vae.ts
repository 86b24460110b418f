// Golden kinds 'vae_decode' (pipeline latents → image and its [0, 1] version) and 'vae_encode'
// (image → latent distribution).
import type { CaseKind } from '../case-kind.ts';
import { float32, type Tensor } from '../../../app/tensor/tensor.ts';
import { compiledVae } from '../../models/compiled-models.ts';

/** diffusers VaeImageProcessor.denormalize: (image / 2 + 0.5).clamp(0, 1), in float32. */
function denormalize(image: Tensor): Tensor {
  const source = image.data as Float32Array;
  const result = new Float32Array(source.length);
  for (let i = 0; i < source.length; i++) result[i] = Math.min(Math.max(Math.fround(source[i] / 2 + 0.5), 0), 1);
  return float32(image.shape, result);
}

const vaeDecode: CaseKind = {
  kind: 'vae_decode',
  computeDtypes: ['float32', 'float16'],
  async run(testCase, context) {
    const compiled = await compiledVae(context.resolve(String(testCase.model?.vae)), 'decoder', context.session, context.computeDtype);
    const { image } = await compiled.session('vae_decoder').run({ latents: context.readTensor(testCase.inputs!.latents) });
    return { image, image_01: denormalize(image) };
  },
};

const vaeEncode: CaseKind = {
  kind: 'vae_encode',
  computeDtypes: ['float32', 'float16'],
  async run(testCase, context) {
    const compiled = await compiledVae(context.resolve(String(testCase.model?.vae)), 'encoder', context.session, context.computeDtype);
    const result = await compiled.session('vae_encoder').run({ image: context.readTensor(testCase.inputs!.image) });
    return { mean: result.mean, logvar: result.logvar, std: result.std, scaled_mean: result.scaled_mean };
  },
};

export const kinds: CaseKind[] = [vaeDecode, vaeEncode];
