// Jobs waiting behind the running one: reorder and remove.
import type { QueuedJob } from '../../app/api/contract.ts';
import { useStudio } from '../app/studio-context.tsx';
import { Button } from '../ui/Button.tsx';
import { ErrorNotice } from '../ui/Notice.tsx';
import { Panel } from '../ui/Panel.tsx';
import { useToasts } from '../ui/Toasts.tsx';

export function QueuePanel({ queue, error }: { queue: readonly QueuedJob[]; error: unknown }) {
  const { api } = useStudio();
  const toasts = useToasts();
  const waiting = queue.filter((job) => job.status === 'queued');
  const run = (action: Promise<unknown>, context: string) => action.catch((e: unknown) => toasts.error(e, context));
  return (
    <Panel title={`Queue${waiting.length ? ` (${waiting.length})` : ''}`}>
      {error ? <ErrorNotice error={error} /> : null}
      {waiting.length === 0 ? (
        <p className="text-sm text-zinc-400">Nothing waiting. Generate again to queue more jobs.</p>
      ) : (
        <ol className="flex flex-col gap-1" aria-label="Queued jobs">
          {waiting.map((job, index) => (
            <li key={job.id} className="flex items-center gap-2 rounded-md bg-zinc-950/50 px-3 py-2 text-sm ring-1 ring-zinc-800">
              <span className="w-5 text-right text-zinc-400 tabular-nums">{index + 1}</span>
              <span className="min-w-0 flex-1 truncate">{job.label}</span>
              <Button small variant="ghost" aria-label={`Move up: ${job.label}`} disabled={index === 0} onClick={() => run(api.generation.reorder({ jobId: job.id, toIndex: index - 1 }), 'Could not reorder')}>
                ↑
              </Button>
              <Button small variant="ghost" aria-label={`Move down: ${job.label}`} disabled={index === waiting.length - 1} onClick={() => run(api.generation.reorder({ jobId: job.id, toIndex: index + 1 }), 'Could not reorder')}>
                ↓
              </Button>
              <Button small variant="ghost" aria-label={`Remove from queue: ${job.label}`} onClick={() => run(api.generation.remove({ jobId: job.id }), 'Could not remove')}>
                ×
              </Button>
            </li>
          ))}
        </ol>
      )}
    </Panel>
  );
}
