// Generate: prompt (with the gallery), recipe, sampling settings on the left; progress, result and queue
// on the right. Ctrl/Cmd+Enter generates, Escape cancels the running job. Dropping or pasting an image
// fills the form with its settings (ImageSettingsDrop).
import { useCallback, useEffect } from 'react';
import type { DemoStatus, QueuedJob } from '../../app/api/contract.ts';
import { useAggregators, useModels, useRecipes } from '../app/catalog.ts';
import { useStudio } from '../app/studio-context.tsx';
import { Button } from '../ui/Button.tsx';
import { ErrorNotice } from '../ui/Notice.tsx';
import { ProgressBar } from '../ui/ProgressBar.tsx';
import { useToasts } from '../ui/Toasts.tsx';
import { formProblem, toRequest, type GenerationForm } from './generation-form.ts';
import type { GenerationTracker } from './generation-tracker.ts';
import { ImageSettingsDrop } from './ImageSettingsDrop.tsx';
import { ProgressPanel } from './ProgressPanel.tsx';
import { PromptPanel } from './PromptPanel.tsx';
import { QueuePanel } from './QueuePanel.tsx';
import { RecipePanel } from './RecipePanel.tsx';
import { SamplingPanel } from './SamplingPanel.tsx';

interface Props {
  form: GenerationForm;
  onForm: (form: GenerationForm) => void;
  tracker: GenerationTracker;
  /** The built-in demo's status: set up in the background on a new home. */
  demo?: DemoStatus;
  onOpenGeneration: (id: string) => void;
}

export function GenerateScreen({ form, onForm, tracker, demo, onOpenGeneration }: Props) {
  const { api } = useStudio();
  const toasts = useToasts();
  const models = useModels();
  const recipes = useRecipes();
  const aggregators = useAggregators();
  const update = (change: Partial<GenerationForm>) => onForm({ ...form, ...change });
  const problem = formProblem(form, models.data ? new Set(models.data.map((model) => model.id)) : undefined);
  // The prompt starts empty: it is named beside Generate, not painted red.
  const invalid = problem && problem.field !== 'prompt' ? problem : undefined;

  // While the prompt is written, the engine compiles the recipe and loads its models (when idle), so
  // Generate starts at the first step. Keyed by the recipe alone; a recipe that cannot run is left to Generate.
  const recipeProblem = formProblem({ ...form, prompt: 'x' }, models.data ? new Set(models.data.map((model) => model.id)) : undefined);
  const readyRecipe = models.data && !(recipeProblem && ['models', 'aggregator'].includes(recipeProblem.field)) ? JSON.stringify(toRequest(form).recipe) : undefined;
  useEffect(() => {
    if (!readyRecipe) return;
    const timer = setTimeout(() => void api.generation.prepare({ recipe: JSON.parse(readyRecipe) }).catch(() => undefined), 800);
    return () => clearTimeout(timer);
  }, [api, readyRecipe]);

  const generate = useCallback(async () => {
    if (problem) return toasts.show(problem.message);
    try {
      await api.generation.enqueue(toRequest(form));
    } catch (error) {
      toasts.error(error, 'Could not start the generation');
    }
  }, [api, form, problem, toasts]);

  const cancel = useCallback(
    (job: QueuedJob) => api.generation.cancel({ jobId: job.id }).catch((error: unknown) => toasts.error(error, 'Could not cancel')),
    [api, toasts],
  );

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void generate();
      } else if (event.key === 'Escape' && !event.defaultPrevented) {
        const running = tracker.queue.find((job) => job.status === 'running');
        if (running) void cancel(running);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [generate, cancel, tracker.queue]);

  return (
    <ImageSettingsDrop form={form} onForm={onForm}>
    <div className="grid h-full min-h-0 grid-cols-[minmax(360px,440px)_1fr] gap-4">
      <div className="flex min-h-0 flex-col gap-4 overflow-y-auto pr-1 pb-4">
        <PromptPanel form={form} update={update} />
        <RecipePanel form={form} update={update} models={models} recipes={recipes} aggregators={aggregators} invalid={invalid} />
        <SamplingPanel form={form} update={update} invalid={invalid} />
      </div>
      <div className="flex min-h-0 flex-col gap-4 overflow-y-auto pb-4">
        {demo?.state === 'installing' ? <DemoSetup demo={demo} /> : null}
        {demo?.state === 'failed' && demo.error ? (
          <section aria-label="Demo setup failed" className="flex flex-col gap-2">
            <ErrorNotice title="The demo models could not be set up" error={demo.error} />
            <Button small className="self-start" onClick={() => api.demo.retry().catch((error: unknown) => toasts.error(error, 'Could not set up the demo'))}>
              Try again
            </Button>
          </section>
        ) : null}
        {models.data && models.data.length === 0 && demo?.state !== 'installing' ? (
          <section aria-label="Start here" className="flex flex-col gap-2 rounded-lg bg-accent-600/10 p-4 ring-1 ring-accent-600/40">
            <h2 className="text-sm font-semibold">Start here: import a model</h2>
            <p className="text-sm text-zinc-300">
              The studio has no models yet. Import a Stable Diffusion 1.x checkpoint (.safetensors) on the Models screen, then come back to write a prompt.
              Two or more models make an ensemble.
            </p>
            <a href="#/models" className="self-start rounded-md bg-accent-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-accent-500">
              Go to Models
            </a>
          </section>
        ) : null}
        <div className="flex items-center gap-3">
          <Button variant="primary" className="px-6 py-2 text-base" onClick={generate} disabled={Boolean(problem)} aria-keyshortcuts="Control+Enter Meta+Enter">
            Generate
          </Button>
          <span className={`text-sm ${invalid ? 'text-red-300' : 'text-zinc-400'}`} role={invalid ? 'alert' : undefined}>
            {problem?.message ?? 'Ctrl+Enter generates · Esc cancels'}
          </span>
        </div>
        <ProgressPanel tracker={tracker} onCancel={cancel} onOpen={onOpenGeneration} />
        <QueuePanel queue={tracker.queue} error={tracker.queueError} />
      </div>
    </div>
    </ImageSettingsDrop>
  );
}

/** The first start on a new home: the demo models are being set up; the studio can be used meanwhile. */
function DemoSetup({ demo }: { demo: DemoStatus }) {
  const progress = demo.progress;
  return (
    <section aria-label="Demo setup" className="flex flex-col gap-2 rounded-lg bg-accent-600/10 p-4 ring-1 ring-accent-600/40">
      <h2 className="text-sm font-semibold">Setting up the demo models…</h2>
      <p className="text-sm text-zinc-300">
        The studio comes with a small family of models it trained itself: experts fine-tuned from one base, and the AFA aggregators that fuse them. This screen opens on
        their recipe, with a prompt that works, as soon as they are ready. Look around meanwhile.
      </p>
      <ProgressBar value={progress?.done ?? 0} max={progress?.total ?? 1} label="Demo setup" />
      <p className="text-xs text-zinc-400" aria-live="polite">
        {progress?.message ?? ''}
      </p>
    </section>
  );
}
