// One measured figure of `npm run bench`. Benchmarks report ratios measured side by side in one run
// (absolute times on shared 2-core machines are noisy), so most results are ratios with a target.
export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The goal in words, e.g. '≤ 1.05' or '< 30 ms'. */
  readonly target?: string;
  readonly pass?: boolean;
}

export type BenchSuite = () => Promise<BenchResult[]>;
