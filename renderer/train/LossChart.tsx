// The loss curves of a training run with uPlot (a maintained, small canvas chart library): training loss
// (raw and smoothed), validation loss, and the members' and the uniform average's validation losses as
// flat reference lines — the question being whether the ensemble is already better than its members.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { TrainingMetricPoint } from '../../app/api/contract.ts';

const MEMBER_COLOURS = ['#f59e0b', '#10b981', '#ec4899', '#06b6d4', '#a3e635', '#f97316'];

export function chartData(metrics: readonly TrainingMetricPoint[]): { data: uPlot.AlignedData; series: uPlot.Series[] } {
  const steps = [...new Set(metrics.map((m) => m.step))].sort((a, b) => a - b);
  const at = (key: string) => steps.map((step) => metrics.find((m) => m.step === step && typeof m[key] === 'number')?.[key] ?? null);
  const reference = (key: string) => {
    const value = metrics.find((m) => typeof m[key] === 'number')?.[key];
    return value === undefined ? undefined : steps.map(() => value);
  };
  const series: uPlot.Series[] = [{ label: 'step' }, { label: 'loss', stroke: '#52525b', width: 1 }, { label: 'smoothed', stroke: '#a78bfa', width: 2 }, { label: 'validation', stroke: '#38bdf8', width: 2, spanGaps: true, points: { show: true } }];
  const data: (number | null)[][] = [steps, at('loss'), at('smoothedLoss'), at('validationLoss')];
  for (let k = 1; k <= 6; k++) {
    const line = reference(`member${k}ValidationLoss`);
    if (!line) break;
    series.push({ label: `member ${k}`, stroke: MEMBER_COLOURS[k - 1], dash: [6, 4], width: 1 });
    data.push(line);
  }
  const uniform = reference('uniformValidationLoss');
  if (uniform) {
    series.push({ label: 'uniform average', stroke: '#e4e4e7', dash: [2, 4], width: 1 });
    data.push(uniform);
  }
  return { data: data as uPlot.AlignedData, series };
}

export function LossChart({ metrics }: { metrics: readonly TrainingMetricPoint[] }) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const { data, series } = chartData(metrics);
  const shape = series.map((s) => s.label).join();
  useEffect(() => {
    if (!container.current) return;
    plot.current = new uPlot({ width: Math.max(320, container.current.clientWidth), height: 260, series, axes: [{ stroke: '#a1a1aa' }, { stroke: '#a1a1aa' }], scales: { x: { time: false } } }, data, container.current);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt when the set of series changes; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape]);
  useEffect(() => {
    plot.current?.setData(data);
  });
  return <div ref={container} role="img" aria-label="Loss chart" className="w-full" />;
}
