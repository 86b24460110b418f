// What opening the studio found when it compared the history with the image folders: images without a
// history entry (offered for import) and entries whose image vanished (kept, shown as missing). Nothing is
// dropped silently; the person decides, or dismisses the notice.
import { useState } from 'react';
import { useStudio } from '../app/studio-context.tsx';
import { useLoader } from '../app/use-loader.ts';
import { Button } from '../ui/Button.tsx';
import { useToasts } from '../ui/Toasts.tsx';

function plural(count: number, one: string, many: string): string {
  return `${count.toLocaleString()} ${count === 1 ? one : many}`;
}

// Dismissing the missing-files note lasts for this tab, until the numbers change.
const dismissedKey = 'afa.history.reconcile-dismissed';

export function ReconcileBanner({ onImport, busy }: { onImport: (paths: readonly string[]) => Promise<void>; busy: boolean }) {
  const { api } = useStudio();
  const toasts = useToasts();
  // Deletes and restores change the missing count; additions (each batch of an import) do not, and the
  // orphan list can be long, so it is fetched again only when an import ends.
  const report = useLoader(() => api.history.reconcileReport(), [api], (reload) =>
    api.history.onDidChange((change) => {
      if (change.reason === 'delete' || change.reason === 'restore') reload();
    }),
  );
  const [dismissed, setDismissed] = useState(() => sessionStorage.getItem(dismissedKey));
  const data = report.data;
  if (!data) return null;
  const orphans = data.orphanFiles.length;
  const signature = `${orphans}:${data.missingCount}`;
  if ((orphans === 0 && data.missingCount === 0) || dismissed === signature) return null;

  const dismiss = async () => {
    try {
      if (orphans > 0) await api.history.dismissOrphans();
      sessionStorage.setItem(dismissedKey, `0:${data.missingCount}`);
      setDismissed(`0:${data.missingCount}`);
      report.reload();
    } catch (error) {
      toasts.error(error, 'Could not dismiss');
    }
  };

  return (
    <section aria-label="Studio folder check" className="flex items-start gap-3 rounded-md bg-amber-950/40 px-4 py-3 text-sm text-amber-50 ring-1 ring-amber-800/70 ring-inset">
      <div className="min-w-0 flex-1">
        {orphans > 0 ? (
          <p>
            {plural(orphans, 'image', 'images')} in the studio folder {orphans === 1 ? 'has' : 'have'} no history entry.
          </p>
        ) : null}
        {data.missingCount > 0 ? (
          <p className={orphans > 0 ? 'text-amber-200/80' : ''}>
            {plural(data.missingCount, 'history entry has', 'history entries have')} lost {data.missingCount === 1 ? 'its' : 'their'} image file; {data.missingCount === 1 ? 'it is' : 'they are'} kept and shown as missing.
          </p>
        ) : null}
      </div>
      {orphans > 0 ? (
        <Button small variant="primary" disabled={busy} onClick={() => void onImport(data.orphanFiles).then(report.reload)}>
          Import them
        </Button>
      ) : null}
      <Button small variant="ghost" onClick={dismiss}>
        Dismiss
      </Button>
    </section>
  );
}
