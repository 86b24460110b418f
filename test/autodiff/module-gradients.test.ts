// Whole modules against finite differences, on the golden tiny weights (SD1.5 topology): gradients
// with respect to their inputs and to a sample of their own weights (made graph inputs with
// GraphOptions.isParameter, fed in float32). Modules compute in float32, so these use the float32
// rules of test/autodiff/finite-differences.ts (h = 2⁻⁷ for weights, 1e-2 for inputs; 2e-3 relative,
// an absolute floor of 1e-4 of the largest gradient): the error of a difference quotient is then the
// modules' own float32 rounding divided by h, far above the float64 rules' error.
import { test } from 'node:test';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import { parseClipTextConfig } from '../../app/models/clip-text-config.ts';
import { ModuleWeights } from '../../app/models/module-weights.ts';
import { resnetBlock2D } from '../../app/models/resnet-block.ts';
import { transformer2D } from '../../app/models/transformer-2d.ts';
import { unetPoint } from '../../app/models/unet.ts';
import { unetLayout } from '../../app/models/unet-layout.ts';
import { addClipText } from '../../app/models/clip-text.ts';
import { loadAggregatorSet } from '../../app/ensemble/aggregator-set.ts';
import { sabwAggregator } from '../../app/ensemble/sabw-aggregator.ts';
import { int64 } from '../../app/tensor/tensor.ts';
import { checkGradients, type CheckOptions } from './finite-differences.ts';

const afaDir = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), '..', 'shared', 'golden', 'models', 'afa');
const skip = existsSync(afaDir) ? false : `the golden models are not at ${afaDir}`;
const unet = () => openDiffusersComponent(join(afaDir, 'unet'), parseUnetConfig);
const F32 = (prefix: string, parameterSamples = 4): CheckOptions => ({ precision: 'float32', samples: 12, parameterSamples, graph: { isParameter: (name) => name.startsWith(prefix) } });

test('gradient of a ResnetBlock2D (GroupNorm, SiLU, 3×3 convs, time embedding)', { skip }, async (t) => {
  const { config, weights } = unet();
  const prefix = 'down_blocks.1.resnets.0';
  const report = await checkGradients(
    (g, v) => resnetBlock2D(g, new ModuleWeights(weights).child(prefix), v.x!, v.temb!, { inChannels: 32, outChannels: 32, groups: config.norm_num_groups, eps: config.norm_eps, tembChannels: 128 }),
    [{ name: 'x', shape: [1, 32, 5, 6] }, { name: 'temb', shape: [1, 128] }],
    F32(prefix),
  );
  t.diagnostic(`worst ${report.worstRatio.toFixed(3)} of tolerance over ${report.checked} elements`);
});

test('gradient of a Transformer2D with cross-attention', { skip }, async (t) => {
  const { config, weights } = unet();
  const prefix = 'down_blocks.0.attentions.0';
  const report = await checkGradients(
    (g, v) => transformer2D(g, new ModuleWeights(weights).child(prefix), v.x!, v.context!, { channels: 32, heads: 4, contextChannels: config.cross_attention_dim, groups: config.norm_num_groups }),
    [{ name: 'x', shape: [1, 32, 3, 5] }, { name: 'context', shape: [1, 7, 32] }],
    F32(prefix, 6),
  );
  t.diagnostic(`worst ${report.worstRatio.toFixed(3)} of tolerance over ${report.checked} elements`);
});

test('gradient of a U-Net point with a skip, attention and upsampling (point 18)', { skip }, async (t) => {
  const { config, weights } = unet();
  const layout = unetLayout(config);
  const point = layout[18]!;
  const skipChannels = layout[point.skipFrom]!.outChannels;
  const report = await checkGradients(
    (g, v) => unetPoint(g, weights, config, 18, { hidden: v.x!, skip: v.skip!, temb: v.temb!, context: v.context! }),
    [{ name: 'x', shape: [1, point.inChannels, 3, 3] }, { name: 'skip', shape: [1, skipChannels, 3, 3] }, { name: 'temb', shape: [1, 128] }, { name: 'context', shape: [1, 5, 32] }],
    F32('up_blocks.1.resnets.2', 4),
  );
  t.diagnostic(`worst ${report.worstRatio.toFixed(3)} of tolerance over ${report.checked} elements`);
});

test('gradient of one SABW aggregator (its weights and the experts’ features)', { skip }, async (t) => {
  const set = loadAggregatorSet(afaDir);
  const report = await checkGradients(
    (g, v) => sabwAggregator(g, set.weights[1]!, set.configs[1]!, [v.a!, v.b!, v.c!], v.temb!, v.context!).fused,
    [{ name: 'a', shape: [1, 32, 3, 4] }, { name: 'b', shape: [1, 32, 3, 4] }, { name: 'c', shape: [1, 32, 3, 4] }, { name: 'temb', shape: [1, 128] }, { name: 'context', shape: [1, 5, 32] }],
    { ...F32('', 8) },
  );
  t.diagnostic(`worst ${report.worstRatio.toFixed(3)} of tolerance over ${report.checked} elements`);
});

test('gradient of the tiny CLIP text encoder (embedding gather, causal attention, quick GELU)', { skip }, async (t) => {
  const { config, weights } = openDiffusersComponent(join(afaDir, 'text_encoder'), parseClipTextConfig);
  const ids = Array.from({ length: 77 }, (_, i) => (i === 0 ? 998 : i < 6 ? 17 * i : 999));
  const report = await checkGradients(
    (g, v) => addClipText(g, weights, config, v.ids!).lastHiddenState,
    [{ name: 'ids', shape: [1, 77], fixed: int64([1, 77], ids) }],
    { ...F32('text_model.', 6) },
  );
  t.diagnostic(`worst ${report.worstRatio.toFixed(3)} of tolerance over ${report.checked} elements`);
});
