// `afa generate` with an ensemble: a saved recipe (--recipe <name|id>) or one given inline
// (--models a,b,c --method afa|feature-average|output-average|merge|mbw|magicfusion [--weights …]
// [--aggregator <id|folder>] [--mbw-blocks …] [--mbw-base α]). Both become a 'recipe' target that
// app/ensemble resolves; the recipe document is recorded with every image.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../common/errors.ts';
import { importAggregatorsToCatalog } from '../ensemble/import-aggregators.ts';
import { METHODS, MBW_BLOCKS, validateRecipe, type EnsembleMethod, type Recipe } from '../ensemble/recipe.ts';
import { Library } from '../library/library.ts';
import type { GenerationTarget } from '../pipeline/generation-target.ts';
import type { CliArguments, OptionSpec } from './cli-arguments.ts';
import type { TargetOptions } from './generate-options.ts';
import { findModel } from './model-reference.ts';

export const RECIPE_BUILD_OPTIONS: readonly OptionSpec[] = [
  { name: 'models', kind: 'string', value: '<a,b,c>', description: 'Ensemble members (2–6 imported models: ids, id starts or names), comma-separated' },
  { name: 'method', kind: 'string', value: '<name>', description: `${METHODS.filter((m) => m !== 'single').join(' | ')} (default afa)` },
  { name: 'weights', kind: 'string', value: '<w1,w2,…>', description: 'Member weights for merge / output-average (normalised to sum 1)' },
  { name: 'aggregator', kind: 'string', value: '<id|folder>', description: 'AFA: an imported aggregator set, or a folder to import (official AFA layout or the studio’s)' },
  { name: 'mbw-blocks', kind: 'string', value: '<α×25>', description: `MBW: 25 comma-separated α (${MBW_BLOCKS[0]}…${MBW_BLOCKS[MBW_BLOCKS.length - 1]}), 0 = first model, 1 = second` },
  { name: 'mbw-base', kind: 'number', value: '<α>', description: 'MBW: α for every key outside the 25 blocks (default 0.5)' },
];

function numberList(text: string, option: string): number[] {
  const values = text.split(',').map((part) => Number(part.trim()));
  if (values.some((value) => !Number.isFinite(value))) throw new UserError('invalid-argument', `--${option} must be comma-separated numbers; got '${text}'.`);
  return values;
}

/** Finds an imported aggregator set by id, or imports a folder for `members` (and records it in the library). */
export function aggregatorFor(reference: string, members: readonly string[], home: string): string {
  const folder = resolve(reference);
  const library = Library.open({ home });
  try {
    if (library.aggregators.get(reference)) return reference;
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      throw new UserError('not-found', `No imported aggregator set is called '${reference}', and no folder is there.`, 'List them with `afa aggregators`, or pass the folder the training code wrote.');
    }
    const experts = members.map((id) => findModel(home, id));
    return importAggregatorsToCatalog(library.aggregators, folder, experts, { home }).id;
  } finally {
    library.close();
  }
}

/**
 * The recipe an inline --models/--method request describes (validated). `defaultMethod` is the method
 * when --method is absent: afa for generate and ensemble create, merge for `afa merge`.
 */
export function recipeFromOptions(args: CliArguments, home: string, defaultMethod: EnsembleMethod = 'afa'): Recipe {
  const members = (args.string('models') ?? '').split(',').map((part) => part.trim()).filter(Boolean).map((reference) => findModel(home, reference));
  const method = (args.string('method') ?? defaultMethod) as EnsembleMethod;
  if (!METHODS.includes(method)) throw new UserError('invalid-argument', `Unknown method '${method}'.`, `Choose one of: ${METHODS.join(', ')}.`);
  const weights = args.string('weights');
  const blocks = args.string('mbw-blocks');
  const aggregator = args.string('aggregator');
  return validateRecipe({
    name: `${method}: ${members.map((m) => m.name).join(' + ')}`,
    method,
    members: members.map((m) => ({ modelId: m.id, name: m.name, shortHash: m.shortHash })),
    ...(weights ? { weights: numberList(weights, 'weights') } : {}),
    ...(method === 'mbw' ? { mbw: { blocks: blocks ? numberList(blocks, 'mbw-blocks') : MBW_BLOCKS.map(() => 0.5), base: args.number('mbw-base') ?? 0.5 } } : {}),
    ...(aggregator ? { aggregatorId: aggregatorFor(aggregator, members.map((m) => m.id), home) } : {}),
  });
}

/** A saved recipe by id or name (case-insensitive). */
export function findRecipe(home: string, reference: string): { id: string; recipe: Recipe } {
  const library = Library.open({ home });
  try {
    const rows = library.recipes.list();
    const row = rows.find((r) => r.id === reference) ?? rows.find((r) => r.name.toLowerCase() === reference.trim().toLowerCase());
    if (!row) {
      const hint = rows.length === 0 ? 'Create one with `afa ensemble create`.' : `Saved recipes: ${rows.map((r) => r.name).join(', ')}.`;
      throw new UserError('not-found', `No saved recipe is called '${reference}'.`, hint);
    }
    return { id: row.id, recipe: validateRecipe(row.document) };
  } finally {
    library.close();
  }
}

export const recipeTargetOptions: TargetOptions = {
  options: [{ name: 'recipe', short: 'r', kind: 'string', value: '<name|id>', description: 'A saved ensemble recipe (see `afa ensemble list`)' }],
  target(args, home): GenerationTarget | undefined {
    const reference = args.string('recipe');
    if (reference === undefined) return undefined;
    const { id, recipe } = findRecipe(home, reference);
    return { kind: 'recipe', recipe, recipeId: id };
  },
};

export const inlineRecipeTargetOptions: TargetOptions = {
  options: RECIPE_BUILD_OPTIONS,
  target(args, home): GenerationTarget | undefined {
    if (!args.has('models')) {
      const stray = RECIPE_BUILD_OPTIONS.find((option) => args.has(option.name));
      if (stray) throw new UserError('invalid-argument', `--${stray.name} describes an ensemble: give its members with --models a,b,….`);
      return undefined;
    }
    return { kind: 'recipe', recipe: recipeFromOptions(args, home) };
  },
};
