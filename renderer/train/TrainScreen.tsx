// Train: pick the members and a dataset — a folder, or images of the history (the favourites, the
// History screen's current search, or the images selected there) — previewed with its problems; adjust
// the settings (the official recipe's defaults); start; watch the loss and the validation against the
// members live, with the sample images of every validation; pause (cancel writes a checkpoint) and
// resume; past runs with their curves.
import { useEffect, useState } from 'react';
import type { DatasetPreview, TrainingHistorySelection, TrainingMetricPoint, TrainingRunInfo, TrainingSamples, TrainingSettingsInput } from '../../app/api/contract.ts';
import { useLoader } from '../app/use-loader.ts';
import { useStudio } from '../app/studio-context.tsx';
import { historyFocus } from '../history/history-focus.ts';
import { useToasts } from '../ui/Toasts.tsx';
import { LossChart } from './LossChart.tsx';
import { ValidationTable } from './ValidationTable.tsx';

type Schedule = NonNullable<TrainingSettingsInput['schedule']>;

interface SettingsForm {
  resolution: number;
  steps: number;
  batchSize: number;
  lr: number;
  schedule: Schedule;
  warmupSteps: number;
  maxGradNorm: number;
  seed: number;
  sampleSteps: number;
  /** One prompt per line; empty: two validation captions. */
  samplePrompts: string;
  captionFromFileName: boolean;
}

const DEFAULTS: SettingsForm = { resolution: 256, steps: 1000, batchSize: 8, lr: 1e-4, schedule: 'constant', warmupSteps: 0, maxGradNorm: 0, seed: 0, sampleSteps: 20, samplePrompts: '', captionFromFileName: false };

const SCHEDULES: readonly { value: Schedule; label: string }[] = [
  { value: 'constant', label: 'Constant' },
  { value: 'constant_with_warmup', label: 'Warm-up, then constant' },
  { value: 'linear', label: 'Warm-up, then linear decay' },
  { value: 'cosine', label: 'Warm-up, then cosine decay' },
];

type HistoryChoice = 'favourites' | 'search' | 'selected';

/** The history selection a choice stands for, or null when there is nothing to choose (no search, nothing selected). */
function historySelection(choice: HistoryChoice): TrainingHistorySelection | null {
  const focus = historyFocus();
  if (choice === 'favourites') return { favouritesOnly: true };
  if (choice === 'search') return focus.text || focus.favouritesOnly ? { ...(focus.text ? { text: focus.text } : {}), ...(focus.favouritesOnly ? { favouritesOnly: true } : {}) } : null;
  return focus.selectedIds.length > 0 ? { ids: [...focus.selectedIds] } : null;
}

export function TrainScreen() {
  const { api } = useStudio();
  const toasts = useToasts();
  const models = useLoader(() => api.models.list(), [api], (reload) => api.models.onDidChange(reload));
  const runs = useLoader(() => api.training.list(), [api], (reload) => api.training.onDidChange(reload));
  const [members, setMembers] = useState<string[]>([]);
  const [source, setSource] = useState<'folder' | 'history'>('folder');
  const [dataPath, setDataPath] = useState('');
  const [historyChoice, setHistoryChoice] = useState<HistoryChoice>(() => (historyFocus().selectedIds.length > 0 ? 'selected' : historyFocus().text ? 'search' : 'favourites'));
  const [preview, setPreview] = useState<DatasetPreview | null>(null);
  const [settings, setSettings] = useState<SettingsForm>(DEFAULTS);
  const [selected, setSelected] = useState<string | null>(null);
  const [live, setLive] = useState<Record<string, TrainingMetricPoint[]>>({});
  const [liveSamples, setLiveSamples] = useState<Record<string, TrainingSamples[]>>({});
  const [status, setStatus] = useState<string>('');
  const focus = historyFocus();
  const history = source === 'history' ? historySelection(historyChoice) : null;

  useEffect(
    () =>
      api.training.onDidProgress((event) => {
        if (event.kind === 'step') {
          setLive((all) => ({ ...all, [event.runId]: [...(all[event.runId] ?? []), { step: event.step, loss: event.loss, smoothedLoss: event.smoothedLoss, lr: event.lr }] }));
          setStatus(`Step ${event.step}/${event.totalSteps} · loss ${event.smoothedLoss.toFixed(4)} · ${event.secondsPerStep.toFixed(2)} s/step · ${Math.round(event.etaSeconds)} s left · micro-batch ${event.microBatch}`);
        } else if (event.kind === 'validation') {
          const reference = event.members ? Object.fromEntries([...event.members.map((loss, k) => [`member${k + 1}ValidationLoss`, loss]), ['uniformValidationLoss', event.uniformAverage ?? 0]]) : {};
          setLive((all) => ({ ...all, [event.runId]: [...(all[event.runId] ?? []), { step: event.step, validationLoss: event.loss, ...reference }] }));
          const samples = event.samples;
          if (samples) setLiveSamples((all) => ({ ...all, [event.runId]: [...(all[event.runId] ?? []).filter((s) => s.step !== samples.step), samples] }));
        } else if (event.kind === 'turn') {
          const generations = `${event.generations} generation${event.generations === 1 ? '' : 's'} run${event.generations === 1 ? 's' : ''}`;
          setStatus(
            event.preparing
              ? event.yielded
                ? `Paused while preparing (${event.preparing.toLowerCase()}) while ${generations}; training continues by itself`
                : `Generations done; preparing again (${event.preparing.toLowerCase()})`
              : event.yielded
              ? `Paused at step ${event.step}/${event.totalSteps} while ${event.generations} generation${event.generations === 1 ? '' : 's'} run${event.generations === 1 ? 's' : ''}; training continues by itself`
              : `Generations done; continuing at step ${event.step}/${event.totalSteps}`,
          );
        } else {
          setStatus(event.message ?? `${event.phase} ${event.done}/${event.total}`);
        }
      }),
    [api],
  );

  const run = runs.data?.find((r) => r.id === selected) ?? runs.data?.[0];
  const metrics = run ? mergeMetrics(run, live[run.id] ?? []) : [];
  const samples = run ? mergeSamples(run.samples, liveSamples[run.id] ?? []) : [];
  const memberNames = run ? run.memberModelIds.map((id) => models.data?.find((m) => m.id === id)?.name ?? id.slice(0, 8)) : [];

  async function previewData() {
    try {
      if (source === 'history') {
        if (!history) return;
        setPreview(await api.training.previewDataset({ history }));
      } else {
        setPreview(await api.training.previewDataset({ path: dataPath, missingCaptions: settings.captionFromFileName ? 'use-file-name' : 'refuse' }));
      }
    } catch (error) {
      setPreview(null);
      toasts.error(error);
    }
  }

  async function start() {
    const prompts = settings.samplePrompts.split('\n').map((line) => line.trim()).filter(Boolean);
    try {
      const started = await api.training.start({
        memberModelIds: members,
        ...(source === 'history' && history ? { history } : { dataPath }),
        settings: {
          resolution: settings.resolution,
          steps: settings.steps,
          batchSize: settings.batchSize,
          lr: settings.lr,
          schedule: settings.schedule,
          warmupSteps: settings.warmupSteps,
          maxGradNorm: settings.maxGradNorm,
          seed: settings.seed,
          sampleSteps: settings.sampleSteps,
          ...(prompts.length > 0 ? { samplePrompts: prompts } : {}),
          missingCaptions: settings.captionFromFileName ? 'use-file-name' : 'refuse',
        },
      });
      setSelected(started.id);
    } catch (error) {
      toasts.error(error);
    }
  }

  const number = (key: 'resolution' | 'steps' | 'batchSize' | 'lr' | 'warmupSteps' | 'maxGradNorm' | 'seed' | 'sampleSteps', label: string, step = 1) => (
    <label className="flex flex-col gap-1 text-xs text-zinc-400">
      {label}
      <input type="number" step={step} min={0} value={String(settings[key])} onChange={(e) => setSettings({ ...settings, [key]: Number(e.target.value) })} className="rounded bg-zinc-900 px-2 py-1 text-sm text-zinc-100" />
    </label>
  );

  const historyOption = (choice: HistoryChoice, label: string, disabled = false) => (
    <label className={`flex items-center gap-2 text-sm ${disabled ? 'text-zinc-600' : ''}`}>
      <input
        type="radio"
        name="train-history"
        checked={historyChoice === choice}
        disabled={disabled}
        onChange={() => {
          setHistoryChoice(choice);
          setPreview(null);
        }}
      />
      {label}
    </label>
  );

  const searchLabel = focus.text ? `The History search “${focus.text}”${focus.favouritesOnly ? ' (favourites)' : ''}` : focus.favouritesOnly ? 'The History search (favourites)' : 'The History search (search there first)';
  const ready = members.length >= 2 && (source === 'folder' ? dataPath !== '' : history !== null);

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
        <fieldset className="flex flex-col gap-2">
          <legend className="mb-1 text-sm font-semibold">Dataset</legend>
          <div className="flex gap-4 text-sm">
            {(['folder', 'history'] as const).map((kind) => (
              <label key={kind} className="flex items-center gap-2">
                <input
                  type="radio"
                  name="train-source"
                  checked={source === kind}
                  onChange={() => {
                    setSource(kind);
                    setPreview(null);
                  }}
                />
                {kind === 'folder' ? 'A folder' : 'From history'}
              </label>
            ))}
          </div>
          {source === 'folder' ? (
            <div className="flex flex-col gap-1">
              <label htmlFor="train-data" className="text-xs text-zinc-400">
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
          ) : (
            <div role="radiogroup" aria-label="History images" className="flex flex-col gap-1">
              {historyOption('favourites', 'The favourites')}
              {historyOption('search', searchLabel, !focus.text && !focus.favouritesOnly)}
              {historyOption('selected', `The ${focus.selectedIds.length} image(s) selected in History`, focus.selectedIds.length === 0)}
              <p className="text-xs text-zinc-500">Their prompts are the captions; the run keeps the images found when it starts.</p>
              <button type="button" onClick={previewData} disabled={!history} className="self-start rounded bg-zinc-800 px-3 py-1 text-sm disabled:opacity-40">
                Preview
              </button>
            </div>
          )}
        </fieldset>
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
          <label className="col-span-2 flex flex-col gap-1 text-xs text-zinc-400">
            Learning-rate schedule
            <select value={settings.schedule} onChange={(e) => setSettings({ ...settings, schedule: e.target.value as Schedule })} className="rounded bg-zinc-900 px-2 py-1 text-sm text-zinc-100">
              {SCHEDULES.map((schedule) => (
                <option key={schedule.value} value={schedule.value}>
                  {schedule.label}
                </option>
              ))}
            </select>
          </label>
          {number('warmupSteps', 'Warm-up steps')}
          {number('maxGradNorm', 'Clip gradient norm (0: off)', 0.1)}
          {number('seed', 'Seed')}
          {number('sampleSteps', 'Sample steps')}
          <label className="col-span-2 flex flex-col gap-1 text-xs text-zinc-400">
            Sample prompts (one per line)
            <textarea value={settings.samplePrompts} rows={2} onChange={(e) => setSettings({ ...settings, samplePrompts: e.target.value })} placeholder="Empty: two captions of the validation images" className="rounded bg-zinc-900 px-2 py-1 text-sm text-zinc-100" />
          </label>
        </fieldset>
        <button type="button" disabled={!ready} onClick={start} className="rounded bg-accent-600 px-3 py-2 text-sm font-semibold disabled:opacity-40">
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
            <p className="text-xs text-zinc-500">
              {describeDataset(run)}
              {run.microBatch !== null ? ` · micro-batch ${run.microBatch}` : ''}
            </p>
            <p aria-live="polite" className="text-xs text-zinc-400">
              {run.status === 'running' ? status : run.error ?? (run.aggregatorId ? `Aggregators ${run.aggregatorId}` : '')}
            </p>
            <LossChart metrics={metrics} />
            <ValidationTable metrics={metrics} samples={samples} memberNames={memberNames} />
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

function describeDataset(run: TrainingRunInfo): string {
  const dataset = run.dataset;
  if (dataset.kind === 'folder') return `Dataset: ${dataset.path}`;
  const what = dataset.picked ? 'images picked in History' : dataset.text ? `History search “${dataset.text}”${dataset.favouritesOnly ? ' (favourites)' : ''}` : 'favourites';
  return `Dataset: ${dataset.count} history images (${what})`;
}

/** The run's stored metrics plus the live points after them. */
function mergeMetrics(run: TrainingRunInfo, live: readonly TrainingMetricPoint[]): TrainingMetricPoint[] {
  const last = run.metrics.length > 0 ? Math.max(...run.metrics.map((m) => m.step)) : -1;
  return [...run.metrics, ...live.filter((m) => m.step > last)];
}

/** Stored samples and the ones drawn since the run list was loaded, one set per step (the newest wins). */
function mergeSamples(stored: readonly TrainingSamples[], live: readonly TrainingSamples[]): TrainingSamples[] {
  const byStep = new Map<number, TrainingSamples>();
  for (const samples of [...stored, ...live]) byStep.set(samples.step, samples);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}
