// The generation engine the CLI runs jobs on: single models, and ensemble recipes through app/ensemble.
import type { Library } from '../library/library.ts';
import { GenerationEngine } from '../pipeline/generation-engine.ts';
import type { ModelRuntime } from '../pipeline/model-runtime.ts';
import { recipeModelIds, resolveRecipe } from '../ensemble/recipe-target.ts';

export function createCliEngine(library: Library, runtime: ModelRuntime): GenerationEngine {
  // No previews: a terminal cannot show them, and they cost a PNG encode per shown step.
  const engine = new GenerationEngine({ library, runtime, previewEvery: 0 });
  engine.registerTarget('recipe', (target, context) => resolveRecipe(target as { recipe: unknown; recipeId?: string }, context), (target) => recipeModelIds(target as { recipe: unknown }));
  return engine;
}
