import type { ButtonHTMLAttributes } from 'react';

type Variant = 'primary' | 'secondary' | 'danger' | 'ghost';

const variants: Record<Variant, string> = {
  primary: 'bg-accent-600 text-white hover:bg-accent-500 disabled:bg-zinc-700 disabled:text-zinc-400',
  // A toggle (aria-pressed) shows its state: the contribution map overlay, the favourite star.
  secondary: 'bg-zinc-800 text-zinc-100 hover:bg-zinc-700 ring-1 ring-inset ring-zinc-700 disabled:text-zinc-500 aria-pressed:bg-accent-600/25 aria-pressed:ring-accent-500',
  danger: 'bg-red-900/60 text-red-100 hover:bg-red-800 ring-1 ring-inset ring-red-800 disabled:opacity-50',
  ghost: 'text-zinc-300 hover:bg-zinc-800 hover:text-zinc-100 disabled:text-zinc-600',
};

export function Button({ variant = 'secondary', small = false, className = '', type = 'button', ...props }: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; small?: boolean }) {
  const size = small ? 'px-2 py-1 text-xs' : 'px-3 py-1.5 text-sm';
  return (
    <button
      type={type}
      className={`inline-flex items-center justify-center gap-1.5 rounded-md font-medium transition-colors disabled:cursor-not-allowed ${size} ${variants[variant]} ${className}`}
      {...props}
    />
  );
}
