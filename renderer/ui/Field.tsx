import { cloneElement, useId, type InputHTMLAttributes, type ReactElement, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from 'react';

// scroll-mt: a field focused in a scrolled column comes into view with its label and panel title above it.
export const inputClass =
  'scroll-mt-24 w-full rounded-md bg-zinc-900 px-2.5 py-1.5 text-sm text-zinc-100 ring-1 ring-inset ring-zinc-700 placeholder:text-zinc-500 focus:ring-2 focus:ring-accent-500 focus:outline-none disabled:opacity-60';

/**
 * A labelled control. The label points at the control (htmlFor) instead of wrapping it, so the control's
 * accessible name is exactly `label` (a wrapping label would add a select's chosen option to the name).
 */
export function Field({
  label,
  hint,
  error,
  children,
  className = '',
}: {
  label: string;
  hint?: ReactNode;
  /** What is wrong with the value, in words: the control is marked invalid and the text replaces the hint. */
  error?: string;
  children: ReactElement<{ id?: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean; className?: string }>;
  className?: string;
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const note = error ?? hint;
  const control = cloneElement(children, {
    id,
    ...(note ? { 'aria-describedby': hintId } : {}),
    ...(error ? { 'aria-invalid': true, className: `${children.props.className ?? ''} !ring-2 !ring-red-500` } : {}),
  });
  return (
    <div className={`flex flex-col gap-1 ${className}`}>
      <label htmlFor={id} className={`text-xs font-medium ${error ? 'text-red-300' : 'text-zinc-400'}`}>
        {label}
      </label>
      {control}
      {note ? (
        <span id={hintId} className={`text-xs ${error ? 'text-red-300' : 'text-zinc-400'}`}>
          {note}
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
