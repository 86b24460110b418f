// The golden cases a GPU provider runs in CI (test/golden/golden-webgpu.test.ts) and on a GPU machine
// (scripts/gpu-report.ts): one case per model kind — text encoder, U-Net, VAE, the AFA forward — and
// one whole pipeline. Measured on SwiftShader (2 shared cores): see golden-webgpu.test.ts.
export const GPU_CI_CASES: readonly string[] = ['text_encoder/expert1', 'unet/expert1/t500', 'vae/decode', 'afa/forward/t500', 'pipeline/sd_expert1'];
