// Trained aggregator sets (what an AFA recipe fuses with): import a folder for chosen experts, list, delete.
import { useState } from 'react';
import type { ModelInfo } from '../../app/api/contract.ts';
import { useAggregators } from '../app/catalog.ts';
import { useStudio } from '../app/studio-context.tsx';
import { Button } from '../ui/Button.tsx';
import { DemoBadge } from '../ui/DemoBadge.tsx';
import { Field, TextInput } from '../ui/Field.tsx';
import { EmptyState, ErrorNotice } from '../ui/Notice.tsx';
import { Panel } from '../ui/Panel.tsx';
import { useToasts } from '../ui/Toasts.tsx';

export function AggregatorPanel({ models }: { models: readonly ModelInfo[] }) {
  const { api } = useStudio();
  const toasts = useToasts();
  const aggregators = useAggregators();
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [members, setMembers] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const modelName = (id: string) => models.find((m) => m.id === id)?.name ?? `${id.slice(0, 10)}…`;

  const importSet = async () => {
    setError(undefined);
    try {
      const imported = await api.aggregators.import({ path: path.trim(), name: name.trim(), memberModelIds: members });
      toasts.show(`Aggregators “${imported.name}” imported.`);
      setPath('');
      setName('');
      setMembers([]);
      aggregators.reload();
    } catch (caught) {
      setError(caught);
    }
  };

  return (
    <Panel title="Aggregators (AFA)">
      <div className="flex flex-col gap-4">
        {aggregators.error ? <ErrorNotice error={aggregators.error} /> : null}
        {aggregators.data && aggregators.data.length === 0 ? <EmptyState>No trained aggregators yet. AFA needs a set trained for its models; Feature average fuses them with equal weights instead.</EmptyState> : null}
        <ul className="flex flex-col gap-2" aria-label="Aggregator sets">
          {(aggregators.data ?? []).map((set) => (
            <li key={set.id} className="flex items-center gap-3 rounded-md bg-zinc-950/50 px-3 py-2 ring-1 ring-zinc-800">
              <div className="min-w-0 flex-1">
                <p className="truncate text-sm font-medium">
                  {set.name}
                  {set.demo ? <DemoBadge /> : null}
                </p>
                <p className="truncate text-xs text-zinc-400">
                  {set.points} aggregation points · for {set.memberModelIds.map(modelName).join(', ')}
                </p>
              </div>
              <Button small variant="ghost" aria-label={`Delete aggregators ${set.name}`} onClick={() => api.aggregators.delete({ id: set.id }).then(aggregators.reload, (e: unknown) => toasts.error(e))}>
                Delete
              </Button>
            </li>
          ))}
        </ul>
        <div className="grid grid-cols-2 gap-3">
          <Field label="Aggregator folder" hint="The official AFA layout (model_config.json, aggregator_0 … aggregator_24) or the studio's own.">
            <TextInput value={path} onChange={(e) => setPath(e.target.value)} placeholder="/path/to/afa/checkpoint" />
          </Field>
          <Field label="Aggregator name">
            <TextInput value={name} onChange={(e) => setName(e.target.value)} placeholder="Trio v1" />
          </Field>
        </div>
        <fieldset className="flex flex-wrap gap-x-4 gap-y-1">
          <legend className="mb-1 text-xs font-medium text-zinc-400">Trained for (in training order)</legend>
          {models.map((model) => (
            <label key={model.id} className="flex items-center gap-2 text-sm">
              <input
                type="checkbox"
                className="accent-accent-500"
                checked={members.includes(model.id)}
                onChange={(e) => setMembers(e.target.checked ? [...members, model.id] : members.filter((id) => id !== model.id))}
              />
              {model.name}
              {members.includes(model.id) ? <span className="text-xs text-zinc-400">#{members.indexOf(model.id) + 1}</span> : null}
            </label>
          ))}
        </fieldset>
        {error ? <ErrorNotice error={error} title="Could not import the aggregators" /> : null}
        <div>
          <Button onClick={importSet} disabled={!path.trim() || !name.trim() || members.length < 2}>
            Import aggregators
          </Button>
        </div>
      </div>
    </Panel>
  );
}
