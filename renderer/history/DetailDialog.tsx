// One generation: the image (with the contribution map for AFA), every setting, and the actions.
import { useEffect, useState } from 'react';
import type { ContributionMap, GenerationRecord } from '../../app/api/contract.ts';
import { formatDate, formatDuration } from '../app/catalog.ts';
import { useStudio } from '../app/studio-context.tsx';
import { useLoader } from '../app/use-loader.ts';
import { methodLabel, samplers } from '../generate/generation-form.ts';
import { Button } from '../ui/Button.tsx';
import { Dialog } from '../ui/Dialog.tsx';
import { Field, TextInput } from '../ui/Field.tsx';
import { ImageBox } from '../ui/ImageBox.tsx';
import { ErrorNotice } from '../ui/Notice.tsx';
import { useToasts } from '../ui/Toasts.tsx';
import { ContributionLegend, ContributionOverlay } from './ContributionOverlay.tsx';

const sourceLabels: Record<GenerationRecord['source'], string> = {
  'afa-studio': 'AFA Studio',
  automatic1111: 'AUTOMATIC1111 (settings from its image)',
  forge: 'Forge (settings from its image)',
  'sd-next': 'SD.Next (settings from its image)',
  'stability-matrix': 'Stability Matrix (settings from its image)',
  comfyui: 'ComfyUI (settings from its image)',
  invokeai: 'InvokeAI (settings from its image)',
  novelai: 'NovelAI (settings from its image)',
  fooocus: 'Fooocus (settings from its image)',
  ruinedfooocus: 'RuinedFooocus (settings from its image)',
  swarmui: 'SwarmUI (settings from its image)',
  'draw-things': 'Draw Things (settings from its image)',
  diffusionbee: 'DiffusionBee (settings from its image)',
  none: 'An image without generation settings',
};

interface Props {
  id: string;
  onClose: () => void;
  onUseSettings: (record: GenerationRecord) => void;
  onDelete: (record: GenerationRecord) => void;
  onCompare: (record: GenerationRecord) => void;
  /** The previous / next image of the history grid (absent at its ends). */
  onPrevious?: () => void;
  onNext?: () => void;
}

export function DetailDialog({ id, onClose, onUseSettings, onDelete, onCompare, onPrevious, onNext }: Props) {
  const { api } = useStudio();
  const record = useLoader(() => api.history.get({ id }), [api, id], (reload) => api.history.onDidChange((change) => change.ids.includes(id) && reload()));
  // ← and → step through the history, except while typing (tags field, sliders keep their arrows).
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT' || target.isContentEditable)) return;
      if (event.key === 'ArrowLeft' && onPrevious) {
        event.preventDefault();
        onPrevious();
      } else if (event.key === 'ArrowRight' && onNext) {
        event.preventDefault();
        onNext();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onPrevious, onNext]);
  return (
    <Dialog title="Generation" onClose={onClose} wide>
      <div className="mb-2 flex justify-end gap-2">
        <Button small variant="ghost" disabled={!onPrevious} onClick={onPrevious} aria-keyshortcuts="ArrowLeft">
          ← Previous
        </Button>
        <Button small variant="ghost" disabled={!onNext} onClick={onNext} aria-keyshortcuts="ArrowRight">
          Next →
        </Button>
      </div>
      {record.error ? <ErrorNotice error={record.error} /> : null}
      {record.data ? <Detail record={record.data} onUseSettings={onUseSettings} onDelete={onDelete} onCompare={onCompare} /> : <div className="h-96" />}
    </Dialog>
  );
}

function Detail({ record, onUseSettings, onDelete, onCompare }: { record: GenerationRecord } & Omit<Props, 'id' | 'onClose'>) {
  const { api, host } = useStudio();
  const toasts = useToasts();
  const [showMap, setShowMap] = useState(false);
  const [map, setMap] = useState<ContributionMap | null>(null);
  const [stepIndex, setStepIndex] = useState(0);
  const [opacity, setOpacity] = useState(0.55);
  const [tags, setTags] = useState(record.tags.join(', '));
  useEffect(() => setTags(record.tags.join(', ')), [record.tags]);

  useEffect(() => {
    if (!showMap || map) return;
    api.history.contributions({ id: record.id }).then(
      (loaded) => {
        setMap(loaded);
        setStepIndex(Math.max(0, (loaded?.steps.length ?? 1) - 1));
      },
      (error: unknown) => {
        setShowMap(false);
        toasts.error(error, 'No contribution map');
      },
    );
  }, [api, map, record.id, showMap, toasts]);

  const request = record.request;
  const spec = request.recipe.spec;
  const download = host.downloadUrl(record.image);
  const rows: [string, string][] = [
    ['Prompt', request.prompt],
    ['Negative prompt', request.negativePrompt || '—'],
    ['Recipe', `${record.recipeName} (${methodLabel(spec.method)})`],
    ['Models', spec.members.map((m, i) => `${record.modelNames[m.modelId] ?? m.name ?? m.modelId}${spec.weights ? ` ×${spec.weights[i]}` : ''}`).join(', ')],
    ['Sampler', samplers.find((s) => s.value === request.sampler)?.label ?? request.sampler],
    ['Steps', String(request.steps)],
    ['Guidance', String(request.guidance)],
    ['Seed', String(record.seed)],
    ['Size', `${request.width} × ${request.height}`],
    ['Time', record.durationMs > 0 ? formatDuration(record.durationMs) : '—'],
    ['Created', formatDate(record.createdAt)],
    ...(record.source !== 'afa-studio' ? ([['Imported from', sourceLabels[record.source]]] as [string, string][]) : []),
  ];

  const act = (action: Promise<unknown>, context: string) => action.catch((error: unknown) => toasts.error(error, context));
  const exportToFolder = async () => {
    const directory = host.pickDirectory ? await host.pickDirectory() : undefined;
    if (directory === null) return;
    try {
      const result = await api.history.export({ ids: [record.id], ...(directory ? { directory } : {}) });
      toasts.show(`Exported to ${result.directory}`);
    } catch (error) {
      toasts.error(error, 'Could not export');
    }
  };

  return (
    <div className="grid grid-cols-[minmax(0,1fr)_360px] gap-6">
      <div className="flex flex-col gap-3">
        <ImageBox src={record.missing ? undefined : host.imageUrl(record.image)} alt={record.prompt} width={record.width} height={record.height} className="w-full">
          {record.missing ? <MissingImage path={record.image.path} /> : null}
          {showMap && map ? <ContributionOverlay map={map} stepIndex={stepIndex} opacity={opacity} /> : null}
        </ImageBox>
        {showMap && map ? (
          <div className="grid grid-cols-[minmax(0,1fr)_10rem] gap-x-4 gap-y-2">
            <Field label={`Denoising step ${(map.steps[stepIndex]?.step ?? 0) + 1} of ${request.steps} (${stepIndex + 1} of ${map.steps.length} recorded)`}>
              <input type="range" min={0} max={map.steps.length - 1} value={stepIndex} onChange={(e) => setStepIndex(Number(e.target.value))} className="accent-accent-500" />
            </Field>
            <Field label="Overlay opacity">
              <input type="range" min={0} max={1} step={0.05} value={opacity} onChange={(e) => setOpacity(Number(e.target.value))} className="accent-accent-500" />
            </Field>
            <div className="col-span-2">
              <ContributionLegend map={map} stepIndex={stepIndex} />
            </div>
          </div>
        ) : null}
      </div>
      <div className="flex min-w-0 flex-col gap-4">
        <div className="flex flex-wrap gap-2">
          <Button variant="primary" onClick={() => onUseSettings(record)}>
            Use these settings
          </Button>
          <Button aria-pressed={record.favourite} onClick={() => act(api.history.setFavourite({ id: record.id, favourite: !record.favourite }), 'Could not change favourite')}>
            {record.favourite ? '★ Favourite' : '☆ Favourite'}
          </Button>
          {spec.method !== 'single' && !record.missing ? <Button onClick={() => onCompare(record)}>Compare</Button> : null}
          {record.hasContributions ? (
            <Button aria-pressed={showMap} onClick={() => setShowMap(!showMap)}>
              Contribution map
            </Button>
          ) : null}
          {record.missing ? null : download ? (
            <a href={download} download className="inline-flex items-center rounded-md bg-zinc-800 px-3 py-1.5 text-sm font-medium ring-1 ring-zinc-700 ring-inset hover:bg-zinc-700">
              Download
            </a>
          ) : (
            <Button onClick={exportToFolder}>Export…</Button>
          )}
          <Button variant="danger" onClick={() => onDelete(record)}>
            Delete
          </Button>
        </div>
        <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1.5 text-sm" aria-label="Settings">
          {rows.map(([label, value]) => (
            <div key={label} className="contents">
              <dt className="text-zinc-400">{label}</dt>
              <dd className="break-words text-zinc-200">{value}</dd>
            </div>
          ))}
        </dl>
        {record.imported && Object.keys(record.imported).length > 0 ? (
          <details className="text-sm">
            <summary className="cursor-pointer text-zinc-300">As {sourceLabels[record.source].replace(/ \(.*\)$/, '')} recorded it</summary>
            <dl className="mt-2 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1.5" aria-label="Original settings">
              {Object.entries(record.imported).map(([label, value]) => (
                <div key={label} className="contents">
                  <dt className="text-zinc-400">{label}</dt>
                  <dd className="break-words whitespace-pre-wrap text-zinc-200">{value.length > 600 ? `${value.slice(0, 600)}…` : value}</dd>
                </div>
              ))}
            </dl>
          </details>
        ) : null}
        <div className="flex items-end gap-2">
          <Field label="Tags" className="flex-1">
            <TextInput value={tags} onChange={(e) => setTags(e.target.value)} placeholder="comma, separated" />
          </Field>
          <Button onClick={() => act(api.history.tag({ id: record.id, tags: [...new Set(tags.split(',').map((t) => t.trim()).filter(Boolean))] }), 'Could not save tags')}>
            Save tags
          </Button>
        </div>
      </div>
    </div>
  );
}

function MissingImage({ path }: { path: string }) {
  return (
    <div className="absolute inset-0 flex flex-col items-center justify-center gap-2 bg-[repeating-linear-gradient(45deg,var(--color-zinc-900)_0_12px,var(--color-zinc-950)_12px_24px)] p-6 text-center">
      <p className="text-base font-medium text-amber-300">Image missing</p>
      <p className="max-w-sm text-sm text-zinc-300">
        The file <span className="font-mono text-xs break-all">{path}</span> was not found when the studio opened.
      </p>
      <p className="max-w-sm text-xs text-zinc-400">Put it back and restart the studio, make it again with “Use these settings”, or delete this entry.</p>
    </div>
  );
}
