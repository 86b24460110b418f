// Pick a saved recipe, or build one: 1 model alone, or 2–6 imported checkpoints with a method, weights and
// (for AFA) an aggregator set; the draft can be saved as a named recipe.
import { useEffect, useState } from 'react';
import type { AggregatorInfo, EnsembleMethod, ModelInfo, Recipe } from '../../app/api/contract.ts';
import type { Loaded } from '../app/use-loader.ts';
import { useStudio } from '../app/studio-context.tsx';
import { Button } from '../ui/Button.tsx';
import { Field, NumberInput, Select, TextInput } from '../ui/Field.tsx';
import { EmptyState, ErrorNotice } from '../ui/Notice.tsx';
import { Panel } from '../ui/Panel.tsx';
import { useToasts } from '../ui/Toasts.tsx';
import { draftFromSpec, methodLabel, methods, specFromDraft, usesWeights, type FormProblem, type GenerationForm, type RecipeDraft } from './generation-form.ts';

interface Props {
  form: GenerationForm;
  update: (change: Partial<GenerationForm>) => void;
  models: Loaded<ModelInfo[]>;
  recipes: Loaded<Recipe[]>;
  aggregators: Loaded<AggregatorInfo[]>;
  /** The form's problem, when it concerns this panel's fields (highlighted). */
  invalid?: FormProblem;
}

export function RecipePanel({ form, update, models, recipes, aggregators, invalid }: Props) {
  const saved = recipes.data?.find((r) => r.id === form.recipeId);
  return (
    <Panel title="Recipe">
      <div className="flex flex-col gap-3">
        <Field label="Recipe">
          <Select value={form.recipeId ?? ''} onChange={(e) => update({ recipeId: e.target.value || null })}>
            <option value="">Build a recipe…</option>
            {(recipes.data ?? []).map((recipe) => (
              <option key={recipe.id} value={recipe.id}>
                {recipe.name} — {methodLabel(recipe.method)}
              </option>
            ))}
          </Select>
        </Field>
        {recipes.error ? <ErrorNotice error={recipes.error} /> : null}
        {saved ? (
          <SavedRecipe recipe={saved} models={models.data ?? []} onEdit={() => update({ recipeId: null, draft: draftFromSpec(saved) })} />
        ) : (
          <RecipeBuilder draft={form.draft} onDraft={(draft) => update({ draft })} models={models} aggregators={aggregators} onSaved={(recipe) => update({ recipeId: recipe.id })} invalid={invalid} />
        )}
      </div>
    </Panel>
  );
}

function modelName(models: readonly ModelInfo[], id: string): string {
  return models.find((m) => m.id === id)?.name ?? `${id.slice(0, 10)}…`;
}

function SavedRecipe({ recipe, models, onEdit }: { recipe: Recipe; models: readonly ModelInfo[]; onEdit: () => void }) {
  return (
    <div className="flex items-start justify-between gap-3 rounded-md bg-zinc-950/60 p-3 text-sm ring-1 ring-zinc-800">
      <div>
        <p className="text-zinc-300">{methodLabel(recipe.method)}</p>
        <p className="text-zinc-400">{recipe.members.map((m) => modelName(models, m.modelId)).join(' + ')}</p>
      </div>
      <Button small onClick={onEdit}>
        Edit as draft
      </Button>
    </div>
  );
}

function RecipeBuilder({
  draft,
  onDraft,
  models,
  aggregators,
  onSaved,
  invalid,
}: {
  draft: RecipeDraft;
  onDraft: (draft: RecipeDraft) => void;
  models: Loaded<ModelInfo[]>;
  aggregators: Loaded<AggregatorInfo[]>;
  onSaved: (recipe: Recipe) => void;
  invalid?: FormProblem;
}) {
  const { api } = useStudio();
  const toasts = useToasts();
  const [name, setName] = useState('');
  // A change made here is the person's: the draft is no longer the studio's own pick.
  const set = (change: Partial<RecipeDraft>) => onDraft({ ...draft, autoPicked: false, ...change });
  const selected = new Map(draft.members.map((m) => [m.modelId, m.weight]));

  // Other members need another aggregator set: the one picked was trained for the previous ones.
  const toggle = (model: ModelInfo, on: boolean) => {
    if (!on) return set({ members: draft.members.filter((m) => m.modelId !== model.id), aggregatorId: '' });
    if (draft.method === 'single') return set({ members: [{ modelId: model.id, weight: 1 }] });
    // Members an image named but that are not imported give way to the models picked here.
    const known = new Set((models.data ?? []).map((m) => m.id));
    set({ members: [...draft.members.filter((m) => known.has(m.modelId)), { modelId: model.id, weight: 1 }], aggregatorId: '' });
  };
  const setMethod = (method: EnsembleMethod) => set({ method, members: method === 'single' ? draft.members.slice(0, 1) : draft.members });
  // One model alone is a single choice; with only one imported model there is nothing to choose.
  const only = models.data?.length === 1 ? models.data[0] : undefined;
  useEffect(() => {
    // Picked by the studio, so it does not count as the person having started on the form (a first start
    // installs the demo models one by one, and its recipe must still open once they are all there).
    if (draft.method === 'single' && draft.members.length === 0 && only) set({ members: [{ modelId: only.id, weight: 1 }], autoPicked: true });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [draft.method, draft.members.length, only?.id]);
  const cannotRun = draft.members.length === 0 || (draft.method === 'afa' && !draft.aggregatorId) || (draft.method !== 'single' && draft.members.length < 2);

  const save = async () => {
    try {
      const recipe = await api.recipes.save({ name: name.trim(), spec: specFromDraft(draft) });
      setName('');
      toasts.show(`Recipe “${recipe.name}” saved.`);
      onSaved(recipe);
    } catch (error) {
      toasts.error(error, 'Could not save the recipe');
    }
  };

  return (
    <div className="flex flex-col gap-3">
      <Field label="Method">
        <Select value={draft.method} onChange={(e) => setMethod(e.target.value as EnsembleMethod)}>
          {methods.map((m) => (
            <option key={m.value} value={m.value}>
              {m.label}
            </option>
          ))}
        </Select>
      </Field>
      <fieldset
        className={`flex flex-col gap-1 rounded-md ${invalid?.field === 'models' ? 'ring-2 ring-red-500' : ''}`}
        role={draft.method === 'single' ? 'radiogroup' : undefined}
        aria-label={draft.method === 'single' ? 'Model' : 'Models'}
        aria-invalid={invalid?.field === 'models' ? true : undefined}
      >
        <legend className="mb-1 text-xs font-medium text-zinc-400">{draft.method === 'single' ? 'Model' : 'Models (2–6)'}</legend>
        {models.error ? <ErrorNotice error={models.error} /> : null}
        {models.data && models.data.length === 0 ? <EmptyState>No models yet — import checkpoints on the Models screen.</EmptyState> : null}
        {(models.data ?? []).map((model) => {
          const weight = selected.get(model.id);
          return (
            <div key={model.id} className="flex h-9 items-center gap-2 rounded-md px-2 hover:bg-zinc-800/50">
              <label className="flex min-w-0 flex-1 items-center gap-2 text-sm">
                {draft.method === 'single' ? (
                  <input type="radio" name="single-model" className="accent-accent-500" checked={weight !== undefined} onChange={() => toggle(model, true)} />
                ) : (
                  <input type="checkbox" className="accent-accent-500" checked={weight !== undefined} onChange={(e) => toggle(model, e.target.checked)} />
                )}
                <span className="truncate">{model.name}</span>
              </label>
              {weight !== undefined && usesWeights(draft.method) ? (
                <NumberInput
                  aria-label={`Weight of ${model.name}`}
                  className="!w-20"
                  min={0}
                  step={0.1}
                  value={weight}
                  onValue={(value) => set({ members: draft.members.map((m) => (m.modelId === model.id ? { ...m, weight: value } : m)) })}
                />
              ) : null}
            </div>
          );
        })}
      </fieldset>
      {invalid?.field === 'models' ? <p className="text-xs text-red-300">{invalid.message}</p> : null}
      {draft.method === 'afa' ? <AggregatorPicker draft={draft} onDraft={onDraft} aggregators={aggregators} error={invalid?.field === 'aggregator' ? invalid.message : undefined} /> : null}
      {draft.method === 'mbw' ? (
        <>
          <Field label="Block weights α (IN00…IN11, M00, OUT00…OUT11)" hint="25 values in [0, 1]; θ = (1 − α)·θ₁ + α·θ₂">
            <TextInput value={draft.mbwBlocks} onChange={(e) => set({ mbwBlocks: e.target.value })} />
          </Field>
          <Field label="Base α (other keys)">
            <NumberInput min={0} max={1} step={0.05} value={draft.mbwBase} onValue={(mbwBase) => set({ mbwBase })} />
          </Field>
        </>
      ) : null}
      <div className="flex items-end gap-2">
        <Field label="Recipe name" className="flex-1">
          <TextInput value={name} onChange={(e) => setName(e.target.value)} placeholder="Portrait trio" />
        </Field>
        <Button onClick={save} disabled={!name.trim() || cannotRun} title={cannotRun ? 'Complete the recipe first: it could not run as it is.' : undefined}>
          Save recipe
        </Button>
      </div>
    </div>
  );
}

/**
 * AFA needs aggregators trained for exactly the chosen experts; their channels expect the experts in
 * training order, so picking a set puts the members in its order.
 */
function AggregatorPicker({ draft, onDraft, aggregators, error }: { draft: RecipeDraft; onDraft: (draft: RecipeDraft) => void; aggregators: Loaded<AggregatorInfo[]>; error?: string }) {
  const chosen = new Set(draft.members.map((m) => m.modelId));
  const fits = (aggregator: AggregatorInfo) => aggregator.memberModelIds.length === chosen.size && aggregator.memberModelIds.every((id) => chosen.has(id));
  const matching = (aggregators.data ?? []).filter(fits);
  const pick = (id: string) => {
    const aggregator = matching.find((a) => a.id === id);
    const members = aggregator ? aggregator.memberModelIds.map((modelId) => draft.members.find((m) => m.modelId === modelId)!) : draft.members;
    onDraft({ ...draft, aggregatorId: id, members });
  };
  // The one set trained for exactly these models is preselected (there is nothing else AFA could run with).
  const onlyFit = matching.length === 1 ? matching[0]!.id : undefined;
  useEffect(() => {
    if (onlyFit && !draft.aggregatorId) pick(onlyFit);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [onlyFit, draft.aggregatorId]);
  const hint =
    draft.members.length < 2
      ? 'Pick the models first: only aggregator sets trained for exactly those models are offered.'
      : matching.length === 0
        ? 'No aggregator set was trained for these models. Import one on the Models screen, or use Feature average (what untrained aggregators do).'
        : 'Trained SABW aggregators for exactly these models.';
  return (
    <Field label="Aggregator" hint={hint} error={error && matching.length > 0 ? error : undefined}>
      <Select value={matching.some((a) => a.id === draft.aggregatorId) ? draft.aggregatorId : ''} onChange={(e) => pick(e.target.value)} disabled={matching.length === 0}>
        <option value="">{matching.length === 0 ? 'None available' : 'Choose an aggregator set…'}</option>
        {matching.map((a) => (
          <option key={a.id} value={a.id}>
            {a.name}
          </option>
        ))}
      </Select>
    </Field>
  );
}
