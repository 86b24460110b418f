// "N / 75 tokens" under a prompt. SD1.x's text encoder reads 77 tokens (start, 75 of the prompt, end) and
// the pipeline cuts the rest off, like diffusers' `truncation=True`; the counter warns before that
// happens. Counted by the services' tokenizer (prompts.countTokens), 250 ms after typing stops.
import { useEffect, useState } from 'react';
import type { TokenCount } from '../../app/api/contract.ts';
import { useDebounced } from '../app/use-debounced.ts';
import { useStudio } from '../app/studio-context.tsx';

export function useTokenCount(text: string): TokenCount | undefined {
  const { api } = useStudio();
  const settled = useDebounced(text, 250);
  const [count, setCount] = useState<TokenCount | undefined>(undefined);
  useEffect(() => {
    let current = true;
    api.prompts.countTokens({ text: settled }).then(
      (result) => current && setCount(result),
      // A count is a hint; a failed one (server restarting) just leaves the last one shown.
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [api, settled]);
  return count;
}

export function TokenCounter({ text }: { text: string }) {
  const count = useTokenCount(text);
  const over = count !== undefined && count.tokens > count.max;
  // The line is always there (a placeholder until the first count), so the form does not jump.
  return (
    <span className={`tabular-nums ${over ? 'font-medium text-amber-300' : ''}`}>
      {count ? `${count.tokens} / ${count.max} tokens` : '\u00a0'}
      {over ? ` — words after token ${count.max} are ignored` : ''}
    </span>
  );
}
