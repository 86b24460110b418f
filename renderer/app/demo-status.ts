// The built-in demo's status (DemoApi): installing with progress on a new home, then ready. Once it is
// ready, the Generate form opens on the demo recipe with its prompt — once per recipe, and only when the
// person has not started on the form meanwhile.
import { useEffect, useState } from 'react';
import type { DemoStatus } from '../../app/api/contract.ts';
import { formTouched, formWithRecipe, type GenerationForm } from '../generate/generation-form.ts';
import { useOnReconnect } from './use-reconnect.ts';
import { useStudio } from './studio-context.tsx';

const OPENED_KEY = 'afa-studio.demo-opened';

export function useDemoStatus(): DemoStatus | undefined {
  const { api } = useStudio();
  const [status, setStatus] = useState<DemoStatus>();
  const [connection, setConnection] = useState(0);
  useOnReconnect(() => setConnection((n) => n + 1));
  useEffect(() => {
    let live = true;
    let heard = false;
    const off = api.demo.onDidChange((next) => {
      heard = true;
      if (live) setStatus(next);
    });
    // An event that arrived meanwhile is newer than this answer.
    api.demo.status().then(
      (first) => live && !heard && setStatus(first),
      () => undefined,
    );
    return () => {
      live = false;
      off();
    };
  }, [api, connection]);
  return status;
}

/** Opens the form on the demo recipe when the demo becomes ready (see the top of this file). */
export function useOpenDemoRecipe(status: DemoStatus | undefined, setForm: (change: (form: GenerationForm) => GenerationForm) => void): void {
  const { api } = useStudio();
  const recipeId = status?.state === 'ready' ? status.recipeId : undefined;
  useEffect(() => {
    if (!recipeId || readOpened() === recipeId) return;
    let live = true;
    api.recipes.get({ id: recipeId }).then(
      (recipe) => {
        if (!live) return;
        writeOpened(recipe.id);
        setForm((form) => (formTouched(form) ? form : formWithRecipe(form, recipe)));
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [api, recipeId, setForm]);
}

function readOpened(): string | null {
  try {
    return globalThis.localStorage?.getItem(OPENED_KEY) ?? null;
  } catch {
    return null;
  }
}

function writeOpened(recipeId: string): void {
  try {
    globalThis.localStorage?.setItem(OPENED_KEY, recipeId);
  } catch {
    // Storage disabled: the form may open on the demo again after a reload, which is harmless.
  }
}
