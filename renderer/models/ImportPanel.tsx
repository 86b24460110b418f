// Import checkpoints by file picker or drag-and-drop: each file becomes an import job with progress
// (upload first in web mode), and a failure stays on screen with the importer's message and hint.
import { useEffect, useRef, useState } from 'react';
import type { ApiErrorData, ImportAggregatorsRequest, JobProgress } from '../../app/api/contract.ts';
import { describeError } from '../api/api-error.ts';
import { formatBytes } from '../app/catalog.ts';
import { useStudio } from '../app/studio-context.tsx';
import { Button } from '../ui/Button.tsx';
import { Field, TextInput } from '../ui/Field.tsx';
import { ErrorNotice } from '../ui/Notice.tsx';
import { Panel } from '../ui/Panel.tsx';
import { ProgressBar } from '../ui/ProgressBar.tsx';
import { useToasts } from '../ui/Toasts.tsx';

interface ImportEntry {
  readonly key: number;
  readonly fileName: string;
  readonly jobId?: string;
  readonly stage: 'upload' | 'import' | 'done' | 'failed';
  readonly progress?: { done: number; total: number; message: string };
  readonly error?: ApiErrorData | { message: string; hint?: string };
}

export function ImportPanel() {
  const { api, host } = useStudio();
  const toasts = useToasts();
  const [entries, setEntries] = useState<ImportEntry[]>([]);
  const [name, setName] = useState('');
  const [configDirectory, setConfigDirectory] = useState('');
  const [dragging, setDragging] = useState(false);
  /** An official AFA folder's aggregators, offered once its experts are in. */
  const [offer, setOffer] = useState<ImportAggregatorsRequest>();
  const input = useRef<HTMLInputElement>(null);
  const nextKey = useRef(1);

  const patch = (match: (entry: ImportEntry) => boolean, change: Partial<ImportEntry>) =>
    setEntries((list) => list.map((entry) => (match(entry) ? { ...entry, ...change } : entry)));

  // Job events can arrive before the import call has answered with the job id (the WebSocket is faster
  // than the HTTP reply); they wait here until the entry knows its job. Which jobs have an entry is kept
  // in a ref, changed synchronously: a state updater runs only at the next render, after the reply may
  // already have looked for the early events (a fast failure then stayed "Starting…" forever).
  const early = useRef(new Map<string, Partial<ImportEntry>>());
  const entered = useRef(new Set<string>());
  const applyToJob = (jobId: string, change: Partial<ImportEntry>) => {
    if (!entered.current.has(jobId)) {
      early.current.set(jobId, { ...early.current.get(jobId), ...change });
      return;
    }
    setEntries((list) => list.map((entry) => (entry.jobId === jobId && entry.stage !== 'failed' && entry.stage !== 'done' ? { ...entry, ...change } : entry)));
  };

  useEffect(() => {
    const describe = (p: JobProgress) => p.message ?? (p.unit === 'bytes' ? `${p.phase} · ${formatBytes(p.done)} of ${formatBytes(p.total)}` : `${p.phase} · ${p.done} of ${p.total}`);
    const subscriptions = [
      api.models.onDidImportProgress((p) => applyToJob(p.jobId, { progress: { done: p.done, total: p.total, message: describe(p) } })),
      api.models.onDidImportFinish(({ jobId, models, aggregators }) => {
        applyToJob(jobId, { stage: 'done' });
        toasts.show(`Imported ${models.map((model) => model.name).join(', ')}.`);
        if (aggregators) setOffer(aggregators);
        setTimeout(() => setEntries((list) => list.filter((entry) => entry.jobId !== jobId)), 1500);
      }),
      api.models.onDidImportFail(({ jobId, error, cancelled }) => {
        applyToJob(jobId, cancelled ? { stage: 'done' } : { stage: 'failed', error });
        if (cancelled) setEntries((list) => list.filter((entry) => entry.jobId !== jobId));
      }),
    ];
    return () => subscriptions.forEach((unsubscribe) => unsubscribe());
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api]);

  const importFile = async (file: File) => {
    const key = nextKey.current++;
    const mine = (entry: ImportEntry) => entry.key === key;
    setEntries((list) => [...list, { key, fileName: file.name, stage: 'upload' }]);
    try {
      const source = await host.sourceForFile(file, (done, total) => patch(mine, { progress: { done, total, message: `Uploading · ${formatBytes(done)} of ${formatBytes(total)}` } }));
      const { jobId } = await api.models.import({
        source,
        ...(name.trim() ? { name: name.trim() } : {}),
        ...(configDirectory.trim() ? { configDirectory: configDirectory.trim() } : {}),
      });
      const arrived = early.current.get(jobId);
      early.current.delete(jobId);
      entered.current.add(jobId);
      patch(mine, { jobId, stage: 'import', progress: undefined, ...arrived });
      if (arrived?.stage === 'done') setTimeout(() => setEntries((list) => list.filter((entry) => entry.jobId !== jobId)), 1500);
    } catch (error) {
      patch(mine, { stage: 'failed', error: describeError(error) });
    }
  };

  const importFiles = (files: FileList | null) => {
    for (const file of Array.from(files ?? [])) void importFile(file);
    setName('');
  };

  return (
    <Panel title="Import checkpoints">
      <div className="flex flex-col gap-4">
        <div
          onDragOver={(event) => {
            event.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={(event) => {
            event.preventDefault();
            setDragging(false);
            importFiles(event.dataTransfer.files);
          }}
          className={`flex flex-col items-center justify-center gap-2 rounded-lg border-2 border-dashed px-6 py-8 text-center transition-colors ${dragging ? 'border-accent-400 bg-accent-600/10' : 'border-zinc-700 bg-zinc-950/40'}`}
        >
          <p className="text-sm text-zinc-300">Drop Stable Diffusion 1.x checkpoints here (.safetensors)</p>
          <p className="text-xs text-zinc-400">Pickle files (.ckpt) are refused: they can run code when loaded.</p>
          <Button variant="primary" onClick={() => input.current?.click()}>
            Choose checkpoint file…
          </Button>
          <input
            ref={input}
            type="file"
            aria-label="Checkpoint file"
            accept=".safetensors,.ckpt,.pt,.bin"
            multiple
            className="hidden"
            onChange={(event) => {
              importFiles(event.target.files);
              event.target.value = '';
            }}
          />
        </div>
        <div className="grid grid-cols-2 gap-3">
          <Field label="Name (optional)">
            <TextInput value={name} onChange={(e) => setName(e.target.value)} placeholder="From the file name" />
          </Field>
          <Field label="Architecture config folder (optional)" hint="For non-standard models: a folder with unet/, text_encoder/ and vae/ config.json.">
            <TextInput value={configDirectory} onChange={(e) => setConfigDirectory(e.target.value)} placeholder="/path/to/model/folder" />
          </Field>
        </div>
        {offer ? (
          <div role="region" aria-label="Aggregators in the folder" className="flex items-center justify-between gap-3 rounded-md bg-accent-600/10 p-3 text-sm ring-1 ring-accent-600/40">
            <p>
              The folder also holds trained AFA aggregators for exactly these {offer.memberModelIds.length} models, in this order.
            </p>
            <div className="flex gap-2">
              <Button
                small
                variant="primary"
                onClick={() =>
                  api.aggregators.import(offer).then(
                    (set) => {
                      setOffer(undefined);
                      toasts.show(`Imported the aggregators “${set.name}”.`);
                    },
                    (error: unknown) => toasts.error(error),
                  )
                }
              >
                Import its aggregators
              </Button>
              <Button small variant="ghost" onClick={() => setOffer(undefined)}>
                Not now
              </Button>
            </div>
          </div>
        ) : null}
        {entries.length > 0 ? (
          <ul className="flex flex-col gap-2" aria-label="Imports">
            {entries.map((entry) => (
              <li key={entry.key} className="flex flex-col gap-2 rounded-md bg-zinc-950/50 p-3 ring-1 ring-zinc-800">
                <div className="flex items-center justify-between gap-2 text-sm">
                  <span className="truncate font-medium">{entry.fileName}</span>
                  {entry.stage === 'failed' ? (
                    <Button small variant="ghost" onClick={() => setEntries((list) => list.filter((e) => e.key !== entry.key))}>
                      Dismiss
                    </Button>
                  ) : entry.stage === 'done' ? (
                    <span className="text-emerald-400">Imported</span>
                  ) : entry.jobId ? (
                    <Button small variant="ghost" onClick={() => api.models.cancelImport({ jobId: entry.jobId! }).catch((e: unknown) => toasts.error(e))}>
                      Cancel
                    </Button>
                  ) : null}
                </div>
                {entry.stage === 'failed' ? (
                  <ErrorNotice error={entry.error} title={`Could not import ${entry.fileName}`} />
                ) : (
                  <>
                    <ProgressBar label={`Import progress: ${entry.fileName}`} value={entry.progress?.done ?? 0} max={entry.progress?.total ?? 1} />
                    <p className="text-xs text-zinc-400">{entry.progress?.message ?? (entry.stage === 'upload' ? 'Preparing…' : 'Starting…')}</p>
                  </>
                )}
              </li>
            ))}
          </ul>
        ) : null}
      </div>
    </Panel>
  );
}
