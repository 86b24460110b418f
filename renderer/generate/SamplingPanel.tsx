import type { SamplerName } from '../../app/api/contract.ts';
import { Button } from '../ui/Button.tsx';
import { Field, NumberInput, Select } from '../ui/Field.tsx';
import { Panel } from '../ui/Panel.tsx';
import { samplers, type FormProblem, type GenerationForm } from './generation-form.ts';

/** SD1.x was trained at 512²: sizes near it, multiples of 64 (width × height). */
export const sizePresets: readonly { readonly label: string; readonly width: number; readonly height: number }[] = [
  { label: '512 × 512 (square)', width: 512, height: 512 },
  { label: '512 × 768 (portrait 2:3)', width: 512, height: 768 },
  { label: '768 × 512 (landscape 3:2)', width: 768, height: 512 },
  { label: '576 × 768 (portrait 3:4)', width: 576, height: 768 },
  { label: '768 × 576 (landscape 4:3)', width: 768, height: 576 },
  { label: '640 × 384 (wide)', width: 640, height: 384 },
  { label: '768 × 768 (large square)', width: 768, height: 768 },
];

export function SamplingPanel({ form, update, invalid }: { form: GenerationForm; update: (change: Partial<GenerationForm>) => void; invalid?: FormProblem }) {
  const error = (field: FormProblem['field']) => (invalid?.field === field ? invalid.message : undefined);
  const preset = sizePresets.find((p) => p.width === form.width && p.height === form.height);
  return (
    <Panel title="Sampling">
      <div className="grid grid-cols-2 gap-3">
        <Field label="Sampler">
          <Select value={form.sampler} onChange={(e) => update({ sampler: e.target.value as SamplerName })}>
            {samplers.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </Select>
        </Field>
        <Field label="Steps" error={error('steps')}>
          <NumberInput min={1} max={500} value={form.steps} onValue={(steps) => update({ steps })} />
        </Field>
        <Field label="Guidance (CFG)" error={error('guidance')}>
          <NumberInput min={0} max={50} step={0.5} value={form.guidance} onValue={(guidance) => update({ guidance })} />
        </Field>
        <Field label="Batch count" error={error('batchCount')}>
          <NumberInput min={1} max={64} value={form.batchCount} onValue={(batchCount) => update({ batchCount })} />
        </Field>
        <Field label="Size preset" className="col-span-2" hint="Any multiple of 8 works; SD 1.x models were trained at 512 × 512.">
          <Select
            value={preset ? `${preset.width}x${preset.height}` : ''}
            onChange={(e) => {
              const chosen = sizePresets.find((p) => `${p.width}x${p.height}` === e.target.value);
              if (chosen) update({ width: chosen.width, height: chosen.height });
            }}
          >
            <option value="">Custom ({Number.isFinite(form.width) ? form.width : '?'} × {Number.isFinite(form.height) ? form.height : '?'})</option>
            {sizePresets.map((p) => (
              <option key={p.label} value={`${p.width}x${p.height}`}>
                {p.label}
              </option>
            ))}
          </Select>
        </Field>
        <Field label="Width" error={error('width')}>
          <NumberInput min={64} max={2048} step={8} value={form.width} onValue={(width) => update({ width })} />
        </Field>
        <div className="flex items-end gap-2">
          <Field label="Height" className="flex-1" error={error('height')}>
            <NumberInput min={64} max={2048} step={8} value={form.height} onValue={(height) => update({ height })} />
          </Field>
          <Button small className="mb-1" title="Swap width and height" aria-label="Swap orientation" onClick={() => update({ width: form.height, height: form.width })}>
            ⇄
          </Button>
        </div>
        <div className="col-span-2 flex items-end gap-2">
          <Field label="Seed" className="flex-1" error={error('seed')}>
            <NumberInput min={0} value={form.seed} disabled={form.randomSeed} onValue={(seed) => update({ seed })} />
          </Field>
          <label className="flex items-center gap-2 pb-2 text-sm text-zinc-300">
            <input type="checkbox" className="accent-accent-500" checked={form.randomSeed} onChange={(e) => update({ randomSeed: e.target.checked })} />
            Random seed
          </label>
          {/* Words, not a dice emoji: Linux desktops without an emoji font showed an empty box. */}
          <Button
            small
            className="mb-1"
            title="Pick a new random seed and keep it"
            onClick={() => update({ seed: Math.floor(Math.random() * 2 ** 32), randomSeed: false })}
          >
            New seed
          </Button>
        </div>
      </div>
    </Panel>
  );
}
