// Saved recipes: app/ensemble's recipe document in the library's recipes table. Saving snapshots each
// member's name and short hash, so a recipe stays readable after a model is renamed or removed.
import { validateRecipe, type Recipe as EnsembleRecipe } from '../ensemble/recipe.ts';
import { checkRecipeCanRun } from '../ensemble/recipe-target.ts';
import type { JsonValue } from '../images/generation-settings.ts';
import type { Library } from '../library/library.ts';
import type { RecipeRow } from '../library/recipes-table.ts';
import { ApiError } from './api-error.ts';
import type { Recipe, RecipesApi, RecipeSpec, SaveRecipeRequest } from './contract.ts';
import { Emitter } from '../common/emitter.ts';

export function specOf(recipe: EnsembleRecipe): RecipeSpec {
  const { version: _version, name: _name, ...spec } = recipe;
  return spec;
}

export function recipeOf(row: RecipeRow, demo = false): Recipe {
  const document = validateRecipe(row.document);
  return {
    ...specOf(document),
    id: row.id,
    name: row.name,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
    ...(demo ? { demo } : {}),
  };
}

/** The ensemble's recipe document for a spec, with member names and hashes from the catalog. */
export function recipeDocument(library: Library, name: string, spec: RecipeSpec): EnsembleRecipe {
  const members = spec.members.map((member) => {
    const model = library.models.get(member.modelId);
    if (!model) throw new ApiError('not-found', `The recipe uses a model that is not imported (${member.modelId.slice(0, 12)}…).`, 'Import it again or pick another model.');
    return { modelId: member.modelId, name: model.name, shortHash: model.shortHash };
  });
  const recipe = validateRecipe({ ...spec, members, version: 1, name });
  // A recipe that could never run is not saved (an AFA recipe without aggregators for its members).
  checkRecipeCanRun(library.home, recipe);
  return recipe;
}

export class RecipesService implements RecipesApi {
  readonly #library: Library;
  readonly #changed = new Emitter<{ reason: 'save' | 'delete' }>();
  readonly onDidChange = this.#changed.event;

  constructor(library: Library) {
    this.#library = library;
  }

  async list(): Promise<Recipe[]> {
    const demo = this.#library.demoItems.installed('recipe');
    return this.#library.recipes.list().map((row) => recipeOf(row, demo.has(row.id)));
  }

  async get(request: { id: string }): Promise<Recipe> {
    const row = this.#library.recipes.get(request.id);
    if (!row) throw new ApiError('not-found', `There is no recipe ${request.id}.`);
    return recipeOf(row, this.#library.demoItems.installed('recipe').has(row.id));
  }

  /** Another service saved a recipe (the demo install): the list changed. */
  announce(reason: 'save' | 'delete'): void {
    this.#changed.fire({ reason });
  }

  async save(request: SaveRecipeRequest): Promise<Recipe> {
    const document = recipeDocument(this.#library, request.name, request.spec) as unknown as JsonValue;
    const row = request.id
      ? this.#library.recipes.update(request.id, { name: request.name, document })
      : this.#library.recipes.insert(request.name, document);
    this.#changed.fire({ reason: 'save' });
    return recipeOf(row, this.#library.demoItems.installed('recipe').has(row.id));
  }

  async delete(request: { id: string }): Promise<void> {
    if (!this.#library.recipes.remove(request.id)) throw new ApiError('not-found', `There is no recipe ${request.id}.`);
    // The demo recipe, once deleted, is never set up again.
    this.#library.demoItems.markRemoved('recipe', request.id);
    this.#changed.fire({ reason: 'delete' });
  }
}
