// Short-lived messages at the bottom right, optionally with one action ("Undo"). Errors stay until dismissed.
import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react';
import { describeError } from '../api/api-error.ts';
import { Button } from './Button.tsx';

interface Toast {
  readonly id: number;
  readonly text: string;
  readonly detail?: string;
  readonly tone: 'info' | 'error';
  readonly action?: { readonly label: string; readonly run: () => void };
  /** How many times the same message came in a row (shown as ×N instead of a pile of copies). */
  readonly count: number;
}

interface Toasts {
  show(text: string, options?: { action?: Toast['action']; detail?: string; durationMs?: number }): void;
  error(error: unknown, context?: string): void;
}

const ToastContext = createContext<Toasts | null>(null);

export function useToasts(): Toasts {
  const toasts = useContext(ToastContext);
  if (!toasts) throw new Error('useToasts outside ToastProvider');
  return toasts;
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<Toast[]>([]);
  const next = useRef(1);
  const timers = useRef(new Map<number, ReturnType<typeof setTimeout>>());
  // The list as last set, read synchronously by add() to find a repeat.
  const current = useRef<Toast[]>([]);
  const commit = useCallback((list: Toast[]) => {
    current.current = list;
    setItems(list);
  }, []);
  const dismiss = useCallback(
    (id: number) => {
      clearTimeout(timers.current.get(id));
      timers.current.delete(id);
      commit(current.current.filter((toast) => toast.id !== id));
    },
    [commit],
  );
  const add = useCallback(
    (toast: Omit<Toast, 'id' | 'count'>, durationMs: number | null) => {
      const repeated = current.current.find((other) => other.text === toast.text && other.detail === toast.detail && other.tone === toast.tone && !other.action && !toast.action);
      let id: number;
      if (repeated) {
        // The same message again: one toast counts the repeats and stays up as long as the latest.
        id = repeated.id;
        commit(current.current.map((other) => (other.id === id ? { ...other, count: other.count + 1 } : other)));
      } else {
        id = next.current++;
        commit([...current.current.slice(-4), { ...toast, id, count: 1 }]);
      }
      clearTimeout(timers.current.get(id));
      if (durationMs !== null) timers.current.set(id, setTimeout(() => dismiss(id), durationMs));
    },
    [commit, dismiss],
  );
  const api = useMemo<Toasts>(
    () => ({
      show: (text, options = {}) => add({ text, tone: 'info', action: options.action, detail: options.detail }, options.durationMs ?? (options.action ? 10_000 : 4000)),
      error: (error, context) => {
        const { message, hint } = describeError(error);
        add({ text: context ? `${context}: ${message}` : message, detail: hint, tone: 'error' }, null);
      },
    }),
    [add],
  );
  return (
    <ToastContext.Provider value={api}>
      {children}
      <div aria-live="polite" className="pointer-events-none fixed right-4 bottom-4 z-50 flex w-96 max-w-[calc(100vw-2rem)] flex-col gap-2">
        {items.map((toast) => (
          <div
            key={toast.id}
            role={toast.tone === 'error' ? 'alert' : 'status'}
            className={`pointer-events-auto flex items-start gap-3 rounded-lg px-4 py-3 text-sm shadow-xl ring-1 ${toast.tone === 'error' ? 'bg-red-950 text-red-50 ring-red-800' : 'bg-zinc-800 text-zinc-100 ring-zinc-700'}`}
          >
            <div className="min-w-0 flex-1">
              <p>
                {toast.text}
                {toast.count > 1 ? <span className="ml-2 rounded bg-black/30 px-1.5 text-xs tabular-nums" aria-label={`${toast.count} times`}>×{toast.count}</span> : null}
              </p>
              {toast.detail ? <p className="mt-0.5 text-xs opacity-80">{toast.detail}</p> : null}
            </div>
            {toast.action ? (
              <Button
                small
                variant="primary"
                onClick={() => {
                  toast.action!.run();
                  dismiss(toast.id);
                }}
              >
                {toast.action.label}
              </Button>
            ) : null}
            <button type="button" aria-label="Dismiss" className="text-zinc-400 hover:text-zinc-100" onClick={() => dismiss(toast.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}
