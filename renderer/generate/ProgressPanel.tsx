// The running job (progress, step preview, Cancel) and, when idle, the last result.
import { useEffect, useState } from 'react';
import type { GenerationRecord, QueuedJob } from '../../app/api/contract.ts';
import { formatDuration } from '../app/catalog.ts';
import { useStudio } from '../app/studio-context.tsx';
import { Button } from '../ui/Button.tsx';
import { ImageBox } from '../ui/ImageBox.tsx';
import { ErrorNotice } from '../ui/Notice.tsx';
import { Panel } from '../ui/Panel.tsx';
import { ProgressBar } from '../ui/ProgressBar.tsx';
import type { GenerationTracker } from './generation-tracker.ts';

export function ProgressPanel({ tracker, onCancel, onOpen }: { tracker: GenerationTracker; onCancel: (job: QueuedJob) => void; onOpen: (generationId: string) => void }) {
  const running = tracker.queue.find((job) => job.status === 'running');
  return (
    <Panel title={running ? 'Generating' : 'Result'}>
      {running ? <RunningJob job={running} tracker={tracker} onCancel={() => onCancel(running)} /> : <LastOutcome tracker={tracker} onOpen={onOpen} />}
    </Panel>
  );
}

function RunningJob({ job, tracker, onCancel }: { job: QueuedJob; tracker: GenerationTracker; onCancel: () => void }) {
  const progress = tracker.progress[job.id];
  const step = progress?.step ?? 0;
  const total = progress?.total ?? job.request.steps;
  return (
    <div className="flex flex-col gap-3">
      <div className="flex items-center justify-between gap-3">
        <p className="truncate text-sm text-zinc-300">{job.label}</p>
        <Button variant="danger" small onClick={onCancel} aria-keyshortcuts="Escape">
          Cancel
        </Button>
      </div>
      <ProgressBar label="Generation progress" value={step} max={total} />
      <p className="flex justify-between text-xs text-zinc-400 tabular-nums" aria-live="polite">
        <span>
          {progress?.phase === 'decode' ? 'Decoding' : progress?.phase === 'encode' || !progress ? 'Preparing' : `Step ${step} of ${total}`}
        </span>
        <span>
          {progress ? formatDuration(progress.elapsedMs) : ''}
          {progress?.etaMs != null ? ` · ${formatDuration(progress.etaMs)} left` : ''}
        </span>
      </p>
      <ImageBox src={progress?.preview} alt="Step preview" pixelated={false} width={job.request.width} height={job.request.height} className="mx-auto w-full max-w-[min(36rem,56vh)]" />
    </div>
  );
}

function LastOutcome({ tracker, onOpen }: { tracker: GenerationTracker; onOpen: (generationId: string) => void }) {
  const { api, host } = useStudio();
  const outcome = tracker.lastOutcome;
  const [records, setRecords] = useState<GenerationRecord[]>([]);
  useEffect(() => {
    let alive = true;
    setRecords([]);
    if (outcome?.generations?.length) {
      Promise.all(outcome.generations.map((g) => api.history.get({ id: g.id }))).then(
        (list) => alive && setRecords(list),
        () => undefined,
      );
    }
    return () => {
      alive = false;
    };
  }, [api, outcome]);

  if (!outcome) return <p className="py-16 text-center text-sm text-zinc-400">Your images appear here. Press Generate or Ctrl+Enter.</p>;
  if (outcome.failure?.cancelled) return <p role="status" className="py-16 text-center text-sm text-zinc-400">Generation cancelled.</p>;
  if (outcome.failure) return <ErrorNotice error={outcome.failure.error} title="Generation failed" />;
  const generations = outcome.generations ?? [];
  return (
    <div className={`grid gap-3 ${generations.length > 1 ? 'grid-cols-2' : 'grid-cols-1'}`}>
      {generations.map((summary, index) => {
        const record = records.find((r) => r.id === summary.id);
        return (
          <figure key={summary.id} className="flex flex-col gap-1">
            <button type="button" onClick={() => onOpen(summary.id)} aria-label={`Open result ${index + 1} in history`} className="block">
              <ImageBox src={host.imageUrl(record?.image ?? summary.thumbnail)} alt={`Result ${index + 1}: ${summary.prompt}`} width={summary.width} height={summary.height} className="mx-auto w-full max-w-[min(36rem,56vh)]" />
            </button>
            <figcaption className="text-center text-xs text-zinc-400 tabular-nums">
              seed {summary.seed} · {summary.recipeName}
            </figcaption>
          </figure>
        );
      })}
    </div>
  );
}
