// The running job (progress, step preview, Cancel) and, when idle, the last result.
import { useEffect, useRef, useState } from 'react';
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
  // While the job's models load, the bar counts models, not steps: a load of seconds is not a frozen step.
  const loading = progress?.phase === 'load' ? progress.models : undefined;
  // A training run finishes its current step first, then pauses until the generation queue is empty.
  const training = progress?.phase === 'waiting' ? progress.training : undefined;
  const step = progress?.step ?? 0;
  const total = progress?.total ?? job.request.steps;
  // Decoding sends no new preview: the last one stays up instead of an empty box.
  const lastPreview = useRef<{ jobId: string; src: string }>(undefined);
  if (progress?.preview) lastPreview.current = { jobId: job.id, src: progress.preview };
  const preview = progress?.preview ?? (lastPreview.current?.jobId === job.id ? lastPreview.current.src : undefined);
  const image = progress?.image && progress.image.count > 1 ? `Image ${progress.image.index} of ${progress.image.count} · ` : '';
  const perImage = progress?.image ? total / progress.image.count : total;
  const stepInImage = progress?.image ? step - (progress.image.index - 1) * perImage : step;
  return (
    <div className="flex flex-col gap-3">
      <div className="flex items-center justify-between gap-3">
        <p className="truncate text-sm text-zinc-300">{job.label}</p>
        <Button variant="danger" small onClick={onCancel} aria-keyshortcuts="Escape">
          Cancel
        </Button>
      </div>
      {training ? (
        <ProgressBar label="Training run step" value={training.step} max={Math.max(training.totalSteps, 1)} />
      ) : loading ? (
        <ProgressBar label="Loading models" value={loading.done} max={loading.total} />
      ) : (
        <ProgressBar label="Generation progress" value={step} max={total} />
      )}
      <p className="flex justify-between text-xs text-zinc-400 tabular-nums" aria-live="polite">
        <span>
          {training
            ? training.preparing
              ? `Waiting for training run '${training.name}' to pause (${training.preparing.toLowerCase()})…`
              : `Waiting for training run '${training.name}' to pause (at step ${training.step} of ${training.totalSteps})…`
            : loading
            ? `Loading ${loading.total} model${loading.total === 1 ? '' : 's'}… ${loading.done}/${loading.total}`
            : (
              <>
                {image}
                {progress?.phase === 'decode' ? 'Decoding' : progress?.phase === 'encode' || !progress ? 'Preparing' : `Step ${stepInImage} of ${perImage}`}
              </>
            )}
        </span>
        <span>
          {progress ? formatDuration(progress.elapsedMs) : ''}
          {progress?.etaMs != null ? ` · ${formatDuration(progress.etaMs)} left` : ''}
        </span>
      </p>
      <ImageBox src={preview} alt="Step preview" pixelated={false} width={job.request.width} height={job.request.height} className="mx-auto w-full max-w-[min(36rem,56vh)]" />
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
  const generations = outcome.generations ?? [];
  const batch = outcome.request?.batchCount ?? generations.length;
  if (outcome.failure?.cancelled && generations.length === 0) return <p role="status" className="py-16 text-center text-sm text-zinc-400">Generation cancelled.</p>;
  if (outcome.failure && !outcome.failure.cancelled && generations.length === 0) return <ErrorNotice error={outcome.failure.error} title="Generation failed" />;
  return (
    <div className="flex flex-col gap-3">
      {outcome.failure ? (
        <p role="status" className="text-sm text-zinc-300">
          {outcome.failure.cancelled ? 'Cancelled' : 'Stopped by an error'}: {generations.length} of {batch} saved.
        </p>
      ) : null}
      {outcome.failure && !outcome.failure.cancelled ? <ErrorNotice error={outcome.failure.error} title="Generation failed" /> : null}
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
    </div>
  );
}
