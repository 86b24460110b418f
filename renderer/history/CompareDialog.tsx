// The same seed and prompt across the recipe and each of its members, side by side.
import { useEffect, useState } from 'react';
import type { CompareSet, GenerationRecord } from '../../app/api/contract.ts';
import { useStudio } from '../app/studio-context.tsx';
import { Dialog } from '../ui/Dialog.tsx';
import { ImageBox } from '../ui/ImageBox.tsx';
import { ErrorNotice } from '../ui/Notice.tsx';

export function CompareDialog({ initial, width, height, onClose }: { initial: CompareSet; width: number; height: number; onClose: () => void }) {
  const { api, host } = useStudio();
  const [set, setSet] = useState(initial);
  const [records, setRecords] = useState<Record<string, GenerationRecord>>({});
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => api.compare.onDidChange((changed) => changed.id === initial.id && setSet(changed)), [api, initial.id]);
  useEffect(() => {
    for (const item of set.items) {
      if (item.generationId && !records[item.generationId]) {
        const id = item.generationId;
        api.history.get({ id }).then((record) => setRecords((all) => ({ ...all, [id]: record })), setError);
      }
    }
  }, [api, set, records]);

  const columns = set.items.length <= 2 ? 'grid-cols-2' : set.items.length === 3 ? 'grid-cols-3' : 'grid-cols-4';
  return (
    <Dialog title="Compare: recipe and members" onClose={onClose} wide>
      {error ? <ErrorNotice error={error} /> : null}
      <ul className={`grid gap-4 ${columns}`} aria-label="Comparison">
        {set.items.map((item) => {
          const record = item.generationId ? records[item.generationId] : undefined;
          return (
            <li key={`${item.role}-${item.modelId ?? 'ensemble'}`} className="flex flex-col gap-2">
              <ImageBox src={record ? host.imageUrl(record.image) : undefined} alt={`${item.label}`} width={width} height={height} className="w-full">
                {!record ? (
                  <span className="absolute inset-0 flex items-center justify-center text-sm text-zinc-400">
                    {item.status === 'failed' ? 'Failed' : item.status === 'cancelled' ? 'Cancelled' : item.status === 'running' ? 'Generating…' : 'Waiting…'}
                  </span>
                ) : null}
              </ImageBox>
              <p className="text-center text-sm">
                <span className={item.role === 'ensemble' ? 'font-semibold text-accent-300' : 'text-zinc-300'}>{item.label}</span>
              </p>
            </li>
          );
        })}
      </ul>
    </Dialog>
  );
}
