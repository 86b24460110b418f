// New aggregators start as the official code initialises them: conv_out zero (the uniform feature
// average), norm scales 1 and shifts 0, convolutions and linears uniform in ±1/√fan_in; the same seed
// gives the same weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDiffusersComponent } from '../../app/models/diffusers-folder.ts';
import { parseUnetConfig } from '../../app/models/unet-config.ts';
import type { Expert } from '../../app/ensemble/lock-step-graph.ts';
import { buildLockStepGraph } from '../../app/ensemble/lock-step-graph.ts';
import { newAggregatorSet } from '../../app/training/new-aggregator-set.ts';
import { goldenAfaDir } from '../ensemble/golden-experts.ts';

function experts(): Expert[] {
  return ['unet', 'additional_unet_0', 'additional_unet_1'].map((folder) => {
    const { config, weights } = openDiffusersComponent(join(goldenAfaDir, folder), parseUnetConfig);
    return { config, weights };
  });
}

test('new aggregators: official architecture and initialisation, reproducible from the seed', () => {
  const members = experts();
  const identities = ['a', 'b', 'c'].map((c) => ({ sha256: c.repeat(64) }));
  const set = newAggregatorSet(members, identities, 3);
  buildLockStepGraph(members, { kind: 'aggregators', aggregators: set }); // declares every weight's shape
  assert.equal(set.configs.length, 25);
  assert.deepEqual([set.configs[0]!.hiddenSize, set.configs[0]!.numAttentionHeads, set.configs[0]!.numLayers, set.configs[0]!.numExperts], [128, 8, 2, 3]);
  const first = set.weights[0]!;
  assert.ok((first.get('conv_out.weight').read().data as Float32Array).every((v) => v === 0));
  assert.ok((first.get('res_block.norm1.weight').read().data as Float32Array).every((v) => v === 1));
  assert.ok((first.get('res_block.norm1.bias').read().data as Float32Array).every((v) => v === 0));
  const convIn = first.get('conv_in.weight');
  const bound = 1 / Math.sqrt(convIn.shape.slice(1).reduce((a, b) => a * b, 1));
  const values = convIn.read().data as Float32Array;
  assert.ok(values.every((v) => Math.abs(v) <= bound));
  assert.ok(Math.max(...values.map(Math.abs)) > bound * 0.9, 'uniform over the whole bound');
  const bias = first.get('conv_in.bias').read().data as Float32Array;
  assert.ok(bias.every((v) => Math.abs(v) <= bound) && bias.some((v) => v !== 0), 'a bias takes its weight’s bound');
  const again = newAggregatorSet(members, identities, 3);
  buildLockStepGraph(members, { kind: 'aggregators', aggregators: again });
  assert.deepEqual(again.weights[0]!.get('conv_in.weight').read().data, values);
});
