// The history list for the current filters, loaded page by page as the grid scrolls, and reloaded when
// the history changes (a new image, a delete, an undo) or the page reconnects to the server.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { GenerationSummary, HistoryQuery } from '../../app/api/contract.ts';
import { useStudio } from '../app/studio-context.tsx';
import { useOnReconnect } from '../app/use-reconnect.ts';

const pageSize = 120;

export interface HistoryPages {
  readonly items: readonly GenerationSummary[];
  readonly total: number;
  readonly loading: boolean;
  readonly error: unknown;
  /** Loads further pages until `index` is loaded. */
  need(index: number): void;
}

export function useHistoryPages(filters: Omit<HistoryQuery, 'cursor' | 'limit'>): HistoryPages {
  const { api } = useStudio();
  const [state, setState] = useState({ items: [] as GenerationSummary[], total: 0, loading: true, error: undefined as unknown });
  const cursor = useRef<string | null>(null);
  const busy = useRef(false);
  const epoch = useRef(0);
  const key = JSON.stringify(filters);

  const fetchPage = useCallback(
    async (reset: boolean) => {
      if (busy.current && !reset) return;
      const mine = reset ? ++epoch.current : epoch.current;
      busy.current = true;
      setState((s) => ({ ...s, loading: true }));
      try {
        const page = await api.history.search({ ...(JSON.parse(key) as HistoryQuery), limit: pageSize, ...(reset || !cursor.current ? {} : { cursor: cursor.current }) });
        if (mine !== epoch.current) return;
        cursor.current = page.nextCursor;
        setState((s) => ({ items: reset ? [...page.items] : [...s.items, ...page.items], total: page.total, loading: false, error: undefined }));
      } catch (error) {
        if (mine === epoch.current) setState((s) => ({ ...s, loading: false, error }));
      } finally {
        if (mine === epoch.current) busy.current = false;
      }
    },
    [api, key],
  );

  const fromStart = useCallback(() => {
    cursor.current = null;
    void fetchPage(true);
  }, [fetchPage]);
  useEffect(() => {
    fromStart();
    return api.history.onDidChange(fromStart);
  }, [api, fromStart]);
  useOnReconnect(fromStart);

  const need = useCallback(
    (index: number) => {
      if (index >= state.items.length - pageSize / 4 && cursor.current && !busy.current) void fetchPage(false);
    },
    [state.items.length, fetchPage],
  );

  return { ...state, need };
}
