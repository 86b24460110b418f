// Settings: data directory, execution provider (only those available; the others say why not), precision, threads,
// step previews, and the studio trash.
import { useEffect, useState } from 'react';
import type { BackendName, Settings } from '../../app/api/contract.ts';
import { useStudio } from '../app/studio-context.tsx';
import { useLoader } from '../app/use-loader.ts';
import { Button } from '../ui/Button.tsx';
import { Field, NumberInput, Select, TextInput } from '../ui/Field.tsx';
import { ErrorNotice } from '../ui/Notice.tsx';
import { Panel } from '../ui/Panel.tsx';
import { useToasts } from '../ui/Toasts.tsx';
import { TrashPanel } from './TrashPanel.tsx';

export function SettingsScreen() {
  const { api, host } = useStudio();
  const toasts = useToasts();
  const settings = useLoader(() => api.settings.get(), [api]);
  const backends = useLoader(() => api.settings.listBackends(), [api]);
  const system = useLoader(() => api.system.info(), [api]);
  const [draft, setDraft] = useState<Settings | null>(null);
  useEffect(() => {
    if (settings.data) setDraft(settings.data);
  }, [settings.data]);

  const save = async () => {
    if (!draft || !settings.data) return;
    const change: { -readonly [K in keyof Settings]?: Settings[K] } = {};
    for (const key of Object.keys(draft) as (keyof Settings)[]) {
      if (draft[key] !== settings.data[key]) (change as Record<string, unknown>)[key] = draft[key];
    }
    try {
      const result = await api.settings.set(change);
      toasts.show(result.restartRequired ? 'Saved. The new data directory is used after a restart.' : 'Settings saved.');
      settings.reload();
    } catch (error) {
      toasts.error(error, 'Could not save the settings');
    }
  };

  const pickFolder = async () => {
    const folder = await host.pickDirectory?.();
    if (folder && draft) setDraft({ ...draft, dataDirectory: folder });
  };

  const dirty = draft && settings.data && JSON.stringify(draft) !== JSON.stringify(settings.data);
  return (
    <div className="mx-auto flex h-full max-w-3xl flex-col gap-4 overflow-y-auto pr-1 pb-4">
      {settings.error ? <ErrorNotice error={settings.error} /> : null}
      {draft ? (
        <>
          <Panel title="Data directory">
            <div className="flex items-end gap-2">
              <Field label="Data directory" className="flex-1" hint={host.kind === 'web' ? 'In web mode the data directory is set when the server starts (afa serve --home).' : 'Models, images and the library live here. Takes effect after a restart.'}>
                <TextInput value={draft.dataDirectory} readOnly={host.kind === 'web'} onChange={(e) => setDraft({ ...draft, dataDirectory: e.target.value })} />
              </Field>
              {host.pickDirectory ? <Button onClick={pickFolder}>Choose…</Button> : null}
            </div>
          </Panel>
          <Panel title="Engine">
            <div className="flex flex-col gap-4">
              <fieldset className="flex flex-col gap-2">
                <legend className="mb-1 text-xs font-medium text-zinc-400">Execution provider</legend>
                {backends.error ? <ErrorNotice error={backends.error} /> : null}
                <label className={`flex items-start gap-3 rounded-md px-3 py-2 ring-1 ring-inset ${draft.backend === 'auto' ? 'bg-accent-600/10 ring-accent-600/50' : 'ring-zinc-800'}`}>
                  <input type="radio" name="backend" className="mt-1 accent-accent-500" value="auto" checked={draft.backend === 'auto'} onChange={() => setDraft({ ...draft, backend: 'auto' })} />
                  <span className="flex flex-col">
                    <span className="text-sm font-medium">Automatic</span>
                    <span className="text-xs text-zinc-400">The fastest provider that works here, measured once on first use and remembered for this machine; falls back to the CPU if it fails</span>
                  </span>
                </label>
                {(backends.data ?? []).map((backend) => (
                  <label key={backend.backend} className={`flex items-start gap-3 rounded-md px-3 py-2 ring-1 ring-inset ${draft.backend === backend.backend ? 'bg-accent-600/10 ring-accent-600/50' : 'ring-zinc-800'} ${backend.available ? '' : 'opacity-60'}`}>
                    <input type="radio" name="backend" className="mt-1 accent-accent-500" value={backend.backend} disabled={!backend.available} checked={draft.backend === backend.backend} onChange={() => setDraft({ ...draft, backend: backend.backend as BackendName })} />
                    <span className="flex flex-col">
                      <span className="text-sm font-medium">{backend.label}</span>
                      <span className="text-xs text-zinc-400">{backend.available ? 'Available' : backend.reason}</span>
                    </span>
                  </label>
                ))}
              </fieldset>
              <Field label="Precision" hint="Half precision (fp16) is what GPUs are made for: faster, half the memory, pictures within a few levels of fp32. Automatic uses it on a GPU provider that supports it and fp32 on the CPU.">
                <Select className="!w-64" value={draft.precision} onChange={(e) => setDraft({ ...draft, precision: e.target.value as Settings['precision'] })}>
                  <option value="auto">Automatic (fp16 on a GPU)</option>
                  <option value="fp32">Full precision (fp32)</option>
                  <option value="fp16">Half precision (fp16)</option>
                </Select>
              </Field>
              <Field label="Threads" hint={`0 = automatic${system.data ? ` (this machine has ${system.data.cpuCount} logical CPUs)` : ''}.`}>
                <NumberInput className="!w-32" min={0} max={256} value={draft.threads} onValue={(threads) => setDraft({ ...draft, threads })} />
              </Field>
              <label className="flex items-center gap-2 text-sm">
                <input type="checkbox" className="accent-accent-500" checked={draft.previews} onChange={(e) => setDraft({ ...draft, previews: e.target.checked })} />
                Show step previews while generating
              </label>
            </div>
          </Panel>
          <div className="flex items-center gap-3">
            <Button variant="primary" disabled={!dirty} onClick={save}>
              Save settings
            </Button>
            {system.data ? (
              <span className="text-xs text-zinc-400">
                AFA Studio {system.data.version} · {system.data.platform} · {host.kind === 'web' ? 'web mode' : 'desktop'}
              </span>
            ) : null}
          </div>
          <TrashPanel />
        </>
      ) : null}
    </div>
  );
}
