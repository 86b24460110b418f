// Aggregator sets: the official layout (the golden models/afa folder is the official code's own output),
// the studio's format, and every refusal of a set that does not fit a recipe.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { UserError } from '../../app/common/errors.ts';
import { checkAggregatorsMatch, loadAggregatorSet, STUDIO_AGGREGATOR_MANIFEST, STUDIO_AGGREGATOR_WEIGHTS, type AggregatorSet } from '../../app/ensemble/aggregator-set.ts';
import { writeSafetensors } from '../../app/tensor/safetensors.ts';
import type { Tensor } from '../../app/tensor/tensor.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const afaDir = join(repoRoot, '..', 'shared', 'golden', 'models', 'afa');
const scratch = mkdtempSync(join(tmpdir(), 'afa-aggregators-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const goldenChannels = [32, 32, 32, 32, 32, 32, 32, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 32, 32, 32, 32, 32, 4];
const experts = ['a', 'b', 'c'].map((letter) => ({ sha256: letter.repeat(64), name: `Model ${letter}` }));
const expected = { pointChannels: goldenChannels, crossAttentionDim: 32, timeEmbeddingChannels: 128, experts };

function mismatch(set: AggregatorSet, changes: Partial<typeof expected>, pattern: RegExp): void {
  assert.throws(
    () => checkAggregatorsMatch(set, { ...expected, ...changes }),
    (error: unknown) => error instanceof UserError && error.code === 'mismatch' && pattern.test(error.message),
  );
}

describe('aggregator sets', () => {
  const official = loadAggregatorSet(afaDir);

  it('loads the official layout with the official state-dict names', () => {
    assert.equal(official.configs.length, 25);
    assert.deepEqual(official.configs.map((c) => c.inChannels), goldenChannels);
    assert.ok(official.weights[0]!.has('transformer.transformer_blocks.1.ff.net.2.bias'));
    assert.deepEqual(official.weights[24]!.get('conv_in.weight').shape, [32, 12, 1, 1]);
    assert.equal(official.experts, undefined);
    checkAggregatorsMatch(official, expected);
  });

  it('refuses a set made for other experts, saying what differs', () => {
    mismatch(official, { experts: experts.slice(0, 2) }, /trained for 3 experts and the recipe has 2/);
    mismatch(official, { pointChannels: goldenChannels.map((c) => c * 10) }, /aggregator 0 fuses 32-channel features, but the experts have 320/);
    mismatch(official, { pointChannels: goldenChannels.slice(1) }, /25 aggregators, but the experts' U-Net has 24/);
    mismatch(official, { crossAttentionDim: 768 }, /32-wide prompt embeddings, the experts produce 768/);
    mismatch(official, { timeEmbeddingChannels: 1280 }, /128-wide timestep embedding/);
  });

  it('reads the studio format and refuses it for different experts', () => {
    const dir = join(scratch, 'studio');
    mkdirSync(dir);
    const tensors: [string, Tensor][] = [];
    official.weights.forEach((weights, index) => {
      for (const name of weights.names()) tensors.push([`aggregators.${index}.${name}`, weights.get(name).read()]);
    });
    writeSafetensors(join(dir, STUDIO_AGGREGATOR_WEIGHTS), tensors);
    writeFileSync(join(dir, STUDIO_AGGREGATOR_MANIFEST), JSON.stringify({ format: 'afa-studio-aggregators', version: 1, configs: official.configs, experts }));
    const studio = loadAggregatorSet(dir);
    assert.deepEqual([...studio.weights[3]!.get('conv_out.weight').read().data], [...official.weights[3]!.get('conv_out.weight').read().data]);
    checkAggregatorsMatch(studio, expected);
    mismatch(studio, { experts: [experts[1]!, experts[0]!, experts[2]!] }, /trained for the experts Model a, Model b, Model c \(in that order\), not Model b, Model a, Model c/);
  });

  it('says what a folder must contain when it holds no aggregators', () => {
    assert.throws(() => loadAggregatorSet(scratch), (error: unknown) => error instanceof UserError && /holds no aggregators.*aggregator_0/.test(error.message));
    const newer = join(scratch, 'newer');
    mkdirSync(newer);
    writeFileSync(join(newer, STUDIO_AGGREGATOR_MANIFEST), JSON.stringify({ format: 'afa-studio-aggregators', version: 2, configs: [], experts: [] }));
    writeFileSync(join(newer, STUDIO_AGGREGATOR_WEIGHTS), '');
    assert.throws(() => loadAggregatorSet(newer), /format version 2; this studio reads version 1/);
  });
});
