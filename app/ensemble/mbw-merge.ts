// Merge Block Weighted (MBW), in the convention of bbc-mc/sdweb-merge-block-weighted-gui
// (scripts/mbw/merge_block_weighted.py, the merge loop the golden `baseline_mbw` cases ran):
//   θ = (1 − α_b)·θ_A + α_b·θ_B
// with α_b the weight of the U-Net block b the tensor belongs to — IN00…IN11, M00, OUT00…OUT11, 25 values
// in that order — and `base` for every other tensor (text encoder, VAE). As in that loop, (1 − α) is
// computed in double precision and both scalars then multiply float32 tensors as float32 values; the two
// products are added in float32 (weight-merge.ts mergeTerms).
// The block of a tensor follows MBW's rule on its LDM key (time_embed → IN00, '.out.' → OUT11,
// input_blocks.N → IN N, middle_block → M00, output_blocks.N → OUT N); app/checkpoints/ldm-keys.ts
// derives it for every diffusers U-Net key (unetKeyMap), which is what is used here.
import { UserError } from '../common/errors.ts';
import type { ComponentConfig } from '../checkpoints/component-config.ts';
import { unetLayout } from '../checkpoints/component-config.ts';
import { MBW_BLOCKS, mbwBlockIndex, unetKeyMap } from '../checkpoints/ldm-keys.ts';
import type { WeightSource } from '../tensor/weights.ts';
import { checkSameTensors, MergedWeights } from './weight-merge.ts';

export interface MbwWeights {
  /** α per block, in MBW order IN00…IN11, M00, OUT00…OUT11 (25 values in [0, 1]; 0 = model A, 1 = model B). */
  readonly blocks: readonly number[];
  /** α for tensors outside the 25 blocks: the text encoder and the VAE (and any other U-Net key). */
  readonly base: number;
}

/** Refuses block lists of the wrong length and α outside [0, 1] (MBW interpolates; it never extrapolates). */
export function checkMbwWeights(weights: MbwWeights): void {
  if (!Array.isArray(weights.blocks) || weights.blocks.length !== MBW_BLOCKS.length) {
    throw new UserError(
      'invalid-argument',
      `MBW needs ${MBW_BLOCKS.length} block weights (${MBW_BLOCKS[0]}…${MBW_BLOCKS[MBW_BLOCKS.length - 1]}); got ${Array.isArray(weights.blocks) ? weights.blocks.length : 'none'}.`,
      `List one α per block in the order ${MBW_BLOCKS.join(', ')}.`,
    );
  }
  const check = (value: number, what: string) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
      throw new UserError('invalid-argument', `The MBW weight of ${what} is ${value}; every α must be between 0 (model A) and 1 (model B).`);
    }
  };
  weights.blocks.forEach((value, index) => check(value, `block ${MBW_BLOCKS[index]}`));
  check(weights.base, 'the base (keys outside the 25 blocks)');
}

/** The MBW multipliers [1 − α, α] (1 − α in double precision, as the Python loop computes it). */
export function mbwCoefficients(alpha: number): readonly [number, number] {
  return [1 - alpha, alpha];
}

/** The 25-block α (or base) of every diffusers U-Net tensor name of a U-Net with this config. */
export function unetBlockAlphas(unetConfig: ComponentConfig, weights: MbwWeights): ReadonlyMap<string, number> {
  const alphas = new Map<string, number>();
  for (const key of unetKeyMap(unetLayout(unetConfig))) {
    const index = mbwBlockIndex(key.block);
    alphas.set(key.diffusers, index >= 0 ? weights.blocks[index]! : weights.base);
  }
  return alphas;
}

/**
 * MBW of two same-architecture components. For a U-Net pass its config (the block of each tensor comes
 * from it); without one every tensor takes `weights.base` (text encoder, VAE).
 */
export function mbwMerge(members: readonly WeightSource[], weights: MbwWeights, unetConfig?: ComponentConfig, labels?: readonly string[]): MergedWeights {
  if (members.length !== 2) {
    throw new UserError('invalid-argument', `MBW merges exactly 2 models (A and B); got ${members.length}.`, 'Use a weighted merge for more models.');
  }
  checkMbwWeights(weights);
  checkSameTensors(members, labels ?? ['model A', 'model B']);
  const alphas = unetConfig ? unetBlockAlphas(unetConfig, weights) : new Map<string, number>();
  const [a, b] = members;
  return new MergedWeights(
    members,
    (name) => mbwCoefficients(alphas.get(name) ?? weights.base),
    `the MBW merge of ${a!.description} (A) and ${b!.description} (B)`,
  );
}
