// The prompt gallery next to the prompt: search saved prompts, insert one, save the current one with tags.
import { useState } from 'react';
import type { PromptEntry } from '../../app/api/contract.ts';
import { useStudio } from '../app/studio-context.tsx';
import { useLoader } from '../app/use-loader.ts';
import { Button } from '../ui/Button.tsx';
import { Field, TextInput } from '../ui/Field.tsx';
import { EmptyState, ErrorNotice } from '../ui/Notice.tsx';
import { useToasts } from '../ui/Toasts.tsx';

function parseTags(text: string): string[] {
  return [...new Set(text.split(',').map((tag) => tag.trim()).filter(Boolean))];
}

export function PromptGallery({ prompt, negativePrompt, onInsert }: { prompt: string; negativePrompt: string; onInsert: (entry: PromptEntry) => void }) {
  const { api } = useStudio();
  const toasts = useToasts();
  const [query, setQuery] = useState('');
  const [tags, setTags] = useState('');
  const entries = useLoader(() => {
    const text = query.trim();
    // '#tag' alone lists the prompts with that tag; anything else is a full-text search (tags included).
    const tag = /^#(\S+)$/.exec(text)?.[1];
    if (tag) return api.prompts.search({ tag, limit: 50 });
    return text ? api.prompts.search({ text, limit: 50 }) : api.prompts.list();
  }, [api, query]);

  const save = async () => {
    try {
      await api.prompts.save({ text: prompt, negativePrompt, tags: parseTags(tags) });
      setTags('');
      entries.reload();
      toasts.show('Prompt saved to the gallery.');
    } catch (error) {
      toasts.error(error, 'Could not save the prompt');
    }
  };

  const insert = async (entry: PromptEntry) => {
    onInsert(entry);
    api.prompts.use({ id: entry.id }).then(entries.reload, () => undefined);
  };

  const remove = async (entry: PromptEntry) => {
    try {
      await api.prompts.delete({ id: entry.id });
      entries.reload();
    } catch (error) {
      toasts.error(error, 'Could not delete the prompt');
    }
  };

  return (
    <div className="flex flex-col gap-3 rounded-md bg-zinc-950/60 p-3 ring-1 ring-zinc-800">
      <div className="flex items-end gap-2">
        <Field label="Tags for this prompt" className="flex-1">
          <TextInput value={tags} onChange={(e) => setTags(e.target.value)} placeholder="landscape, dusk" />
        </Field>
        <Button onClick={save} disabled={!prompt.trim()}>
          Save prompt
        </Button>
      </div>
      <Field label="Search prompts">
        <TextInput type="search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Words or #tag" />
      </Field>
      {entries.error ? <ErrorNotice error={entries.error} /> : null}
      {entries.data && entries.data.length === 0 ? <EmptyState>No saved prompts{query ? ' match' : ' yet'}.</EmptyState> : null}
      <ul className="flex max-h-64 flex-col gap-1 overflow-y-auto" aria-label="Saved prompts">
        {(entries.data ?? []).map((entry) => (
          <li key={entry.id} className="group flex items-start gap-2 rounded-md px-2 py-1.5 hover:bg-zinc-800/60">
            <div className="min-w-0 flex-1">
              <p className="line-clamp-2 text-sm text-zinc-200">{entry.text}</p>
              <p className="flex flex-wrap gap-x-1.5 text-xs text-zinc-400">
                {entry.tags.map((tag) => (
                  <button key={tag} type="button" className="text-accent-300 hover:underline" onClick={() => setQuery(`#${tag}`)} aria-label={`Show prompts tagged ${tag}`}>
                    #{tag}
                  </button>
                ))}
                {entry.uses > 0 ? <span>used {entry.uses}×</span> : null}
              </p>
            </div>
            <Button small onClick={() => insert(entry)} aria-label={`Insert prompt: ${entry.text.slice(0, 60)}`}>
              Insert
            </Button>
            <Button small variant="ghost" onClick={() => remove(entry)} aria-label={`Delete prompt: ${entry.text.slice(0, 60)}`}>
              ×
            </Button>
          </li>
        ))}
      </ul>
    </div>
  );
}
