import { describeError } from '../api/api-error.ts';

/** An error box; 'unavailable' (a part of the engine that has not landed) is shown calmly, not as a failure. */
export function ErrorNotice({ error, title }: { error: unknown; title?: string }) {
  const { message, hint, code } = describeError(error);
  const calm = code === 'unavailable';
  return (
    <div role="alert" className={`rounded-md px-3 py-2 text-sm ring-1 ring-inset ${calm ? 'bg-zinc-900 text-zinc-300 ring-zinc-700' : 'bg-red-950/50 text-red-100 ring-red-900'}`}>
      {title ? <p className="font-semibold">{title}</p> : null}
      <p>{message}</p>
      {hint ? <p className={calm ? 'text-zinc-400' : 'text-red-200/80'}>{hint}</p> : null}
    </div>
  );
}

export function EmptyState({ children }: { children: React.ReactNode }) {
  return <p className="rounded-md border border-dashed border-zinc-800 px-4 py-6 text-center text-sm text-zinc-400">{children}</p>;
}
