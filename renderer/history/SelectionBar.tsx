// What can be done with the selected images: favourite them, add a tag, compare or reuse one, export them
// (PNGs with their settings as JSON and CSV), or delete them to the studio trash (with undo).
import { useState } from 'react';
import type { GenerationRecord } from '../../app/api/contract.ts';
import { useStudio } from '../app/studio-context.tsx';
import { Button } from '../ui/Button.tsx';
import { useToasts } from '../ui/Toasts.tsx';

interface Props {
  ids: readonly string[];
  /** Images loaded in the grid (the next pages load as it scrolls) and matching in all. */
  loadedCount: number;
  total: number;
  onSelectAll: () => void;
  onClear: () => void;
  /** One image selected: use its settings on the Generate screen, or compare it with its members. */
  onUseSettings: (record: GenerationRecord) => void;
  onCompare: (record: GenerationRecord) => void;
  canCompare: boolean;
}

export function SelectionBar({ ids, loadedCount, total, onSelectAll, onClear, onUseSettings, onCompare, canCompare }: Props) {
  const { api, host } = useStudio();
  const toasts = useToasts();
  const [busy, setBusy] = useState(false);
  const count = ids.length;
  const images = (n: number) => `${n} ${n === 1 ? 'image' : 'images'}`;

  const exportSelection = async () => {
    // The desktop app asks where; web mode writes below the studio home (the browser cannot name a folder).
    const directory = host.pickDirectory ? await host.pickDirectory() : undefined;
    if (directory === null) return;
    setBusy(true);
    try {
      const result = await api.history.export({ ids: [...ids], ...(directory ? { directory } : {}) });
      const settings = result.settingsFiles.map((file) => file.slice(Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1)).join(' and ');
      toasts.show(`Exported ${images(result.files.length)} with ${settings} to ${result.directory}`, {
        ...(result.skipped.length > 0 ? { detail: `${images(result.skipped.length)} skipped: ${result.skipped[0]!.reason}.` } : {}),
        durationMs: 10_000,
      });
    } catch (error) {
      toasts.error(error, 'Could not export');
    } finally {
      setBusy(false);
    }
  };

  const [tag, setTag] = useState('');
  /** Runs `change` on every selected image's record, then says what happened. */
  const each = async (label: string, change: (record: GenerationRecord) => Promise<unknown>, done: string) => {
    setBusy(true);
    try {
      for (const id of ids) await change(await api.history.get({ id }));
      toasts.show(done);
    } catch (error) {
      toasts.error(error, label);
    } finally {
      setBusy(false);
    }
  };
  const favourite = () => each('Could not favourite', (record) => api.history.setFavourite({ id: record.id, favourite: true }), `Added ${images(count)} to favourites.`);
  const addTag = () => {
    const text = tag.trim();
    if (!text) return;
    void each(
      'Could not tag',
      (record) => (record.tags.includes(text) ? Promise.resolve() : api.history.tag({ id: record.id, tags: [...record.tags, text] })),
      `Tagged ${images(count)} “${text}”.`,
    ).then(() => setTag(''));
  };
  const withOne = async (use: (record: GenerationRecord) => void) => {
    try {
      use(await api.history.get({ id: ids[0]! }));
    } catch (error) {
      toasts.error(error);
    }
  };

  const remove = async () => {
    setBusy(true);
    try {
      const { undoToken } = await api.history.delete({ ids: [...ids] });
      onClear();
      toasts.show(`Deleted ${images(count)}.`, { action: { label: 'Undo', run: () => api.history.undo({ undoToken }).catch((e: unknown) => toasts.error(e, 'Could not undo')) } });
    } catch (error) {
      toasts.error(error, 'Could not delete');
    } finally {
      setBusy(false);
    }
  };

  return (
    <div role="toolbar" aria-label="Selection" className="flex items-center gap-2 rounded-md bg-accent-600/15 px-3 py-2 text-sm ring-1 ring-accent-600/40 ring-inset">
      <span className="font-medium tabular-nums">{count} selected</span>
      {loadedCount > count ? (
        <Button small variant="ghost" onClick={onSelectAll}>
          {loadedCount === total ? `Select all ${total}` : `Select the ${loadedCount} loaded`}
        </Button>
      ) : null}
      <span className="ml-auto" />
      <Button small disabled={busy} onClick={favourite}>
        Favourite
      </Button>
      <form
        className="flex items-center gap-1"
        onSubmit={(event) => {
          event.preventDefault();
          addTag();
        }}
      >
        <input
          aria-label="Tag for the selected images"
          value={tag}
          onChange={(event) => setTag(event.target.value)}
          placeholder="tag"
          className="w-24 rounded-md bg-zinc-900 px-2 py-1 text-sm ring-1 ring-zinc-700 ring-inset"
        />
        <Button small type="submit" disabled={busy || !tag.trim()}>
          Add tag
        </Button>
      </form>
      {count === 1 ? (
        <>
          <Button small disabled={busy || !canCompare} title={canCompare ? undefined : 'Compare works on ensemble images'} onClick={() => void withOne(onCompare)}>
            Compare
          </Button>
          <Button small disabled={busy} onClick={() => void withOne(onUseSettings)}>
            Use settings
          </Button>
        </>
      ) : null}
      <Button small disabled={busy} onClick={exportSelection}>
        Export…
      </Button>
      <Button small variant="danger" disabled={busy} onClick={remove}>
        Delete
      </Button>
      <Button small variant="ghost" onClick={onClear}>
        Clear selection
      </Button>
    </div>
  );
}
