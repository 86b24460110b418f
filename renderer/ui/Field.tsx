import { cloneElement, useId, type InputHTMLAttributes, type ReactElement, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from 'react';

// scroll-mt: a field focused in a scrolled column comes into view with its label and panel title above it.
export const inputClass =
  'scroll-mt-24 w-full rounded-md bg-zinc-900 px-2.5 py-1.5 text-sm text-zinc-100 ring-1 ring-inset ring-zinc-700 placeholder:text-zinc-500 focus:ring-2 focus:ring-accent-500 focus:outline-none disabled:opacity-60';

/**
 * A labelled control. The label points at the control (htmlFor) instead of wrapping it, so the control's
 * accessible name is exactly `label` (a wrapping label would add a select's chosen option to the name).
 */
export function Field({ label, hint, children, className = '' }: { label: string; hint?: ReactNode; children: ReactElement<{ id?: string; 'aria-describedby'?: string }>; className?: string }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const control = cloneElement(children, { id, ...(hint ? { 'aria-describedby': hintId } : {}) });
  return (
    <div className={`flex flex-col gap-1 ${className}`}>
      <label htmlFor={id} className="text-xs font-medium text-zinc-400">
        {label}
      </label>
      {control}
      {hint ? (
        <span id={hintId} className="text-xs text-zinc-400">
          {hint}
        </span>
      ) : null}
    </div>
  );
}

export function TextInput(props: InputHTMLAttributes<HTMLInputElement>) {
  return <input type="text" {...props} className={`${inputClass} ${props.className ?? ''}`} />;
}

export function NumberInput({ value, onValue, ...props }: Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange'> & { value: number; onValue: (value: number) => void }) {
  return (
    <input
      type="number"
      {...props}
      value={Number.isFinite(value) ? value : ''}
      onChange={(event) => onValue(event.target.valueAsNumber)}
      className={`${inputClass} ${props.className ?? ''}`}
    />
  );
}

export function TextArea(props: TextareaHTMLAttributes<HTMLTextAreaElement>) {
  return <textarea {...props} className={`${inputClass} resize-y ${props.className ?? ''}`} />;
}

export function Select(props: SelectHTMLAttributes<HTMLSelectElement>) {
  return <select {...props} className={`${inputClass} ${props.className ?? ''}`} />;
}
