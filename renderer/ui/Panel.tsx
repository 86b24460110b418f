import type { ReactNode } from 'react';

export function Panel({ title, actions, children, className = '', labelledBy }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string; labelledBy?: string }) {
  return (
    <section aria-labelledby={labelledBy} className={`rounded-lg bg-zinc-900/70 ring-1 ring-zinc-800 ${className}`}>
      {title || actions ? (
        <header className="flex items-center justify-between gap-2 border-b border-zinc-800 px-4 py-2.5">
          {title ? <h2 id={labelledBy} className="text-sm font-semibold text-zinc-200">{title}</h2> : <span />}
          {actions ? <div className="flex items-center gap-2">{actions}</div> : null}
        </header>
      ) : null}
      <div className="p-4">{children}</div>
    </section>
  );
}
