// History: every generation as a virtualized grid of thumbnails, with search and filters (method, model,
// date range, favourites); a click opens the detail view (settings, reuse, favourite, compare, contribution
// map, delete with undo). Checkboxes select images for export or delete. Images from other tools come in
// through "Import images…" or by dropping them on the screen, and what the studio-folder check found at
// start-up is offered in a banner.
import { useCallback, useEffect, useRef, useState, type DragEvent } from 'react';
import type { CompareSet, EnsembleMethod, GenerationRecord, GenerationSummary } from '../../app/api/contract.ts';
import { useModels } from '../app/catalog.ts';
import { useDebounced } from '../app/use-debounced.ts';
import { useStudio } from '../app/studio-context.tsx';
import { methods } from '../generate/generation-form.ts';
import { Button } from '../ui/Button.tsx';
import { Field, Select, TextInput } from '../ui/Field.tsx';
import { EmptyState, ErrorNotice } from '../ui/Notice.tsx';
import { ProgressBar } from '../ui/ProgressBar.tsx';
import { useToasts } from '../ui/Toasts.tsx';
import { CompareDialog } from './CompareDialog.tsx';
import { DetailDialog } from './DetailDialog.tsx';
import { HistoryCell } from './HistoryCell.tsx';
import { rememberHistoryFocus } from './history-focus.ts';
import { useHistoryImports } from './history-imports.ts';
import { useHistoryPages } from './history-pages.ts';
import { ReconcileBanner } from './ReconcileBanner.tsx';
import { SelectionBar } from './SelectionBar.tsx';
import { VirtualGrid } from './VirtualGrid.tsx';

interface Props {
  openId: string | null;
  onOpen: (id: string | null) => void;
  onUseSettings: (record: GenerationRecord) => void;
}

/** A date input's 'YYYY-MM-DD' as the instant that local day starts (plus `days`), ISO 8601. */
function dayStart(day: string, days = 0): string {
  const [year, month, date] = day.split('-').map(Number) as [number, number, number];
  return new Date(year, month - 1, date + days).toISOString();
}

function hasFiles(event: DragEvent): boolean {
  return event.dataTransfer.types.includes('Files');
}

export function HistoryScreen({ openId, onOpen, onUseSettings }: Props) {
  const { api } = useStudio();
  const toasts = useToasts();
  const models = useModels();
  const imports = useHistoryImports();
  const [text, setText] = useState('');
  const [favouritesOnly, setFavouritesOnly] = useState(false);
  const [method, setMethod] = useState<EnsembleMethod | ''>('');
  const [modelId, setModelId] = useState('');
  const [fromDay, setFromDay] = useState('');
  const [toDay, setToDay] = useState('');
  const [compare, setCompare] = useState<{ set: CompareSet; width: number; height: number } | null>(null);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [anchor, setAnchor] = useState<string | null>(null);
  const [dropping, setDropping] = useState(false);
  const picker = useRef<HTMLInputElement>(null);
  const search = useDebounced(text.trim(), 200);
  const pages = useHistoryPages({
    ...(search ? { text: search } : {}),
    ...(favouritesOnly ? { favouritesOnly } : {}),
    ...(method ? { method } : {}),
    ...(modelId ? { modelId } : {}),
    // The "to" day is included: the range ends where the following day starts.
    ...(fromDay ? { from: dayStart(fromDay) } : {}),
    ...(toDay ? { to: dayStart(toDay, 1) } : {}),
  });
  const { need } = pages;
  const onVisible = useCallback((_first: number, last: number) => need(last), [need]);
  const filtered = Boolean(search || method || modelId || favouritesOnly || fromDay || toDay);
  // The Train screen offers this search and this selection as a dataset.
  // (The words as typed, not the debounced search: leaving right after typing keeps them.)
  useEffect(() => rememberHistoryFocus({ text: text.trim(), favouritesOnly, selectedIds: [...selected] }), [text, favouritesOnly, selected]);

  // Images deleted elsewhere (the detail view, another window) leave the selection.
  useEffect(
    () =>
      api.history.onDidChange((change) => {
        if (change.reason !== 'delete') return;
        setSelected((current) => {
          if (!change.ids.some((id) => current.has(id))) return current;
          const next = new Set(current);
          for (const id of change.ids) next.delete(id);
          return next;
        });
      }),
    [api],
  );

  // Escape clears the selection (a dialog stops Escape for itself first).
  useEffect(() => {
    if (selected.size === 0) return undefined;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape' && !event.defaultPrevented) setSelected(new Set());
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [selected.size]);

  const select = (item: GenerationSummary, range: boolean) => {
    const next = new Set(selected);
    const from = anchor === null ? -1 : pages.items.findIndex((i) => i.id === anchor);
    const to = pages.items.findIndex((i) => i.id === item.id);
    if (range && from >= 0 && to >= 0) {
      for (let index = Math.min(from, to); index <= Math.max(from, to); index++) next.add(pages.items[index]!.id);
    } else if (next.has(item.id)) next.delete(item.id);
    else next.add(item.id);
    setAnchor(item.id);
    setSelected(next);
  };

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

  const neighbours = (id: string): { onPrevious?: () => void; onNext?: () => void } => {
    const index = pages.items.findIndex((item) => item.id === id);
    if (index < 0) return {};
    const previous = pages.items[index - 1];
    const next = pages.items[index + 1];
    if (index + 2 >= pages.items.length) need(index + 2);
    return { ...(previous ? { onPrevious: () => onOpen(previous.id) } : {}), ...(next ? { onNext: () => onOpen(next.id) } : {}) };
  };

  const renderCell = (item: GenerationSummary | undefined) =>
    item ? (
      <HistoryCell item={item} selected={selected.has(item.id)} selecting={selected.size > 0} onOpen={() => onOpen(item.id)} onSelect={({ range }) => select(item, range)} />
    ) : (
      <div className="h-full w-full animate-pulse rounded-md bg-zinc-900" />
    );

  return (
    <div
      className="relative flex h-full min-h-0 flex-col gap-3"
      onDragOver={(event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        setDropping(true);
      }}
      onDragLeave={(event) => {
        if (event.currentTarget === event.target || !event.currentTarget.contains(event.relatedTarget as Node | null)) setDropping(false);
      }}
      onDrop={(event) => {
        if (!hasFiles(event)) return;
        event.preventDefault();
        setDropping(false);
        void imports.importFiles(Array.from(event.dataTransfer.files));
      }}
    >
      <div className="flex flex-wrap items-end gap-3">
        <Field label="Search history" className="w-96">
          <TextInput type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Prompt, model, recipe or tag" />
        </Field>
        <div className="ml-auto flex items-center gap-3 pb-0.5">
          <span className="text-sm text-zinc-400 tabular-nums" role="status">
            {pages.total} {pages.total === 1 ? 'image' : 'images'}
          </span>
          <Button onClick={() => picker.current?.click()} disabled={imports.running !== null} title="PNG, JPEG or WebP images, with the settings of AFA Studio, AUTOMATIC1111, Forge, ComfyUI, InvokeAI, NovelAI, Fooocus, SwarmUI and others; or drop them here">
            Import images…
          </Button>
          <input
            ref={picker}
            type="file"
            aria-label="Images to import"
            accept="image/png,image/jpeg,image/webp,.png,.jpg,.jpeg,.webp"
            multiple
            className="hidden"
            onChange={(event) => {
              void imports.importFiles(Array.from(event.target.files ?? []));
              event.target.value = '';
            }}
          />
        </div>
      </div>
      <div className="flex flex-wrap items-end gap-3">
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
        <Field label="From" className="w-40">
          <TextInput type="date" value={fromDay} max={toDay || undefined} onChange={(e) => setFromDay(e.target.value)} />
        </Field>
        <Field label="To" className="w-40">
          <TextInput type="date" value={toDay} min={fromDay || undefined} onChange={(e) => setToDay(e.target.value)} />
        </Field>
        <label className="flex items-center gap-2 pb-2 text-sm text-zinc-300">
          <input type="checkbox" className="accent-accent-500" checked={favouritesOnly} onChange={(e) => setFavouritesOnly(e.target.checked)} />
          Favourites only
        </label>
      </div>
      <ReconcileBanner onImport={imports.importOrphans} busy={imports.running !== null} />
      {imports.running ? (
        <div className="flex items-center gap-3 rounded-md bg-zinc-900 px-4 py-2 text-sm ring-1 ring-zinc-800">
          <span className="min-w-0 flex-1 truncate text-zinc-300">
            {imports.running.label} · {imports.running.done} of {imports.running.total}
          </span>
          <div className="w-64">
            <ProgressBar label="Image import progress" value={imports.running.done} max={imports.running.total} />
          </div>
        </div>
      ) : null}
      {imports.skipped.length > 0 ? (
        <div role="alert" className="flex items-start gap-3 rounded-md bg-red-950/50 px-4 py-2 text-sm text-red-100 ring-1 ring-red-900 ring-inset">
          <div className="min-w-0 flex-1">
            <p className="font-semibold">
              {imports.skipped.length} {imports.skipped.length === 1 ? 'file was' : 'files were'} not imported
            </p>
            <ul className="max-h-24 overflow-y-auto text-red-200/80">
              {imports.skipped.map((skip) => (
                <li key={skip.file} className="truncate">
                  {skip.reason}
                </li>
              ))}
            </ul>
          </div>
          <Button small variant="ghost" onClick={imports.dismissSkipped}>
            Dismiss
          </Button>
        </div>
      ) : null}
      {selected.size > 0 ? (
        <SelectionBar
          ids={[...selected]}
          loadedCount={pages.items.length}
          total={pages.total}
          onSelectAll={() => setSelected(new Set(pages.items.map((i) => i.id)))}
          onClear={() => setSelected(new Set())}
          onUseSettings={onUseSettings}
          onCompare={startCompare}
          canCompare={selected.size === 1 && pages.items.find((i) => selected.has(i.id))?.method !== 'single'}
        />
      ) : null}
      {pages.error ? <ErrorNotice error={pages.error} /> : null}
      {!pages.loading && !pages.error && pages.total === 0 ? (
        <EmptyState>{filtered ? 'Nothing matches these filters.' : 'No images yet. Generate something, or import images from another tool.'}</EmptyState>
      ) : null}
      <div className="min-h-0 flex-1">
        <VirtualGrid items={pages.items} total={pages.total} minCellSize={168} label="Generations" keyOf={(item) => item.id} renderCell={renderCell} onVisible={onVisible} />
      </div>
      {dropping ? (
        <div className="pointer-events-none absolute inset-0 z-30 flex items-center justify-center rounded-lg border-2 border-dashed border-accent-400 bg-zinc-950/80 text-base text-zinc-100">
          Drop images (PNG, JPEG, WebP) to import them into history
        </div>
      ) : null}
      {openId ? (
        <DetailDialog
          id={openId}
          onClose={() => onOpen(null)}
          onUseSettings={onUseSettings}
          onDelete={remove}
          onCompare={startCompare}
          // Previous/next in the grid's order (← and → keys too); the next page loads when the end is near.
          {...neighbours(openId)}
        />
      ) : null}
      {compare ? <CompareDialog initial={compare.set} width={compare.width} height={compare.height} onClose={() => setCompare(null)} /> : null}
    </div>
  );
}
