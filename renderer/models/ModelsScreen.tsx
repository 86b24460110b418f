import type { Recipe } from '../../app/api/contract.ts';
import { useModels, useRecipes } from '../app/catalog.ts';
import { AggregatorPanel } from './AggregatorPanel.tsx';
import { ImportPanel } from './ImportPanel.tsx';
import { ModelList } from './ModelList.tsx';
import { RecipeList } from './RecipeList.tsx';

export function ModelsScreen({ onUseRecipe }: { onUseRecipe: (recipe: Recipe) => void }) {
  const models = useModels();
  const recipes = useRecipes();
  return (
    <div className="mx-auto flex h-full max-w-6xl flex-col gap-4 overflow-y-auto pr-1 pb-4">
      <ImportPanel />
      <ModelList models={models} />
      <RecipeList recipes={recipes} models={models.data ?? []} onUse={onUseRecipe} />
      <AggregatorPanel models={models.data ?? []} />
    </div>
  );
}
