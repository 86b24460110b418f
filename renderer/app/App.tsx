// The studio's shell: the navigation rail and the five screens. The generation form and the job tracker
// live here, so a running job and a half-written prompt survive switching screens.
import { useEffect, useState } from 'react';
import type { StudioApi } from '../../app/api/contract.ts';
import type { Host } from '../api/host.ts';
import { GenerateScreen } from '../generate/GenerateScreen.tsx';
import { draftFromSpec, formFromRecord, loadSavedForm, saveForm, type GenerationForm } from '../generate/generation-form.ts';
import { useGenerationTracker, type GenerationTracker } from '../generate/generation-tracker.ts';
import { HistoryScreen } from '../history/HistoryScreen.tsx';
import { ModelsScreen } from '../models/ModelsScreen.tsx';
import { SettingsScreen } from '../settings/SettingsScreen.tsx';
import { TrainScreen } from '../train/TrainScreen.tsx';
import { ToastProvider, useToasts } from '../ui/Toasts.tsx';
import { useDemoStatus, useOpenDemoRecipe } from './demo-status.ts';
import { StudioProvider, useStudio } from './studio-context.tsx';
import { useRoute, type Screen } from './use-route.ts';

const navigation: readonly { screen: Screen; label: string; icon: string }[] = [
  { screen: 'generate', label: 'Generate', icon: '✦' },
  { screen: 'models', label: 'Models', icon: '◫' },
  { screen: 'history', label: 'History', icon: '▦' },
  { screen: 'train', label: 'Train', icon: '◭' },
  { screen: 'settings', label: 'Settings', icon: '⚙' },
];

export function App({ api, host }: { api: StudioApi; host: Host }) {
  return (
    <StudioProvider api={api} host={host}>
      <ToastProvider>
        <Studio />
      </ToastProvider>
    </StudioProvider>
  );
}

function Studio() {
  const { api } = useStudio();
  const toasts = useToasts();
  const [route, navigate] = useRoute();
  // The form survives a reload (kept in the browser's storage for this origin).
  const [form, setForm] = useState<GenerationForm>(() => loadSavedForm(globalThis.localStorage));
  useEffect(() => saveForm(globalThis.localStorage, form), [form]);
  const tracker = useGenerationTracker();
  // A new home sets up the built-in demo in the background; Generate then opens on its recipe.
  const demo = useDemoStatus();
  useOpenDemoRecipe(demo, setForm);
  // Desktop app: the engine process died and was restarted; the running job failed with it.
  useEffect(() => api.system.onDidEngineRestart(({ reason }) => toasts.error({ name: 'ApiError', code: 'engine-crashed', message: reason })), [api, toasts]);
  const title = navigation.find((n) => n.screen === route.screen)!.label;
  return (
    <div className="flex h-full">
      <nav aria-label="Main" className="flex w-52 shrink-0 flex-col gap-1 border-r border-zinc-800 bg-zinc-950 px-3 py-4">
        <p className="mb-4 px-2 text-lg font-semibold tracking-tight">
          AFA <span className="text-accent-400">Studio</span>
        </p>
        {navigation.map((item) => (
          <a
            key={item.screen}
            href={`#/${item.screen}`}
            aria-current={route.screen === item.screen ? 'page' : undefined}
            className={`flex items-center gap-3 rounded-md px-3 py-2 text-sm font-medium ${route.screen === item.screen ? 'bg-zinc-800 text-zinc-50' : 'text-zinc-400 hover:bg-zinc-900 hover:text-zinc-100'}`}
          >
            <span aria-hidden="true" className="w-4 text-center">
              {item.icon}
            </span>
            {item.label}
          </a>
        ))}
        <RunningIndicator tracker={tracker} />
      </nav>
      <main className="flex min-w-0 flex-1 flex-col">
        <ConnectionBanner />
        <header className="border-b border-zinc-800 px-6 py-3">
          <h1 className="text-base font-semibold">{title}</h1>
        </header>
        <div className="min-h-0 flex-1 p-4 px-6">
          {route.screen === 'generate' ? (
            <GenerateScreen form={form} onForm={setForm} tracker={tracker} demo={demo} onOpenGeneration={(id) => navigate({ screen: 'history', id })} />
          ) : null}
          {route.screen === 'models' ? (
            <ModelsScreen
              onUseRecipe={(recipe) => {
                setForm({ ...form, recipeId: recipe.id, draft: draftFromSpec(recipe) });
                navigate({ screen: 'generate', id: null });
              }}
            />
          ) : null}
          {route.screen === 'train' ? <TrainScreen /> : null}
          {route.screen === 'history' ? (
            <HistoryScreen
              openId={route.id}
              onOpen={(id) => navigate({ screen: 'history', id })}
              onUseSettings={(record) => {
                setForm(formFromRecord(record));
                navigate({ screen: 'generate', id: null });
              }}
            />
          ) : null}
          {route.screen === 'settings' ? <SettingsScreen /> : null}
        </div>
      </main>
    </div>
  );
}

function RunningIndicator({ tracker }: { tracker: GenerationTracker }) {
  const running = tracker.queue.find((job) => job.status === 'running');
  if (!running) return null;
  const progress = tracker.progress[running.id];
  const waiting = tracker.queue.length - 1;
  return (
    <a href="#/generate" className="mt-auto rounded-md bg-zinc-900 px-3 py-2 text-xs text-zinc-400 ring-1 ring-zinc-800 hover:text-zinc-200">
      <span className="block font-medium text-zinc-200">Generating…</span>
      {progress ? `step ${progress.step} of ${progress.total}` : 'starting'}
      {waiting > 0 ? ` · ${waiting} queued` : ''}
    </a>
  );
}

/** Web mode: the server stopped answering. The transport reconnects by itself; this says so on every screen. */
function ConnectionBanner() {
  const { host } = useStudio();
  const toasts = useToasts();
  const connection = host.connection;
  const [state, setState] = useState({ connected: connection?.connected ?? true, attempts: connection?.attempts ?? 0 });
  useEffect(() => {
    if (!connection) return undefined;
    let wasConnected = connection.connected;
    return connection.onDidChange(() => {
      if (connection.connected && !wasConnected) toasts.show('Reconnected to the studio server.');
      wasConnected = connection.connected;
      setState({ connected: connection.connected, attempts: connection.attempts });
    });
  }, [connection, toasts]);
  if (state.connected) return null;
  return (
    <div role="alert" aria-label="Server disconnected" className="border-b border-amber-800 bg-amber-950 px-6 py-2 text-sm text-amber-100">
      <strong className="font-semibold">Server disconnected.</strong> Reconnecting automatically{state.attempts > 1 ? ` (attempt ${state.attempts})` : ''}… Check that
      `afa serve` is still running; nothing you entered is lost.
    </div>
  );
}
