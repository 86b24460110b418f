// Which parameter merge a recipe asks for, and the merged view of one component's weights. Recipes store
// `method: 'merge'` with member weights or `method: 'mbw'` with 25 block weights and a base (recipe.ts);
// this turns either into a MergedWeights that any model builder or the exporter can read.
import { UserError } from '../common/errors.ts';
import type { ComponentConfig, ComponentName } from '../checkpoints/component-config.ts';
import type { WeightSource } from '../tensor/weights.ts';
import { mbwMerge, type MbwWeights } from './mbw-merge.ts';
import { memberWeights, type Recipe } from './recipe.ts';
import { weightedMerge, type MergedWeights } from './weight-merge.ts';

export type MergeMethod =
  /** θ = Σ_k w_k·θ_k, the same weights for every tensor of every component. */
  | { readonly kind: 'weighted'; readonly weights: readonly number[] }
  /** θ = (1 − α)·θ_A + α·θ_B, α per U-Net block, `base` elsewhere (2 models). */
  | { readonly kind: 'mbw'; readonly mbw: MbwWeights };

/** The merge of a 'merge' or 'mbw' recipe (merge weights normalised to sum 1, as recipe.ts memberWeights does). */
export function mergeMethodOf(recipe: Recipe): MergeMethod {
  if (recipe.method === 'merge') return { kind: 'weighted', weights: memberWeights(recipe) };
  if (recipe.method === 'mbw') {
    if (!recipe.mbw) throw new UserError('invalid-argument', `The MBW recipe '${recipe.name}' has no block weights.`);
    return { kind: 'mbw', mbw: recipe.mbw };
  }
  throw new UserError('invalid-argument', `The recipe '${recipe.name}' uses '${recipe.method}', which is not a parameter merge.`, 'Only merge and mbw recipes produce merged weights.');
}

/**
 * The merged weights of one component of the members (same architecture). `unetConfig` (the U-Net's
 * config.json fields) is needed for MBW on the U-Net, where it gives each tensor its block.
 */
export function mergeComponentWeights(
  component: ComponentName,
  members: readonly WeightSource[],
  method: MergeMethod,
  options: { readonly unetConfig?: ComponentConfig; readonly labels?: readonly string[] } = {},
): MergedWeights {
  if (method.kind === 'weighted') return weightedMerge(members, method.weights, options.labels);
  if (component === 'unet' && !options.unetConfig) throw new Error('MBW of a U-Net needs its config to find the block of each tensor');
  return mbwMerge(members, method.mbw, component === 'unet' ? options.unetConfig : undefined, options.labels);
}
