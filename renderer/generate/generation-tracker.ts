// Follows the generation queue and its events for the whole app (the Generate screen may be closed
// while a job runs): the queue, the running job's latest progress, finished and failed jobs.
import { useEffect, useState } from 'react';
import type { GenerationProgress, GenerationSummary, JobFailed, QueuedJob } from '../../app/api/contract.ts';
import { useStudio } from '../app/studio-context.tsx';

export interface JobOutcome {
  readonly jobId: string;
  readonly generations?: readonly GenerationSummary[];
  readonly failure?: JobFailed;
  readonly request?: QueuedJob['request'];
}

export interface GenerationTracker {
  readonly queue: readonly QueuedJob[];
  readonly queueError: unknown;
  /** Latest progress per running job id. */
  readonly progress: Readonly<Record<string, GenerationProgress>>;
  /** The most recent outcome (finished, failed or cancelled). */
  readonly lastOutcome: JobOutcome | undefined;
}

export function useGenerationTracker(): GenerationTracker {
  const { api, host } = useStudio();
  const [queue, setQueue] = useState<readonly QueuedJob[]>([]);
  const [queueError, setQueueError] = useState<unknown>(undefined);
  const [progress, setProgress] = useState<Record<string, GenerationProgress>>({});
  const [lastOutcome, setLastOutcome] = useState<JobOutcome | undefined>(undefined);

  useEffect(() => {
    let alive = true;
    const requests = new Map<string, QueuedJob['request']>();
    const remember = (jobs: readonly QueuedJob[]) => {
      for (const job of jobs) requests.set(job.id, job.request);
      setQueue(jobs);
    };
    // Read at the start and again when a lost connection is back (jobs may have ended unheard meanwhile:
    // their progress goes with them).
    const readQueue = () =>
      api.generation.queue().then(
        (jobs) => {
          if (!alive) return;
          remember(jobs);
          setQueueError(undefined);
          const listed = new Set(jobs.map((job) => job.id));
          setProgress((all) => Object.fromEntries(Object.entries(all).filter(([jobId]) => listed.has(jobId))));
        },
        (error: unknown) => alive && setQueueError(error),
      );
    void readQueue();
    const forget = (jobId: string) =>
      setProgress((all) => {
        const { [jobId]: _gone, ...rest } = all;
        return rest;
      });
    const subscriptions = [
      api.generation.onDidChangeQueue(({ jobs }) => remember(jobs)),
      api.generation.onDidProgress((p) => setProgress((all) => ({ ...all, [p.jobId]: p }))),
      api.generation.onDidFinish(({ jobId, generations }) => {
        forget(jobId);
        setLastOutcome({ jobId, generations, request: requests.get(jobId) });
      }),
      api.generation.onDidFail((failure) => {
        forget(failure.jobId);
        // A cancelled batch keeps the images saved before the cancel: they are shown with it.
        setLastOutcome({ jobId: failure.jobId, failure, request: requests.get(failure.jobId), ...(failure.generations ? { generations: failure.generations } : {}) });
      }),
      ...(host.connection ? [host.connection.onDidReconnect(() => void readQueue())] : []),
    ];
    return () => {
      alive = false;
      for (const unsubscribe of subscriptions) unsubscribe();
    };
  }, [api, host]);

  return { queue, queueError, progress, lastOutcome };
}
