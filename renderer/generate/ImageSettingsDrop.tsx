// Dropping or pasting an image on Generate (or picking one) fills the form with the settings it carries —
// from the studio or any popular generator, PNG, JPEG or WebP — and says what did not map ("made with an
// SDXL model, which the studio cannot run"). The file goes to the services (uploaded first in web mode),
// which read it and remove the upload.
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import type { ImageSettingsReading } from '../../app/api/contract.ts';
import { describeError } from '../api/api-error.ts';
import { useStudio } from '../app/studio-context.tsx';
import { isImportableImage } from '../history/history-imports.ts';
import { Button } from '../ui/Button.tsx';
import { formWithImageSettings, type GenerationForm } from './generation-form.ts';

const FILLED_LABELS: Readonly<Record<string, string>> = {
  prompt: 'prompt',
  negativePrompt: 'negative prompt',
  seed: 'seed',
  steps: 'steps',
  guidance: 'CFG',
  sampler: 'sampler',
  width: 'size',
  recipe: 'model',
};

interface Props {
  form: GenerationForm;
  onForm: (form: GenerationForm) => void;
  children: ReactNode;
}

export function ImageSettingsDrop({ form, onForm, children }: Props) {
  const { api, host } = useStudio();
  const [reading, setReading] = useState<ImageSettingsReading | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [dragging, setDragging] = useState(false);
  const picker = useRef<HTMLInputElement>(null);
  const formRef = useRef(form);
  formRef.current = form;

  const readFile = useCallback(
    async (file: File) => {
      setFailure(null);
      setReading(null);
      if (!isImportableImage(file)) {
        setFailure(`${file.name} is not a PNG, JPEG or WebP image.`);
        return;
      }
      setBusy(true);
      try {
        const source = await host.sourceForFile(file, () => undefined);
        const result = await api.generation.readImageSettings({ source });
        if (result.tool !== 'none') onForm(formWithImageSettings(formRef.current, result.fill, result.missingModel));
        setReading(result);
      } catch (error) {
        setFailure(describeError(error).message);
      } finally {
        setBusy(false);
      }
    },
    [api, host, onForm],
  );

  // Pasting an image anywhere on the screen (not into a text field, where text is pasted as usual).
  useEffect(() => {
    const onPaste = (event: ClipboardEvent) => {
      const file = [...(event.clipboardData?.files ?? [])].find(isImportableImage);
      if (!file) return;
      event.preventDefault();
      void readFile(file);
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  }, [readFile]);

  const filled = reading ? Object.keys(reading.fill).map((key) => FILLED_LABELS[key]).filter(Boolean) : [];
  return (
    <div
      className="relative flex h-full min-h-0 flex-col"
      aria-label="Generate"
      onDragOver={(event) => {
        if (![...event.dataTransfer.types].includes('Files')) return;
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
      }}
      onDrop={(event) => {
        const file = event.dataTransfer.files[0];
        setDragging(false);
        if (!file) return;
        event.preventDefault();
        void readFile(file);
      }}
    >
      <input
        ref={picker}
        type="file"
        hidden
        aria-label="Image to take settings from"
        accept="image/png,image/jpeg,image/webp,.png,.jpg,.jpeg,.webp"
        onChange={(event) => {
          const file = event.target.files?.[0];
          event.target.value = '';
          if (file) void readFile(file);
        }}
      />
      {reading || failure || busy ? (
        <section role="status" aria-label="Settings from an image" className="mb-3 shrink-0 rounded-md bg-zinc-900 px-3 py-2 text-sm text-zinc-200 ring-1 ring-zinc-700">
          {busy ? <p>Reading the image’s settings…</p> : null}
          {failure ? <p>{failure}</p> : null}
          {reading && reading.tool !== 'none' ? (
            <p>
              Settings from {reading.fileName} ({reading.toolName}): filled in {filled.length > 0 ? filled.join(', ') : 'nothing'}.
            </p>
          ) : null}
          {reading && reading.notes.length > 0 ? (
            <ul className="mt-1 list-disc pl-5 text-zinc-400">
              {reading.notes.map((note) => (
                <li key={note}>{note}</li>
              ))}
            </ul>
          ) : null}
          {!busy ? (
            <Button small variant="ghost" className="mt-1" onClick={() => { setReading(null); setFailure(null); }}>
              Dismiss
            </Button>
          ) : null}
        </section>
      ) : null}
      <div className="min-h-0 flex-1">{children}</div>
      <div className="mt-2 text-xs text-zinc-500">
        Drop or paste an image from any generator here to use its settings, or{' '}
        <button type="button" className="underline" onClick={() => picker.current?.click()}>
          choose one
        </button>
        .
      </div>
      {dragging ? (
        <div className="pointer-events-none absolute inset-0 flex items-center justify-center rounded-lg border-2 border-dashed border-accent-500 bg-zinc-950/80 text-lg text-zinc-100">
          Drop an image to use its settings
        </div>
      ) : null}
    </div>
  );
}
