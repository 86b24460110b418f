// The prompt and negative prompt, each with its token count, and the prompt gallery at hand.
import { useState } from 'react';
import { Button } from '../ui/Button.tsx';
import { Field, TextArea } from '../ui/Field.tsx';
import { Panel } from '../ui/Panel.tsx';
import type { GenerationForm } from './generation-form.ts';
import { PromptGallery } from './PromptGallery.tsx';
import { TokenCounter } from './TokenCounter.tsx';

export function PromptPanel({ form, update }: { form: GenerationForm; update: (change: Partial<GenerationForm>) => void }) {
  const [galleryOpen, setGalleryOpen] = useState(false);
  return (
    <Panel
      title="Prompt"
      actions={
        <Button small variant="ghost" aria-expanded={galleryOpen} onClick={() => setGalleryOpen(!galleryOpen)}>
          {galleryOpen ? 'Hide gallery' : 'Prompt gallery'}
        </Button>
      }
    >
      <div className="flex flex-col gap-3">
        <Field label="Prompt" hint={<TokenCounter text={form.prompt} />}>
          <TextArea rows={4} value={form.prompt} onChange={(e) => update({ prompt: e.target.value })} placeholder="a lighthouse on a cliff at dusk, oil painting" />
        </Field>
        <Field label="Negative prompt" hint={<TokenCounter text={form.negativePrompt} />}>
          <TextArea rows={2} value={form.negativePrompt} onChange={(e) => update({ negativePrompt: e.target.value })} placeholder="blurry, low quality" />
        </Field>
        {galleryOpen ? (
          <PromptGallery
            prompt={form.prompt}
            negativePrompt={form.negativePrompt}
            onInsert={(entry) => update({ prompt: entry.text, ...(entry.negativePrompt ? { negativePrompt: entry.negativePrompt } : {}) })}
          />
        ) : null}
      </div>
    </Panel>
  );
}
