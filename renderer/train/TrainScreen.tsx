// Train: pick the members and a dataset folder (previewed with its problems), adjust the settings (the
// official recipe's defaults), start; watch the loss and the validation against the members live;
// pause (cancel writes a checkpoint) and resume; past runs with their curves.
import { useEffect, useState } from 'react';
import type { DatasetPreview, TrainingMetricPoint, TrainingRunInfo } from '../../app/api/contract.ts';
import { useLoader } from '../app/use-loader.ts';
import { useStudio } from '../app/studio-context.tsx';
import { useToasts } from '../ui/Toasts.tsx';
import { LossChart } from './LossChart.tsx';

interface SettingsForm {
  resolution: number;
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  captionFromFileName: boolean;
}

const DEFAULTS: SettingsForm = { resolution: 256, steps: 1000, batchSize: 8, lr: 1e-4, seed: 0, captionFromFileName: false };

export function TrainScreen() {
  const { api } = useStudio();
  const toasts = useToasts();
  const models = useLoader(() => api.models.list(), [api], (reload) => api.models.onDidChange(reload));
  const runs = useLoader(() => api.training.list(), [api], (reload) => api.training.onDidChange(reload));
  const [members, setMembers] = useState<string[]>([]);
  const [dataPath, setDataPath] = useState('');
  const [preview, setPreview] = useState<DatasetPreview | null>(null);
  const [settings, setSettings] = useState<SettingsForm>(DEFAULTS);
  const [selected, setSelected] = useState<string | null>(null);
  const [live, setLive] = useState<Record<string, TrainingMetricPoint[]>>({});
  const [status, setStatus] = useState<string>('');

  useEffect(
    () =>
      api.training.onDidProgress((event) => {
        if (event.kind === 'step') {
          setLive((all) => ({ ...all, [event.runId]: [...(all[event.runId] ?? []), { step: event.step, loss: event.loss, smoothedLoss: event.smoothedLoss, lr: event.lr }] }));
          setStatus(`Step ${event.step}/${event.totalSteps} · loss ${event.smoothedLoss.toFixed(4)} · ${event.secondsPerStep.toFixed(2)} s/step · ${Math.round(event.etaSeconds)} s left`);
        } else if (event.kind === 'validation') {
          const reference = event.members ? Object.fromEntries([...event.members.map((loss, k) => [`member${k + 1}ValidationLoss`, loss]), ['uniformValidationLoss', event.uniformAverage ?? 0]]) : {};
          setLive((all) => ({ ...all, [event.runId]: [...(all[event.runId] ?? []), { step: event.step, validationLoss: event.loss, ...reference }] }));
        } else {
          setStatus(event.message ?? `${event.phase} ${event.done}/${event.total}`);
        }
      }),
    [api],
  );

  const run = runs.data?.find((r) => r.id === selected) ?? runs.data?.[0];
  const metrics = run ? mergeMetrics(run, live[run.id] ?? []) : [];

  async function previewData() {
    try {
      setPreview(await api.training.previewDataset({ path: dataPath, missingCaptions: settings.captionFromFileName ? 'use-file-name' : 'refuse' }));
    } catch (error) {
      setPreview(null);
      toasts.error(error);
    }
  }

  async function start() {
    try {
      const started = await api.training.start({
        memberModelIds: members,
        dataPath,
        settings: { resolution: settings.resolution, steps: settings.steps, batchSize: settings.batchSize, microBatch: settings.batchSize, lr: settings.lr, seed: settings.seed, missingCaptions: settings.captionFromFileName ? 'use-file-name' : 'refuse' },
      });
      setSelected(started.id);
    } catch (error) {
      toasts.error(error);
    }
  }

  const number = (key: keyof SettingsForm, label: string, step = 1) => (
    <label className="flex flex-col gap-1 text-xs text-zinc-400">
      {label}
      <input type="number" step={step} value={String(settings[key])} onChange={(e) => setSettings({ ...settings, [key]: Number(e.target.value) })} className="rounded bg-zinc-900 px-2 py-1 text-sm text-zinc-100" />
    </label>
  );

  return (
    <div className="grid h-full grid-cols-[22rem_1fr] gap-6 overflow-auto">
      <section aria-label="New training run" className="flex flex-col gap-4">
        <fieldset className="flex flex-col gap-1">
          <legend className="mb-1 text-sm font-semibold">Members</legend>
          {(models.data ?? []).map((model) => (
            <label key={model.id} className="flex items-center gap-2 text-sm">
              <input type="checkbox" checked={members.includes(model.id)} onChange={(e) => setMembers(e.target.checked ? [...members, model.id] : members.filter((id) => id !== model.id))} />
              {model.name}
            </label>
          ))}
          {models.data?.length === 0 ? <p className="text-sm text-zinc-500">Import at least two models first.</p> : null}
        </fieldset>
        <div className="flex flex-col gap-1">
          <label htmlFor="train-data" className="text-sm font-semibold">
            Dataset folder
          </label>
          <div className="flex gap-2">
            <input id="train-data" value={dataPath} onChange={(e) => setDataPath(e.target.value)} placeholder="/path/to/images" className="min-w-0 flex-1 rounded bg-zinc-900 px-2 py-1 text-sm" />
            <button type="button" onClick={previewData} className="rounded bg-zinc-800 px-3 py-1 text-sm">
              Preview
            </button>
          </div>
          <label className="flex items-center gap-2 text-xs text-zinc-400">
            <input type="checkbox" checked={settings.captionFromFileName} onChange={(e) => setSettings({ ...settings, captionFromFileName: e.target.checked })} />
            Caption images without a .txt by their file name
          </label>
        </div>
        {preview ? (
          <div aria-label="Dataset preview" className="flex flex-col gap-2 text-sm">
            <p>
              {preview.count} images ({preview.layout})
            </p>
            <ul className="max-h-40 overflow-auto text-xs text-zinc-400">
              {preview.items.slice(0, 20).map((item) => (
                <li key={item.path}>
                  <span className="text-zinc-200">{item.name}</span> — {item.caption}
                </li>
              ))}
            </ul>
            {preview.problems.map((problem) => (
              <p key={problem.kind} role={problem.blocking ? 'alert' : 'status'} className={problem.blocking ? 'text-red-400' : 'text-amber-400'}>
                {problem.message} {problem.files.slice(0, 5).join(', ')}
              </p>
            ))}
          </div>
        ) : null}
        <fieldset className="grid grid-cols-2 gap-2">
          <legend className="mb-1 text-sm font-semibold">Settings</legend>
          {number('resolution', 'Resolution', 64)}
          {number('steps', 'Steps')}
          {number('batchSize', 'Batch')}
          {number('lr', 'Learning rate', 0.00001)}
          {number('seed', 'Seed')}
        </fieldset>
        <button type="button" disabled={members.length < 2 || !dataPath} onClick={start} className="rounded bg-accent-600 px-3 py-2 text-sm font-semibold disabled:opacity-40">
          Start training
        </button>
      </section>
      <section aria-label="Training runs" className="flex min-w-0 flex-col gap-4">
        {run ? (
          <div className="flex flex-col gap-2">
            <div className="flex items-center gap-3">
              <h2 className="text-sm font-semibold">{run.name}</h2>
              <span className="text-xs text-zinc-400">{run.status}</span>
              {run.status === 'running' || run.status === 'queued' ? (
                <button type="button" onClick={() => api.training.cancel({ id: run.id }).catch(toasts.error)} className="rounded bg-zinc-800 px-2 py-1 text-xs">
                  Pause
                </button>
              ) : null}
              {run.status === 'cancelled' || run.status === 'failed' ? (
                <button type="button" onClick={() => api.training.resume({ id: run.id }).catch(toasts.error)} className="rounded bg-zinc-800 px-2 py-1 text-xs">
                  Resume
                </button>
              ) : null}
            </div>
            <p aria-live="polite" className="text-xs text-zinc-400">
              {run.status === 'running' ? status : run.error ?? (run.aggregatorId ? `Aggregators ${run.aggregatorId}` : '')}
            </p>
            <LossChart metrics={metrics} />
          </div>
        ) : (
          <p className="text-sm text-zinc-500">No training runs yet.</p>
        )}
        <ul aria-label="Past runs" className="flex flex-col gap-1 text-sm">
          {(runs.data ?? []).map((r) => (
            <li key={r.id}>
              <button type="button" onClick={() => setSelected(r.id)} className={`text-left ${r.id === run?.id ? 'text-zinc-50' : 'text-zinc-400'}`}>
                {r.name} · {r.status}
              </button>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

/** The run's stored metrics plus the live points after them. */
function mergeMetrics(run: TrainingRunInfo, live: readonly TrainingMetricPoint[]): TrainingMetricPoint[] {
  const last = run.metrics.length > 0 ? Math.max(...run.metrics.map((m) => m.step)) : -1;
  return [...run.metrics, ...live.filter((m) => m.step > last)];
}
