import { useState } from 'react';
import type { ModelInfo } from '../../app/api/contract.ts';
import { formatBytes, formatDate } from '../app/catalog.ts';
import type { Loaded } from '../app/use-loader.ts';
import { useStudio } from '../app/studio-context.tsx';
import { Button } from '../ui/Button.tsx';
import { DemoBadge } from '../ui/DemoBadge.tsx';
import { EmptyState, ErrorNotice } from '../ui/Notice.tsx';
import { Panel } from '../ui/Panel.tsx';
import { useToasts } from '../ui/Toasts.tsx';

export function ModelList({ models }: { models: Loaded<ModelInfo[]> }) {
  const { api } = useStudio();
  const toasts = useToasts();
  const [confirming, setConfirming] = useState<string | null>(null);
  const remove = async (model: ModelInfo) => {
    setConfirming(null);
    try {
      await api.models.delete({ id: model.id });
      toasts.show(`Deleted ${model.name}.`);
    } catch (error) {
      toasts.error(error, `Could not delete ${model.name}`);
    }
  };
  const list = models.data ?? [];
  return (
    <Panel title={`Models${list.length ? ` (${list.length})` : ''}`}>
      {models.error ? <ErrorNotice error={models.error} /> : null}
      {models.data && list.length === 0 ? <EmptyState>No models imported yet.</EmptyState> : null}
      {list.length > 0 ? (
        <table className="w-full table-fixed text-left text-sm" aria-label="Imported models">
          <thead className="text-xs text-zinc-400">
            <tr>
              <th className="w-[26%] pb-2 font-medium">Name</th>
              <th className="w-[12%] pb-2 font-medium">Architecture</th>
              <th className="w-[9%] pb-2 font-medium">Precision</th>
              <th className="w-[10%] pb-2 font-medium">Size</th>
              <th className="w-[17%] pb-2 font-medium">SHA-256</th>
              <th className="w-[14%] pb-2 font-medium">Imported</th>
              <th className="w-[12%] pb-2" />
            </tr>
          </thead>
          <tbody>
            {list.map((model) => (
              <tr key={model.id} className="border-t border-zinc-800/80">
                <td className="truncate py-2 pr-2 font-medium" title={model.sourceName}>
                  {model.name}
                  {model.demo ? <DemoBadge /> : null}
                </td>
                <td className="py-2 text-zinc-400">{model.architecture}</td>
                <td className="py-2 text-zinc-400" title={model.sourcePrecision === model.precision ? undefined : `Stored in ${model.precision}; the file is ${model.sourcePrecision}`}>
                  {model.precision}
                </td>
                <td className="py-2 text-zinc-400 tabular-nums">{formatBytes(model.sizeBytes)}</td>
                <td className="truncate py-2 pr-2 font-mono text-xs text-zinc-400" title={model.sha256}>
                  {model.sha256.slice(0, 12)}…
                </td>
                <td className="py-2 text-xs text-zinc-400">{formatDate(model.importedAt)}</td>
                <td className="py-2 text-right">
                  {confirming === model.id ? (
                    <Button small variant="danger" onClick={() => remove(model)}>
                      Confirm delete
                    </Button>
                  ) : (
                    <Button small variant="ghost" aria-label={`Delete ${model.name}`} onClick={() => setConfirming(model.id)}>
                      Delete
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Panel>
  );
}
