import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUnetConfig, SD15_UNET_CONFIG } from '../../app/models/unet-config.ts';
import { latentSizeMultiple, unetLayout } from '../../app/models/unet-layout.ts';
import { goldenCase, goldenJson } from './golden-paths.ts';

test('the tiny golden U-Net has the 25 points, blocks and shapes of the golden per-block dump', () => {
  const config = parseUnetConfig(goldenJson('models/afa/unet/config.json'));
  const layout = unetLayout(config);
  const blocks = goldenCase('unet_blocks/expert1');
  const params = blocks.params as { points: string[]; ldm_blocks: string[] };
  assert.deepEqual(layout.map((p) => p.name), params.points);
  assert.deepEqual(layout.map((p) => p.block), params.ldm_blocks);
  for (const point of layout) {
    const shape = blocks.outputs[`point${String(point.index).padStart(2, '0')}`].shape;
    assert.deepEqual([2, point.outChannels, 16 / point.outScale, 16 / point.outScale], shape, point.name);
  }
});

test('SD1.5 layout: skips pair up like diffusers (every up layer pops the latest down output)', () => {
  const layout = unetLayout(SD15_UNET_CONFIG);
  assert.equal(layout.length, 25);
  assert.deepEqual(layout.filter((p) => p.pushesSkip).map((p) => p.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(layout.filter((p) => p.skipFrom >= 0).map((p) => p.skipFrom), [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  // Aggregator in_channels of Tenvence/afa Model.load_init: C0, down layers, mid, up resnets, last = out.
  assert.deepEqual(
    layout.map((p) => p.outChannels),
    [320, 320, 320, 320, 640, 640, 640, 1280, 1280, 1280, 1280, 1280, 1280, 1280, 1280, 1280, 1280, 1280, 1280, 640, 640, 640, 320, 320, 4],
  );
  // up_blocks.1.resnets.0 of SD1.5: 1280 hidden + 1280 skip; up_blocks.3.resnets.0: 640 + 320.
  assert.deepEqual([layout[16].inChannels, layout[16].skipChannels], [1280, 1280]);
  assert.deepEqual([layout[22].inChannels, layout[22].skipChannels], [640, 320]);
  assert.deepEqual(layout[24].modules, ['up_blocks.3.resnets.2', 'up_blocks.3.attentions.2', 'conv_norm_out', 'conv_out']);
  assert.equal(latentSizeMultiple(SD15_UNET_CONFIG), 8);
});

test('a three-level config gets its own consistent layout', () => {
  const layout = unetLayout({
    ...SD15_UNET_CONFIG,
    down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
    up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
    block_out_channels: [32, 64, 64],
    layers_per_block: 1,
  });
  assert.deepEqual(layout.map((p) => p.block), ['IN00', 'IN01', 'IN02', 'IN03', 'IN04', 'IN05', 'M00', 'OUT00', 'OUT01', 'OUT02', 'OUT03', 'OUT04', 'OUT05+out']);
  assert.deepEqual(layout.map((p) => p.outScale), [1, 1, 2, 2, 4, 4, 4, 4, 2, 2, 1, 1, 1]);
});
