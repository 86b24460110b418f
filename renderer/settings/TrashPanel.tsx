// The studio trash: deleted images wait here (History's Undo brings them back) until it is emptied.
// Emptying asks once more, inline, because it cannot be undone.
import { useState } from 'react';
import { useStudio } from '../app/studio-context.tsx';
import { useLoader } from '../app/use-loader.ts';
import { Button } from '../ui/Button.tsx';
import { ErrorNotice } from '../ui/Notice.tsx';
import { Panel } from '../ui/Panel.tsx';
import { useToasts } from '../ui/Toasts.tsx';

export function TrashPanel() {
  const { api } = useStudio();
  const toasts = useToasts();
  const trash = useLoader(() => api.history.trashInfo(), [api], (reload) => api.history.onDidChange(reload));
  const [confirming, setConfirming] = useState(false);
  const count = trash.data?.count ?? 0;
  const images = `${count} ${count === 1 ? 'image' : 'images'}`;

  const empty = async () => {
    try {
      const { removed } = await api.history.emptyTrash();
      toasts.show(`Deleted ${removed} ${removed === 1 ? 'image' : 'images'} for good.`);
    } catch (error) {
      toasts.error(error, 'Could not empty the trash');
    } finally {
      setConfirming(false);
      trash.reload();
    }
  };

  return (
    <Panel title="Trash" labelledBy="trash-heading">
      {trash.error ? <ErrorNotice error={trash.error} /> : null}
      <div className="flex min-h-8 flex-wrap items-center gap-3 text-sm">
        <p className="flex-1 text-zinc-300" role="status">
          {trash.data ? (count === 0 ? 'The trash is empty.' : `${images} in the trash. Until it is emptied, Undo in History brings them back.`) : '\u00a0'}
        </p>
        {confirming ? (
          <>
            <span className="text-amber-300">Delete {images} for good?</span>
            <Button small variant="danger" onClick={empty}>
              Delete for good
            </Button>
            <Button small variant="ghost" onClick={() => setConfirming(false)}>
              Keep them
            </Button>
          </>
        ) : (
          <Button variant="danger" disabled={count === 0} onClick={() => setConfirming(true)}>
            Empty trash…
          </Button>
        )}
      </div>
    </Panel>
  );
}
