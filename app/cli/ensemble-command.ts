// `afa ensemble create|list|show|delete`: saved recipes (the same documents the studio's UI edits).
import { UserError } from '../common/errors.ts';
import { recipeDocument, recipeOf } from '../api/recipes-service.ts';
import type { JsonValue } from '../images/generation-settings.ts';
import { Library } from '../library/library.ts';
import type { CliCommand } from './cli-command.ts';
import { EXIT_OK } from './exit-codes.ts';
import { findRecipe, RECIPE_BUILD_OPTIONS, recipeFromOptions } from './recipe-options.ts';

const ACTIONS = ['create', 'list', 'show', 'delete'] as const;

export const ensembleCommand: CliCommand = {
  name: 'ensemble',
  setsUpDemo: true,
  writesHome: true,
  summary: 'Create, list, show and delete ensemble recipes',
  usage: 'afa ensemble create <name> --models a,b,c [--method afa] [recipe options] | list | show <name> | delete <name>',
  description: [
    'A recipe names 2–6 imported models and how they are combined: afa (trained SABW aggregators),',
    'feature-average, output-average, merge (weighted), mbw (merge block weighted, 2 models) or',
    'magicfusion (2 models). Running a recipe never writes a merged checkpoint; `afa merge` exports one.',
  ].join('\n'),
  options: RECIPE_BUILD_OPTIONS,
  examples: [
    'afa ensemble create "My trio" --models dreamshaper,realistic,anything --method afa --aggregator ./afa-run',
    'afa ensemble create "Half half" --models a1b2c3,d4e5f6 --method merge --weights 1,1',
    'afa ensemble list',
    'afa ensemble show "My trio" --json',
  ],
  async run(args, context) {
    const [action, ...rest] = args.positionals;
    if (!ACTIONS.includes(action as (typeof ACTIONS)[number])) {
      throw new UserError('invalid-argument', `afa ensemble needs one of: ${ACTIONS.join(', ')}.`, "Run 'afa ensemble --help' for the usage.");
    }
    const write = (human: string, json: unknown) => context.io.stdout.write(context.json ? `${JSON.stringify({ ok: true, ...(json as object) }, null, 2)}\n` : `${human}\n`);
    const library = Library.open({ home: context.home });
    try {
      if (action === 'list') {
        const demo = library.demoItems.installed('recipe');
        const recipes = library.recipes.list().map((row) => recipeOf(row, demo.has(row.id)));
        const lines = recipes.map((r) => `${r.id}  ${r.name}  (${r.method}: ${r.members.map((m) => m.name ?? m.modelId.slice(0, 10)).join(', ')})${r.demo ? '  [demo]' : ''}`);
        write(lines.length > 0 ? lines.join('\n') : 'No recipes yet. Create one with `afa ensemble create <name> --models a,b --method afa`.', { recipes });
        return EXIT_OK;
      }
      const name = rest.join(' ').trim();
      if (!name) throw new UserError('invalid-argument', `afa ensemble ${action} needs a recipe name.`);
      if (action === 'create') {
        if (library.recipes.list().some((row) => row.name.toLowerCase() === name.toLowerCase())) {
          throw new UserError('conflict', `A recipe called '${name}' exists already.`, 'Pick another name, or delete the old one first.');
        }
        const { version: _version, name: _name, ...spec } = recipeFromOptions(args, context.home);
        const row = library.recipes.insert(name, recipeDocument(library, name, spec) as unknown as JsonValue);
        write(`Saved recipe '${name}' (${row.id}).`, { recipe: recipeOf(row) });
        return EXIT_OK;
      }
      const { id } = findRecipe(context.home, name);
      if (action === 'show') {
        const recipe = recipeOf(library.recipes.get(id)!);
        write(JSON.stringify(recipe, null, 2), { recipe });
        return EXIT_OK;
      }
      library.recipes.remove(id);
      // As on the Models screen: a deleted demo recipe is never set up again.
      library.demoItems.markRemoved('recipe', id);
      write(`Deleted recipe '${name}'.`, { deleted: id });
      return EXIT_OK;
    } finally {
      library.close();
    }
  },
};
