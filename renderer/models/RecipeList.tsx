import type { ModelInfo, Recipe } from '../../app/api/contract.ts';
import type { Loaded } from '../app/use-loader.ts';
import { useStudio } from '../app/studio-context.tsx';
import { methodLabel } from '../generate/generation-form.ts';
import { Button } from '../ui/Button.tsx';
import { DemoBadge } from '../ui/DemoBadge.tsx';
import { EmptyState, ErrorNotice } from '../ui/Notice.tsx';
import { Panel } from '../ui/Panel.tsx';
import { useToasts } from '../ui/Toasts.tsx';

export function RecipeList({ recipes, models, onUse }: { recipes: Loaded<Recipe[]>; models: readonly ModelInfo[]; onUse: (recipe: Recipe) => void }) {
  const { api } = useStudio();
  const toasts = useToasts();
  const name = (id: string) => models.find((m) => m.id === id)?.name ?? `${id.slice(0, 10)}…`;
  const list = recipes.data ?? [];
  return (
    <Panel title={`Recipes${list.length ? ` (${list.length})` : ''}`}>
      {recipes.error ? <ErrorNotice error={recipes.error} /> : null}
      {recipes.data && list.length === 0 ? <EmptyState>No recipes yet — build one on the Generate screen.</EmptyState> : null}
      <ul className="flex flex-col gap-2" aria-label="Recipes">
        {list.map((recipe) => (
          <li key={recipe.id} className="flex items-center gap-3 rounded-md bg-zinc-950/50 px-3 py-2 ring-1 ring-zinc-800">
            <div className="min-w-0 flex-1">
              <p className="truncate text-sm font-medium">
                {recipe.name}
                {recipe.demo ? <DemoBadge /> : null}
              </p>
              <p className="truncate text-xs text-zinc-400">
                {methodLabel(recipe.method)} · {recipe.members.map((m) => name(m.modelId)).join(' + ')}
              </p>
            </div>
            <Button small onClick={() => onUse(recipe)}>
              Use
            </Button>
            <Button
              small
              variant="ghost"
              aria-label={`Delete recipe ${recipe.name}`}
              onClick={() => api.recipes.delete({ id: recipe.id }).catch((e: unknown) => toasts.error(e, 'Could not delete the recipe'))}
            >
              Delete
            </Button>
          </li>
        ))}
      </ul>
    </Panel>
  );
}
