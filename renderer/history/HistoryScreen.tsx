// History: every generation as a virtualized grid of thumbnails, with search and filters; a click opens
// the detail view (settings, reuse, favourite, compare, contribution map, export, delete with undo).
import { useCallback, useEffect, useState } from 'react';
import type { CompareSet, EnsembleMethod, GenerationRecord, GenerationSummary } from '../../app/api/contract.ts';
import { useModels } from '../app/catalog.ts';
import { useStudio } from '../app/studio-context.tsx';
import { methods } from '../generate/generation-form.ts';
import { Field, Select, TextInput } from '../ui/Field.tsx';
import { EmptyState, ErrorNotice } from '../ui/Notice.tsx';
import { useToasts } from '../ui/Toasts.tsx';
import { CompareDialog } from './CompareDialog.tsx';
import { DetailDialog } from './DetailDialog.tsx';
import { useHistoryPages } from './history-pages.ts';
import { VirtualGrid } from './VirtualGrid.tsx';

function useDebounced<T>(value: T, delayMs: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return debounced;
}

interface Props {
  openId: string | null;
  onOpen: (id: string | null) => void;
  onUseSettings: (record: GenerationRecord) => void;
}

export function HistoryScreen({ openId, onOpen, onUseSettings }: Props) {
  const { api, host } = useStudio();
  const toasts = useToasts();
  const models = useModels();
  const [text, setText] = useState('');
  const [favouritesOnly, setFavouritesOnly] = useState(false);
  const [method, setMethod] = useState<EnsembleMethod | ''>('');
  const [modelId, setModelId] = useState('');
  const [compare, setCompare] = useState<{ set: CompareSet; width: number; height: number } | null>(null);
  const search = useDebounced(text.trim(), 200);
  const pages = useHistoryPages({
    ...(search ? { text: search } : {}),
    ...(favouritesOnly ? { favouritesOnly } : {}),
    ...(method ? { method } : {}),
    ...(modelId ? { modelId } : {}),
  });
  const { need } = pages;
  const onVisible = useCallback((_first: number, last: number) => need(last), [need]);

  const remove = async (record: GenerationRecord) => {
    try {
      const { undoToken } = await api.history.delete({ ids: [record.id] });
      onOpen(null);
      toasts.show('Deleted 1 image.', { action: { label: 'Undo', run: () => api.history.undo({ undoToken }).catch((e: unknown) => toasts.error(e, 'Could not undo')) } });
    } catch (error) {
      toasts.error(error, 'Could not delete');
    }
  };

  const startCompare = async (record: GenerationRecord) => {
    try {
      const set = await api.compare.enqueue({ generationId: record.id });
      onOpen(null);
      setCompare({ set, width: record.width, height: record.height });
    } catch (error) {
      toasts.error(error, 'Could not start the comparison');
    }
  };

  const renderCell = (item: GenerationSummary | undefined) =>
    item ? (
      <button
        type="button"
        onClick={() => onOpen(item.id)}
        aria-label={`Open generation: ${item.prompt.slice(0, 80) || '(no prompt)'}`}
        className="group relative block h-full w-full overflow-hidden rounded-md bg-zinc-900 ring-1 ring-zinc-800 hover:ring-accent-500"
      >
        <img src={host.imageUrl(item.thumbnail)} alt="" loading="lazy" decoding="async" className="h-full w-full object-cover" />
        {item.favourite ? <span className="absolute top-1.5 right-1.5 text-amber-300 drop-shadow" aria-label="Favourite">★</span> : null}
        {item.method !== 'single' ? <span className="absolute bottom-1.5 left-1.5 rounded bg-black/70 px-1.5 py-0.5 text-[10px] font-semibold tracking-wide text-accent-300 uppercase">{item.method}</span> : null}
      </button>
    ) : (
      <div className="h-full w-full animate-pulse rounded-md bg-zinc-900" />
    );

  return (
    <div className="flex h-full min-h-0 flex-col gap-3">
      <div className="flex flex-wrap items-end gap-3">
        <Field label="Search history" className="w-80">
          <TextInput type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Prompt, model, recipe or tag" />
        </Field>
        <Field label="Method" className="w-56">
          <Select value={method} onChange={(e) => setMethod(e.target.value as EnsembleMethod | '')}>
            <option value="">All methods</option>
            {methods.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </Select>
        </Field>
        <Field label="Model" className="w-56">
          <Select value={modelId} onChange={(e) => setModelId(e.target.value)}>
            <option value="">All models</option>
            {(models.data ?? []).map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </Select>
        </Field>
        <label className="flex items-center gap-2 pb-2 text-sm text-zinc-300">
          <input type="checkbox" className="accent-accent-500" checked={favouritesOnly} onChange={(e) => setFavouritesOnly(e.target.checked)} />
          Favourites only
        </label>
        <span className="ml-auto pb-2 text-sm text-zinc-500 tabular-nums" role="status">
          {pages.total} {pages.total === 1 ? 'image' : 'images'}
        </span>
      </div>
      {pages.error ? <ErrorNotice error={pages.error} /> : null}
      {!pages.loading && !pages.error && pages.total === 0 ? <EmptyState>{search || method || modelId || favouritesOnly ? 'Nothing matches these filters.' : 'No images yet. Generate something!'}</EmptyState> : null}
      <div className="min-h-0 flex-1">
        <VirtualGrid items={pages.items} total={pages.total} minCellSize={168} label="Generations" keyOf={(item) => item.id} renderCell={renderCell} onVisible={onVisible} />
      </div>
      {openId ? (
        <DetailDialog id={openId} onClose={() => onOpen(null)} onUseSettings={onUseSettings} onDelete={remove} onCompare={startCompare} />
      ) : null}
      {compare ? <CompareDialog initial={compare.set} width={compare.width} height={compare.height} onClose={() => setCompare(null)} /> : null}
    </div>
  );
}
