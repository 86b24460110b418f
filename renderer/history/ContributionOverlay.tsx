// AFA's contribution map over an image: per recorded step, the model whose fusion weight was largest at
// each position, as translucent colour; a slider walks through the steps, the legend gives each model's
// mean share of that step.
import { useEffect, useMemo, useRef } from 'react';
import type { ContributionMap } from '../../app/api/contract.ts';

/** Distinct, colour-blind-friendly hues (Okabe–Ito), as RGB. */
export const memberColors: readonly (readonly [number, number, number])[] = [
  [230, 159, 0],
  [86, 180, 233],
  [0, 158, 115],
  [240, 228, 66],
  [0, 114, 178],
  [204, 121, 167],
];

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function ContributionOverlay({ map, stepIndex, opacity }: { map: ContributionMap; stepIndex: number; opacity: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const step = map.steps[Math.min(stepIndex, map.steps.length - 1)];
  const dominant = useMemo(() => (step ? decodeBase64(step.dominant) : undefined), [step]);
  useEffect(() => {
    const context = canvas.current?.getContext('2d');
    if (!context || !dominant) return;
    const image = context.createImageData(map.width, map.height);
    for (let i = 0; i < map.width * map.height; i++) {
      const [r, g, b] = memberColors[(dominant[i] ?? 0) % memberColors.length]!;
      image.data.set([r, g, b, 255], i * 4);
    }
    context.putImageData(image, 0, 0);
  }, [dominant, map.width, map.height]);
  return (
    <canvas
      ref={canvas}
      width={map.width}
      height={map.height}
      aria-label={`Contribution map, step ${(step?.step ?? 0) + 1}`}
      className="pointer-events-none absolute inset-0 h-full w-full [image-rendering:pixelated]"
      style={{ opacity }}
    />
  );
}

export function ContributionLegend({ map, stepIndex }: { map: ContributionMap; stepIndex: number }) {
  const step = map.steps[Math.min(stepIndex, map.steps.length - 1)];
  return (
    <ul className="flex flex-wrap gap-x-5 gap-y-1 text-sm" aria-label="Contribution by model">
      {map.members.map((member, index) => {
        const [r, g, b] = memberColors[index % memberColors.length]!;
        return (
          <li key={member.modelId} className="flex items-center gap-1.5">
            <span className="inline-block h-3 w-3 rounded-sm" style={{ backgroundColor: `rgb(${r} ${g} ${b})` }} />
            <span className="text-zinc-300">{member.name}</span>
            <span className="text-zinc-400 tabular-nums">{step ? `${Math.round((step.shares[index] ?? 0) * 100)}%` : ''}</span>
          </li>
        );
      })}
    </ul>
  );
}
