// The studio's contribution maps: which expert dominated where, at which step, for AFA generations.
// Each step, the per-pixel expert weights of the aggregators that work at the latent's full resolution
// (SD1.x: points 0–2 and 21–24) are averaged; the map records, per pixel, the expert with the largest mean
// weight, and per expert its share of the image. To keep history rows and PNG metadata small, at most
// MAX_RECORDED_STEPS steps (evenly spaced, the last always included) are kept.
import type { JsonValue } from '../images/generation-settings.ts';
import type { Tensor } from '../tensor/tensor.ts';

export const MAX_RECORDED_STEPS = 10;

export interface ContributionStep {
  readonly step: number;
  /** Base64 of one byte per pixel (row-major, width × height): the dominant expert's index. */
  readonly dominant: string;
  /** Mean weight of each expert over the image (they sum to 1). */
  readonly shares: readonly number[];
}

export interface Contributions {
  readonly width: number;
  readonly height: number;
  readonly members: readonly { readonly modelId: string; readonly name: string }[];
  readonly steps: readonly ContributionStep[];
}

/** Which of `total` steps are recorded: evenly spaced, always including the last. */
export function recordedSteps(total: number, limit = MAX_RECORDED_STEPS): ReadonlySet<number> {
  if (total <= limit) return new Set(Array.from({ length: total }, (_, i) => i));
  const steps = new Set<number>();
  for (let i = 0; i < limit; i++) steps.add(Math.round(((i + 1) * (total - 1)) / limit));
  steps.add(total - 1);
  return steps;
}

export class ContributionRecorder {
  #steps: ContributionStep[] = [];
  #size: { width: number; height: number } | undefined;

  constructor(private readonly members: Contributions['members']) {}

  /** Starts a new image (each image of a batch gets its own maps). */
  reset(): void {
    this.#steps = [];
    this.#size = undefined;
  }

  /**
   * Adds one step from the aggregators' weight maps ([B, K, h, w]; with guidance the conditional row,
   * the last of the batch, is the one that shapes the image). Maps of other resolutions are ignored.
   */
  record(step: number, total: number, maps: readonly Tensor<'float32'>[]): void {
    if (!recordedSteps(total).has(step)) return;
    const full = maps.filter((map) => map.shape[2] === maps[0]!.shape[2] && map.shape[3] === maps[0]!.shape[3]);
    const [batch, experts, height, width] = full[0]!.shape as [number, number, number, number];
    const plane = height * width;
    const mean = new Float64Array(experts * plane);
    for (const map of full) {
      const row = map.data.subarray((batch - 1) * experts * plane, batch * experts * plane);
      for (let i = 0; i < mean.length; i++) mean[i]! += row[i]! / full.length;
    }
    const dominant = new Uint8Array(plane);
    const shares = new Array<number>(experts).fill(0);
    for (let p = 0; p < plane; p++) {
      let best = 0;
      for (let k = 0; k < experts; k++) {
        const value = mean[k * plane + p]!;
        shares[k]! += value / plane;
        if (value > mean[best * plane + p]!) best = k;
      }
      dominant[p] = best;
    }
    this.#size = { width, height };
    this.#steps.push({ step, dominant: Buffer.from(dominant).toString('base64'), shares: shares.map((s) => Math.round(s * 1e4) / 1e4) });
  }

  /** The recorded maps as the JSON string history and the PNG keep (`settings.extra.contributions`). */
  extras(): { readonly [key: string]: JsonValue } | undefined {
    if (!this.#size || this.#steps.length === 0) return undefined;
    const contributions: Contributions = { ...this.#size, members: this.members, steps: this.#steps };
    return { contributions: JSON.stringify(contributions) };
  }
}
