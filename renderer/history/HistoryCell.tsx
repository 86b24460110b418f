// One thumbnail of the history grid: opens the detail view; its checkbox (or Ctrl/Cmd-click, Shift for a
// range) selects it for export or delete. An entry whose image file vanished shows a placeholder.
import type { MouseEvent } from 'react';
import type { GenerationSummary } from '../../app/api/contract.ts';
import { useStudio } from '../app/studio-context.tsx';

interface Props {
  item: GenerationSummary;
  selected: boolean;
  /** Selection is active: checkboxes stay visible. */
  selecting: boolean;
  onOpen: () => void;
  onSelect: (options: { range: boolean }) => void;
}

export function HistoryCell({ item, selected, selecting, onOpen, onSelect }: Props) {
  const { host } = useStudio();
  const label = item.prompt.slice(0, 80) || '(no prompt)';
  const click = (event: MouseEvent) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey) {
      event.preventDefault();
      onSelect({ range: event.shiftKey });
    } else onOpen();
  };
  return (
    <div className={`group relative h-full w-full overflow-hidden rounded-md bg-zinc-900 ring-zinc-800 ${selected ? 'ring-2 ring-accent-400' : 'ring-1'}`}>
      <button type="button" onClick={click} aria-label={`Open generation: ${label}`} className="block h-full w-full hover:brightness-110 focus-visible:outline-offset-[-2px]">
        {item.missing ? (
          <span className="flex h-full w-full flex-col items-center justify-center gap-1 bg-[repeating-linear-gradient(45deg,var(--color-zinc-900)_0_8px,var(--color-zinc-950)_8px_16px)] px-3 text-center">
            <span aria-hidden="true" className="text-2xl text-zinc-600">⌀</span>
            <span className="text-xs font-medium text-amber-300">Image missing</span>
            <span className="line-clamp-2 text-[11px] text-zinc-400">{label}</span>
          </span>
        ) : (
          <img src={host.imageUrl(item.thumbnail)} alt="" loading="lazy" decoding="async" className="h-full w-full object-cover" />
        )}
      </button>
      <label
        className={`absolute top-1.5 left-1.5 flex h-6 w-6 items-center justify-center rounded bg-black/60 ${selected || selecting ? 'opacity-100' : 'opacity-0 group-hover:opacity-100 focus-within:opacity-100'}`}
      >
        <input
          type="checkbox"
          aria-label={`Select: ${label}`}
          className="h-4 w-4 accent-accent-500"
          checked={selected}
          // A checkbox's change comes from a click event (a key press makes one too), which carries Shift.
          onChange={(event) => onSelect({ range: (event.nativeEvent as globalThis.MouseEvent).shiftKey === true })}
        />
      </label>
      {item.favourite ? <span className="pointer-events-none absolute top-1.5 right-1.5 text-amber-300 drop-shadow" aria-label="Favourite">★</span> : null}
      {item.method !== 'single' ? (
        <span className="pointer-events-none absolute bottom-1.5 left-1.5 rounded bg-black/70 px-1.5 py-0.5 text-[10px] font-semibold tracking-wide text-accent-300 uppercase">{item.method}</span>
      ) : null}
    </div>
  );
}
