// Loads data through the API and reloads it when an event says it changed, or when the page reconnects
// to the server (events may have been missed meanwhile). Keeps the previous data while reloading, so
// lists do not flash empty.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Unsubscribe } from '../../app/api/contract.ts';
import { useOnReconnect } from './use-reconnect.ts';

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  reload(): void;
}

export function useLoader<T>(load: () => Promise<T>, deps: readonly unknown[], subscribe?: (reload: () => void) => Unsubscribe | Unsubscribe[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const generation = useRef(0);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const run = useCallback(load, deps);
  // reload always loads with the latest deps: a reload kept by a callback from an earlier render (e.g.
  // after an API call that answered late) must not bring back the results of an earlier search.
  const latest = useRef(run);
  latest.current = run;
  const reload = useCallback(() => {
    const mine = ++generation.current;
    setState((previous) => ({ ...previous, loading: true }));
    latest.current().then(
      (data) => {
        if (mine === generation.current) setState({ data, error: undefined, loading: false });
      },
      (error: unknown) => {
        if (mine === generation.current) setState((previous) => ({ data: previous.data, error, loading: false }));
      },
    );
  }, []);
  useOnReconnect(reload);
  useEffect(() => {
    reload();
    if (!subscribe) return undefined;
    const subscriptions = subscribe(reload);
    return () => {
      for (const unsubscribe of Array.isArray(subscriptions) ? subscriptions : [subscriptions]) unsubscribe();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [run]);
  return { ...state, reload };
}
