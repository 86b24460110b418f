export function ProgressBar({ value, max, label }: { value: number; max: number; label: string }) {
  const fraction = max > 0 ? Math.min(1, Math.max(0, value / max)) : 0;
  return (
    <div role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={max} aria-valuenow={value} className="h-2 w-full overflow-hidden rounded-full bg-zinc-800">
      <div className="h-full origin-left rounded-full bg-accent-500 transition-transform duration-200" style={{ transform: `scaleX(${fraction})` }} />
    </div>
  );
}
