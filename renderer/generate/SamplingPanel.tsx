import type { SamplerName } from '../../app/api/contract.ts';
import { Button } from '../ui/Button.tsx';
import { Field, NumberInput, Select } from '../ui/Field.tsx';
import { Panel } from '../ui/Panel.tsx';
import { samplers, type GenerationForm } from './generation-form.ts';

export function SamplingPanel({ form, update }: { form: GenerationForm; update: (change: Partial<GenerationForm>) => void }) {
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
        <Field label="Steps">
          <NumberInput min={1} max={500} value={form.steps} onValue={(steps) => update({ steps })} />
        </Field>
        <Field label="Guidance (CFG)">
          <NumberInput min={0} max={50} step={0.5} value={form.guidance} onValue={(guidance) => update({ guidance })} />
        </Field>
        <Field label="Batch count">
          <NumberInput min={1} max={64} value={form.batchCount} onValue={(batchCount) => update({ batchCount })} />
        </Field>
        <Field label="Width">
          <NumberInput min={64} max={2048} step={8} value={form.width} onValue={(width) => update({ width })} />
        </Field>
        <Field label="Height">
          <NumberInput min={64} max={2048} step={8} value={form.height} onValue={(height) => update({ height })} />
        </Field>
        <div className="col-span-2 flex items-end gap-2">
          <Field label="Seed" className="flex-1">
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
