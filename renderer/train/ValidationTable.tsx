// Every validation of a run as one row: the ensemble's ε-MSE on the held-out images next to each member's
// alone and the uniform feature average's (measured once per run, the same in every row), and the sample
// images drawn at that step from the run's fixed prompts and seeds — so "is the ensemble better than its
// members yet, and what does it draw now?" is answered in one place. Newest validation first.
import type { TrainingMetricPoint, TrainingSamples } from '../../app/api/contract.ts';
import { useStudio } from '../app/studio-context.tsx';

interface Row {
  readonly step: number;
  readonly loss?: number;
  readonly samples?: TrainingSamples;
}

function referenceOf(metrics: readonly TrainingMetricPoint[], key: string): number | undefined {
  return metrics.find((m) => typeof m[key] === 'number')?.[key];
}

export function ValidationTable({ metrics, samples, memberNames }: { metrics: readonly TrainingMetricPoint[]; samples: readonly TrainingSamples[]; memberNames: readonly string[] }) {
  const { host } = useStudio();
  const rows = new Map<number, Row>();
  for (const point of metrics) if (typeof point.validationLoss === 'number') rows.set(point.step, { ...rows.get(point.step), step: point.step, loss: point.validationLoss });
  for (const set of samples) rows.set(set.step, { ...rows.get(set.step), step: set.step, samples: set });
  if (rows.size === 0) return null;
  const members = memberNames.map((name, k) => ({ name, loss: referenceOf(metrics, `member${k + 1}ValidationLoss`) }));
  const uniform = referenceOf(metrics, 'uniformValidationLoss');
  const hasReference = members.some((m) => m.loss !== undefined) || uniform !== undefined;
  const best = Math.min(...members.map((m) => m.loss ?? Infinity), uniform ?? Infinity);
  const prompts = samples[0]?.images.map((image) => image.prompt) ?? [];
  const ordered = [...rows.values()].sort((a, b) => b.step - a.step);
  const format = (value: number | undefined) => (value === undefined ? '—' : value.toFixed(4));
  // Better as shown (4 decimals): new aggregators start as the uniform average, equal up to rounding.
  const beats = (loss: number | undefined) => loss !== undefined && Number(loss.toFixed(4)) < Number(best.toFixed(4));
  return (
    <table aria-label="Validation" className="w-full border-collapse text-left text-xs">
      <caption className="mb-1 text-left text-sm font-semibold">Validation ε-MSE and samples</caption>
      <thead className="text-zinc-400">
        <tr>
          <th scope="col" className="py-1 pr-3 font-medium">
            Step
          </th>
          <th scope="col" className="py-1 pr-3 font-medium">
            Ensemble
          </th>
          {hasReference
            ? members.map((member) => (
                <th key={member.name} scope="col" className="py-1 pr-3 font-medium">
                  {member.name} alone
                </th>
              ))
            : null}
          {hasReference ? (
            <th scope="col" className="py-1 pr-3 font-medium">
              Uniform average
            </th>
          ) : null}
          {prompts.map((prompt, i) => (
            <th key={i} scope="col" className="max-w-40 truncate py-1 pr-3 font-medium" title={prompt}>
              “{prompt}”
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {ordered.map((row) => (
          <tr key={row.step} className="border-t border-zinc-800 align-top">
            <th scope="row" className="py-1 pr-3 font-medium tabular-nums">
              {row.step}
            </th>
            <td className={`py-1 pr-3 tabular-nums ${beats(row.loss) ? 'text-emerald-400' : ''}`} title={beats(row.loss) ? 'Better than every member alone and the uniform average' : undefined}>
              {format(row.loss)}
            </td>
            {hasReference
              ? members.map((member) => (
                  <td key={member.name} className="py-1 pr-3 text-zinc-400 tabular-nums">
                    {format(member.loss)}
                  </td>
                ))
              : null}
            {hasReference ? <td className="py-1 pr-3 text-zinc-400 tabular-nums">{format(uniform)}</td> : null}
            {prompts.map((prompt, i) => {
              const image = row.samples?.images[i];
              return (
                <td key={i} className="py-1 pr-3">
                  {image ? <img src={host.imageUrl(image.image)} alt={`Sample at step ${row.step}: ${prompt} (seed ${image.seed})`} width={96} height={96} loading="lazy" className="h-24 w-24 rounded object-cover ring-1 ring-zinc-800" /> : null}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
